"""`layout: per-service`: an infrastructure stack per region and a stack per service declare,
together, the single stack's resources under the same URNs; a service stack refuses to roll
while a migration it requires or a service it runs after is missing in one of its regions."""

from __future__ import annotations

import pulumi
import pytest

from benchmarks.topology import generate
from components.stack_references import checked
from deploypaths import layout, service_guard
from deploypaths.mock_run import run_program
from deploypaths.recording import Recording
from deploypaths.stack_config import namespace_values
from deploypaths.validation import parse_settings
from ops.state_split import split_per_service
from tests.support.former_names import with_former_path_names
from tests.support.mock_stacks import PER_SERVICE, enclosing, run_service_stacks, stack_file

SERVICE_PATH = "deploypaths:index:ServicePath"
HEALTH_GATE = "deploypaths:index:HealthGate"
REGION_PATH = "deploypaths:index:RegionPath"
FEATURE_FLAGS = "deploypaths:index:FeatureFlags"


CONFIGS = {
    "local": lambda: stack_file("local"),
    "prod": lambda: stack_file("prod"),
    # Services pinned to some regions, `after` chains, expand and contract migrations, 3 waves.
    "generated": lambda: generate(5, 8, 3, 3, seed=3, kubernetes_mode="kubeconfig"),
}


def stackless(urn: str) -> str:
    """A URN without its stack: what a move between stacks keeps."""
    return urn.split("::", 1)[-1]


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def layouts(request):
    config = CONFIGS[request.param]()
    environment = "prod" if request.param == "prod" else "env"
    single = run_program(config, stack=environment)
    runs = run_service_stacks(config, environment_stack=environment)
    settings = parse_settings(namespace_values({**config, **PER_SERVICE}), stack=environment)
    return settings, single, runs


def appconfig_flags(recording: Recording) -> set[str]:
    """Resources of AppConfig flag delivery (the single stack) and of the ConfigMaps that stand
    for it in a per-service environment: the one difference between the layouts."""
    return {
        stackless(urn)
        for urn, r in recording.registrations.items()
        if enclosing(recording, r, FEATURE_FLAGS)
        or (r.type == "kubernetes:core/v1:ConfigMap" and r.name.endswith("-flags"))
    }


def test_the_stacks_together_declare_the_single_stacks_resources_under_its_urns(layouts):
    _, single, runs = layouts
    declared = {stackless(urn) for run in runs for urn in run.recording.registrations}
    flags = {f for run in runs for f in appconfig_flags(run.recording)} | appconfig_flags(single)
    assert declared - flags == {stackless(urn) for urn in single.registrations} - flags
    if not appconfig_flags(single):
        assert declared == {stackless(urn) for urn in single.registrations}


def test_each_service_path_is_in_its_service_stack_alone_with_the_single_stacks_inputs(layouts):
    settings, single, runs = layouts
    by_stack = {run.stack: run.recording for run in runs}
    # AppConfig flags reach a per-service environment's pods as a ConfigMap (their template's
    # one difference); the other services' resources are the single stack's, input for input.
    flagged = {s.name for s in settings.services if s.flags} if appconfig_flags(single) else set()
    compared = 0
    for urn, registration in single.registrations.items():
        path = enclosing(single, registration, SERVICE_PATH)
        if path is None:
            continue
        service = path.removeprefix(f"{enclosing(single, registration, REGION_PATH)}-")
        holders = [
            stack
            for stack, recording in by_stack.items()
            if any(stackless(u) == stackless(urn) for u in recording.registrations)
        ]
        assert holders == [layout.service_stack(settings.stack, service)], registration.name
        if service in flagged:
            continue
        recording = by_stack[holders[0]]
        moved = next(
            r for u, r in recording.registrations.items() if stackless(u) == stackless(urn)
        )
        assert moved.plain_inputs == registration.plain_inputs, registration.name
        assert stackless(moved.provider or "x") == stackless(registration.provider or "x")
        compared += 1
    assert compared, "no service path compared"


