"""The ordering contract, checked on the graph the engine receives: every must-wait pair of
Deployments/Jobs is connected, and no other pair is (so everything else runs in parallel)."""

from __future__ import annotations

import random

import pytest

from tests.support.config import flat
from tests.support.ordering import assert_exact_ordering, settings_of


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_have_exactly_the_release_ordering(run_stack, stack):
    from deploypaths.mock_run import PROJECT_DIR
    from deploypaths.stack_config import load_stack_file

    recording = run_stack(stack)
    settings = settings_of(
        load_stack_file(PROJECT_DIR / f"Pulumi.{stack}.yaml", PROJECT_DIR), stack
    )
    assert_exact_ordering(recording, settings)


def generated(seed: int, regions: int, services: int, migrations: int, waves: int) -> dict:
    rng = random.Random(seed)
    region_names = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"][
        :regions
    ]
    expands = max(1, migrations - 1)
    migration_list = [
        {"name": f"m{i}", "image": f"r.example.com/migrate:{i}", "phase": "expand"}
        for i in range(expands)
    ] + [
        {"name": f"m{i}", "image": f"r.example.com/migrate:{i}", "phase": "contract"}
        for i in range(expands, migrations)
    ]
    service_list = []
    for i in range(services):
        entry = {
            "name": f"svc{i}",
            "image": f"r.example.com/svc{i}:1.0.{i}",
            "requires": rng.sample(
                [m["name"] for m in migration_list[:expands]], k=rng.randint(0, 1)
            ),
            "after": [f"svc{j}" for j in rng.sample(range(i), k=min(i, rng.randint(0, 2)))],
            "strategy": rng.choice(["rolling", "rolling", "canary", "blue-green"]),
        }
        if entry["strategy"] == "canary":
            entry["canary"] = {"image": f"r.example.com/svc{i}:2.0.0", "weight": 20}
        if entry["strategy"] == "blue-green":
            entry["blue_green"] = {
                "active": "green",
                "blue": {"image": f"r.example.com/svc{i}:1.0.0"},
                "green": {"image": f"r.example.com/svc{i}:2.0.0"},
            }
        service_list.append(entry)
    per_wave = [region_names[k::waves] for k in range(waves)]
    return {
        "regions": [{"name": r} for r in region_names],
        "waves": [w for w in per_wave if w],
        "kubernetes": {"mode": "render"},
        "database": {"mode": "none"},
        "monitoring": {"mode": "none"},
        "migrations": migration_list,
        "services": service_list,
    }


@pytest.mark.parametrize(
    "seed,regions,services,migrations,waves",
    [(1, 2, 6, 3, 2), (2, 3, 10, 4, 3), (3, 5, 8, 2, 2), (4, 1, 12, 5, 1)],
)
def test_generated_topologies_have_exactly_the_release_ordering(
    run_stack, seed, regions, services, migrations, waves
):
    raw = generated(seed, regions, services, migrations, waves)
    recording = run_stack(raw, stack="gen")
    assert_exact_ordering(recording, settings_of(flat(raw), "gen"))


def test_every_aws_resource_of_a_region_uses_that_regions_provider(run_stack):
    recording = run_stack("prod")
    checked = 0
    for registration in recording.registrations.values():
        if not registration.type.startswith(("aws:", "kubernetes:")) or not registration.custom:
            continue
        region = next(
            r for r in ("us-east-1", "eu-west-1", "ap-southeast-2") if r in registration.urn
        )
        kind = "aws" if registration.type.startswith("aws:") else "k8s"
        assert registration.provider.endswith(f"::{region}-{kind}"), (
            f"{registration.name} uses provider {registration.provider!r}"
        )
        checked += 1
    assert checked > 100


def test_next_wave_waits_for_the_gate_through_its_providers(run_stack):
    recording = run_stack("prod")
    gate = recording.named("gate-after-wave-1-watch")
    for region in ("eu-west-1", "ap-southeast-2"):
        for kind in ("aws", "k8s"):
            provider = recording.named(f"{region}-{kind}")
            assert gate.urn in provider.dependencies, f"{provider.name} does not wait for the gate"
    first = recording.named("us-east-1-aws")
    assert gate.urn not in first.dependencies
    done = {
        recording.named(name).urn
        for name in ("us-east-1-services-ready", "us-east-1-orders-drop-legacy-job")
    }
    assert done <= set(gate.dependencies), "the gate must wait for the first wave to finish"
