"""Region stacks (`<env>-<region>`): each declares exactly its region's part of the single stack's
graph, plus the gate in front of its wave, which reads the previous wave through StackReferences."""

from __future__ import annotations

import pulumi
import pytest

from benchmarks.topology import generate
from components.stack_references import trusted_watch
from deploypaths import layout
from deploypaths.mock_run import run_program
from deploypaths.naming import gate_name, wave_release
from deploypaths.recording import Registration
from deploypaths.stack_config import namespace_values
from deploypaths.validation import parse_settings
from tests.support.mock_stacks import enclosing, run_region_stacks, stack_file

HEALTH_GATE = "deploypaths:index:HealthGate"
REGION_PATH = "deploypaths:index:RegionPath"
REFERENCE_URN = "urn:pulumi:stack::project::pulumi:pulumi:Stack$pulumi:pulumi:StackReference::{}"


CONFIGS = {
    "local": lambda: stack_file("local"),
    "prod": lambda: stack_file("prod"),
    # Cloud mode with services pinned to some regions, flags and three waves.
    "generated": lambda: generate(
        5,
        8,
        3,
        3,
        seed=3,
        kubernetes_mode="eks",
        database_mode="aurora",
        monitoring_mode="cloudwatch",
    ),  # fmt: skip
}


def shape(registration: Registration) -> dict:
    # Every stack's root resource is named after the stack: a top-level parent is "the root".
    root = registration.parent.split("::")[-2] == "pulumi:pulumi:Stack"
    return {
        "type": registration.type,
        "parent": "<root stack>" if root else registration.parent,
        "dependencies": sorted(registration.dependencies),
        "provider": registration.provider,
        "inputs": registration.plain_inputs,
        "protect": registration.protect,
        "retain_on_delete": registration.retain_on_delete,
        "custom_timeouts": registration.custom_timeouts,
    }


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def layouts(request):
    config = CONFIGS[request.param]()
    environment = "prod" if request.param == "prod" else "env"
    single = run_program(config, stack=environment)
    runs = run_region_stacks(config, environment_stack=environment)
    settings = parse_settings(namespace_values(config), stack=environment)
    return settings, single, runs


def test_each_region_stack_is_exactly_its_region_of_the_single_stack(layouts):
    settings, single, runs = layouts
    assert [run.stack for run in runs] == [
        stack for wave in layout.region_stacks(settings.stack, settings.waves) for stack in wave
    ]
    for run in runs:
        region = run.stack.removeprefix(f"{settings.stack}-")
        expected = {
            urn: shape(r)
            for urn, r in single.registrations.items()
            if enclosing(single, r, REGION_PATH) == region
        }
        got = {
            urn: shape(r)
            for urn, r in run.recording.registrations.items()
            if enclosing(run.recording, r, HEALTH_GATE) is None
        }
        assert expected, f"{run.stack}: the single stack has no resources in {region}"
        assert set(got) == set(expected), (
            f"{run.stack}: missing {sorted(set(expected) - set(got))[:5]}, "
            f"extra {sorted(set(got) - set(expected))[:5]}"
        )
        for urn, registration in expected.items():
            assert got[urn] == registration, f"{run.stack}: {urn} differs from the single stack"


def test_the_gate_in_front_of_a_wave_reads_the_previous_wave_through_references(layouts):
    settings, single, runs = layouts
    for run in runs:
        gates = {r.name for r in run.recording.registrations.values() if r.type == HEALTH_GATE}
        previous = settings.waves[run.wave - 1] if run.wave else ()
        expected_refs = [layout.region_stack(settings.stack, region) for region in previous]
        assert sorted(run.references) == sorted(expected_refs), run.stack
        if run.wave == 0:
            assert gates == set(), f"{run.stack}: the first wave has no gate in front of it"
            continue
        assert gates == {gate_name(run.wave)}, run.stack
        watch = run.recording.named(f"{gate_name(run.wave)}-watch")
        single_watch = single.named(f"{gate_name(run.wave)}-watch")
        # Same name and parent, same release, alarms, clusters and deployments as the single
        # stack's gate; it waits for the references instead of the previous wave's resources.
        assert watch.urn == single_watch.urn
        assert watch.plain_inputs == single_watch.plain_inputs, run.stack
        assert sorted(watch.dependencies) == sorted(
            REFERENCE_URN.format(stack) for stack in expected_refs
        ), run.stack
        gate = run.recording.named(gate_name(run.wave))
        assert shape(gate) == shape(single.named(gate_name(run.wave))), run.stack