def test_an_infrastructure_stack_declares_no_service_path(layouts):
    settings, _, runs = layouts
    for run in runs:
        if layout.SERVICE_STACK_INFIX in run.stack:
            continue
        kinds = {r.type for r in run.recording.registrations.values()}
        assert SERVICE_PATH not in kinds, run.stack
        assert HEALTH_GATE not in kinds, run.stack
        assert set(run.exports[service_guard.INFRASTRUCTURE_OUTPUT]["migrations"]) == set(
            service_guard.migration_runs(settings, run.stack.removeprefix(f"{settings.stack}-"))
        ), run.stack


def test_a_service_stacks_gates_watch_that_service_alone(layouts):
    settings, _, runs = layouts
    for run in runs:
        if layout.SERVICE_STACK_INFIX not in run.stack:
            continue
        service = run.stack.split(layout.SERVICE_STACK_INFIX)[1]
        runs_in = next(s.regions for s in settings.services if s.name == service)
        waves = [w for w, wave in enumerate(settings.waves) if set(wave) & set(runs_in)]
        gates = {r.name for r in run.recording.registrations.values() if r.type == HEALTH_GATE}
        assert gates == {f"gate-after-wave-{w + 1}" for w in waves[:-1]}, run.stack
        for gate in gates:
            watch = run.recording.named(f"{gate}-watch").plain_inputs
            watched = {d for cluster in watch["clusters"].values() for d in cluster["deployments"]}
            assert watched and all(d.startswith(service) for d in watched), (run.stack, watched)
        assert set(run.exports[service_guard.RELEASED_OUTPUT]) == {
            r for wave in settings.waves for r in wave if r in runs_in
        }, run.stack


def local_settings():
    return parse_settings(namespace_values({**stack_file("local"), **PER_SERVICE}), stack="local")


def test_a_service_refuses_while_a_required_migration_has_not_run_in_a_region():
    settings = local_settings()
    ran = {
        region: {"migrations": service_guard.migration_runs(settings, region)}
        for region in settings.region_names
    }
    ran["eu-west-1"] = {"migrations": {}}
    released = {"auth": {r: service_guard.release_of(settings.services[0]) for r in ()}}
    found = service_guard.service_refusals(settings, "orders", ran, released)
    assert (
        "orders@eu-west-1: requires expand migration orders-add-status, which stack "
        "local-eu-west-1 has not run: deploy it first "
        "(python -m ops release --env local --infrastructure)"
    ) in found
    assert not [line for line in found if "migration" in line and "eu-west-1" not in line]


def test_a_service_refuses_while_a_service_it_runs_after_is_not_on_its_release():
    settings = local_settings()
    ran = {
        region: {"migrations": service_guard.migration_runs(settings, region)}
        for region in settings.region_names
    }
    auth = {r: next(s for s in settings.services_in(r) if s.name == "auth") for r in ran}
    released = {"auth": {r: service_guard.release_of(auth[r]) for r in ran}}
    assert service_guard.service_refusals(settings, "orders", ran, released) == []
    released["auth"]["us-east-1"] = "an-older-release"
    assert service_guard.service_refusals(settings, "orders", ran, released) == [
        "orders@us-east-1: runs after auth, whose release has not rolled out in us-east-1: stack "
        "local-svc-auth lacks it: release auth first "
        "(python -m ops release --env local --service auth)"
    ]


def test_contracts_wait_for_every_service_of_their_region():
    settings = local_settings()
    contracts = [m.name for m in settings.migrations if m.phase == "contract"]
    assert contracts, "the local stack has a contract migration"
    region = settings.region_names[0]
    everything = {
        s.name: {region: service_guard.release_of(s)} for s in settings.services_in(region)
    }
    assert service_guard.contract_refusals(settings, region, everything) == []
    behind = settings.services_in(region)[0].name
    older = {**everything, behind: {region: "an-older-release"}}
    found = service_guard.contract_refusals(settings, region, older)
    assert len(found) == 1 and f"stack local-svc-{behind} has not rolled out" in found[0]
    # A service that has released nothing in the region runs nothing there (a new environment).
    assert service_guard.contract_refusals(settings, region, {**everything, behind: {}}) == []


def test_an_update_fails_on_a_refusal_and_a_preview_warns(monkeypatch):
    # Checked on the function the guard's outputs go through: a program that fails inside an
    # apply leaves registrations in flight that would leak into the next test's mocks.
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", warnings.append)
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)
    assert checked("release of orders", ["orders@x: missing"]) is False
    assert warnings == ["orders@x: missing; `up` refuses until then"]
    assert checked("release of orders", []) is True
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: False)
    with pytest.raises(pulumi.RunError, match="release of orders refused: orders@x: missing"):
        checked("release of orders", ["orders@x: missing"])
    assert checked("release of orders", []) is True


def test_stack_names_of_a_per_service_environment():
    raw = {
        "layout": "per-service",
        "regions": [{"name": "eu-west-1"}],
        "services": [{"name": "payments"}],
    }
    assert layout.of_stack("prod-svc-payments", raw) == layout.StackLayout(
        "prod-svc-payments", "prod", service="payments"
    )
    assert layout.of_stack("prod-eu-west-1", raw) == layout.StackLayout(
        "prod-eu-west-1", "prod", "eu-west-1", infrastructure_only=True
    )
    assert layout.of_stack("prod", raw) == layout.StackLayout("prod", "prod")
    # Without `layout: per-service` a `-svc-` name is nothing special.
    assert layout.of_stack("prod-svc-payments", {**raw, "layout": "single"}).service is None


def as_state(recording: Recording, stack: str) -> dict:
    """A recording as `pulumi stack export` writes its deployment (the fields a split reads)."""
    root = f"urn:pulumi:{stack}::project::pulumi:pulumi:Stack::project-{stack}"
    resources = [{"urn": root, "type": "pulumi:pulumi:Stack", "custom": False}]
    for urn, r in recording.registrations.items():
        resources.append(
            {
                "urn": urn,
                "type": r.type,
                "custom": r.custom,
                "id": f"{r.name}-id" if r.custom else "",
                "parent": r.parent or root,
                "provider": f"{r.provider}::{stackless(r.provider).rsplit('::', 1)[-1]}-id"
                if r.provider
                else "",
                "dependencies": list(r.dependencies),
            }
        )
    return {"manifest": {}, "resources": resources}


def test_a_moved_state_gives_each_stack_exactly_what_its_program_declares(layouts):
    settings, single, runs = layouts
    moved = split_per_service(
        as_state(single, settings.stack),
        environment_stack=settings.stack,
        waves=settings.waves,
        services={s.name: s.regions for s in settings.services},
    )
    assert set(moved) == {run.stack for run in runs}
    flags = appconfig_flags(single)
    for run in runs:
        state = {stackless(r["urn"]) for r in moved[run.stack]["resources"]}
        declared = {stackless(urn) for urn in run.recording.registrations}
        # What the program declares but the split leaves out: the stack's root, and default
        # providers the mocks never register.
        state = {urn for urn in state if "pulumi:pulumi:Stack::" not in urn.split("$")[-1]}
        assert declared - appconfig_flags(run.recording) <= state | flags, run.stack
        assert state - flags <= declared, (run.stack, sorted(state - flags - declared)[:3])


def test_a_state_from_before_the_rename_splits_into_what_each_program_declares_or_aliases(
    layouts,
):
    settings, single, runs = layouts
    before = with_former_path_names(as_state(single, settings.stack))
    assert before != as_state(single, settings.stack)
    moved = split_per_service(
        before,
        environment_stack=settings.stack,
        waves=settings.waves,
        services={s.name: s.regions for s in settings.services},
    )
    flags = appconfig_flags(single)
    for run in runs:
        state = {stackless(r["urn"]) for r in moved[run.stack]["resources"]}
        state = {urn for urn in state if "pulumi:pulumi:Stack::" not in urn.split("$")[-1]}
        taken = {
            stackless(urn)
            for r in run.recording.registrations.values()
            for urn in (r.urn, *r.aliases)
        }
        assert state - flags <= taken, (run.stack, sorted(state - flags - taken)[:3])
        paths = [r for r in run.recording.registrations.values() if r.type == SERVICE_PATH]
        assert all(stackless(alias) in state for p in paths for alias in p.aliases), run.stack