def test_region_stacks_together_hold_the_single_stack(layouts):
    _, single, runs = layouts
    declared = {urn for run in runs for urn in run.recording.registrations}
    assert declared == set(single.registrations)


def test_a_region_stack_exports_what_the_next_gate_reads_its_kubeconfig_secret(layouts):
    settings, _, runs = layouts
    for run in runs:
        watch = run.exports[layout.GATE_OUTPUT]
        assert watch["release"] == wave_release(settings, run.wave), run.stack
        assert set(watch) == {"release", "alarms", "notify"}, run.stack
        if settings.kubernetes.mode == "render":
            assert layout.KUBECONFIG_OUTPUT not in run.exports
        else:
            assert run.secret_exports == (layout.KUBECONFIG_OUTPUT,), run.stack


def test_an_update_refuses_to_gate_on_a_wave_that_did_not_ship_the_release(monkeypatch):
    # Checked on the function the reference's outputs go through: a program that fails inside
    # an apply leaves registrations in flight that would leak into the next test's mocks.
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: False)
    shipped = {"release": "10d714a1", "alarms": ["a"]}
    assert trusted_watch("local-us-east-1", shipped, "10d714a1") == shipped
    with pytest.raises(pulumi.RunError) as raised:
        trusted_watch("local-us-east-1", None, "10d714a1")
    assert str(raised.value) == (
        "health gate: stack local-us-east-1 has no `gate_watch` output: deploy it first"
    )
    with pytest.raises(pulumi.RunError) as raised:
        trusted_watch("local-us-east-1", {**shipped, "release": "0ld"}, "10d714a1")
    assert str(raised.value) == (
        "health gate: stack local-us-east-1 last deployed release '0ld' of its wave, not "
        "'10d714a1': deploy it (its whole wave) before the next wave"
    )


def test_a_preview_only_warns_and_shows_the_last_shipped_names(monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)
    monkeypatch.setattr(pulumi.log, "warn", warnings.append)
    old = {"release": "0ld", "alarms": ["a"]}
    assert trusted_watch("local-us-east-1", old, "10d714a1") == {"alarms": ["a"]}
    assert trusted_watch("local-us-east-1", None, "10d714a1") == {"alarms": []}
    assert warnings[-1] == (
        "health gate: stack local-us-east-1 has no `gate_watch` output: deploy it first; "
        "`up` refuses until it has"
    )


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("prod", layout.StackLayout("prod", "prod")),
        ("prod-eu-west-1", layout.StackLayout("prod-eu-west-1", "prod", "eu-west-1")),
        ("my-env-us-east-1", layout.StackLayout("my-env-us-east-1", "my-env", "us-east-1")),
        # Not one of the config's regions, or nothing before it: a whole environment.
        ("prod-us-west-2", layout.StackLayout("prod-us-west-2", "prod-us-west-2")),
        ("-eu-west-1", layout.StackLayout("-eu-west-1", "-eu-west-1")),
    ],
)
def test_a_stack_name_is_a_region_stack_only_for_one_of_the_configs_regions(stack, expected):
    raw = {"regions": [{"name": "us-east-1"}, {"name": "eu-west-1"}, "malformed"]}
    assert layout.of_stack(stack, raw) == expected


def test_a_region_stack_declares_its_region_and_the_gate_in_front_of_its_wave():
    waves = (("us-east-1",), ("eu-west-1", "ap-southeast-2"), ("us-west-2",))
    single = layout.StackLayout("prod", "prod")
    assert single.declared_regions(waves) == (
        "us-east-1",
        "eu-west-1",
        "ap-southeast-2",
        "us-west-2",
    )
    assert single.gated_waves(waves) == (0, 1)
    assert single.referenced_regions(waves) == ()
    first = layout.StackLayout("prod-us-east-1", "prod", "us-east-1")
    assert (first.declared_regions(waves), first.gated_waves(waves)) == (("us-east-1",), ())
    last = layout.StackLayout("prod-us-west-2", "prod", "us-west-2")
    assert last.gated_waves(waves) == (1,)
    assert last.referenced_regions(waves) == ("eu-west-1", "ap-southeast-2")
    assert last.reference("eu-west-1") == "prod-eu-west-1"
