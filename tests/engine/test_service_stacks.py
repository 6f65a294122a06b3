"""`layout: per-service` on real clusters: a single stack (2 regions x 3 services in 2 waves)
moved into an infrastructure stack per region and a stack per service without a resource change,
then teams' releases: two services at once by two `ops release` processes, one whose image never
gets ready (its path alone goes back to the team's last release), a release refused for a
migration that has not run (nothing changes), and the same release once the migration ran (its
Job completed before the new ReplicaSet). The tests run in file order on one environment."""

from __future__ import annotations

import copy
import subprocess
import sys
import time

import pytest
from pulumi import automation as auto

from deploypaths.layout import region_stack, service_stack
from ops import automation
from ops.region_stacks import sync_stack_file
from ops.state_split import split_per_service
from tests.support.cluster import image_of, stamp
from tests.support.engine import stack_config, up_stack

STACK = "teams"
REGISTRY = "registry.example.com/shop"
WAVES = [["us-east-1"], ["eu-west-1"]]
REGIONS = [region for wave in WAVES for region in wave]
SERVICES = ("auth", "orders", "search")
BASE = stack_config(
    STACK,
    regions=[{"name": region} for region in REGIONS],
    waves=WAVES,
    migrations=[
        {"name": "orders-add-status", "image": f"{REGISTRY}/migrate:0042", "phase": "expand"}
    ],
    services=[
        {"name": "auth", "image": f"{REGISTRY}/auth:3.2.0", "replicas": 1},
        {
            "name": "orders",
            "image": f"{REGISTRY}/orders:7.4.1",
            "replicas": 1,
            "after": ["auth"],
            "requires": ["orders-add-status"],
        },
        {"name": "search", "image": f"{REGISTRY}/search:1.12.0", "replicas": 1},
    ],
)
BASE["kubernetes"] = {**BASE["kubernetes"], "rollout_timeout_seconds": 60}
PER_SERVICE = {**BASE, "layout": "per-service"}
STACKS = [region_stack(STACK, r) for r in REGIONS] + [service_stack(STACK, s) for s in SERVICES]


def image(env, service: str, region: str) -> str:
    return image_of(env.views[region].deployments()[service])


@pytest.fixture(scope="module")
def env(project):
    yield from up_stack(project, STACK, BASE)


def named(deployment: dict) -> set[tuple[str, str]]:
    """A state's resources but its root, by type and name."""
    return {
        (r["type"], r["urn"].rsplit("::", 1)[-1])
        for r in deployment["resources"]
        if r.get("parent")
    }


@pytest.fixture(scope="module")
def single(env):
    """What the single stack held before the move."""
    return named(env.handle.export_stack().deployment)


@pytest.fixture(scope="module")
def moved(project, env, single):
    """The single stack's state split into the per-service stacks, then the single stack
    forgotten with its config kept (which now says `layout: per-service`)."""
    exported = env.handle.export_stack()
    env.configure(PER_SERVICE)
    states = split_per_service(
        exported.deployment,
        environment_stack=STACK,
        waves=WAVES,
        services={name: REGIONS for name in SERVICES},
    )
    handles = {}
    for stack in STACKS:
        assert sync_stack_file(stack, project.root) == STACK, stack
        handles[stack] = project.stack(stack)
        handles[stack].import_stack(
            auto.Deployment(version=exported.version, deployment=states[stack])
        )
    project.pulumi("stack", "rm", STACK, "--force", "--preserve-config", "--yes")
    return handles


def test_the_moved_stacks_hold_every_resource_and_preview_no_change(single, moved):
    held = [named(handle.export_stack().deployment) for handle in moved.values()]
    # Every resource of the single stack is in one of them; a Kubernetes object in exactly one
    # (components and providers are copied where they are parents or providers of what moved).
    assert set().union(*held) == single
    for kind, name in single:
        if kind.startswith("kubernetes:") and not kind.startswith("pulumi:providers"):
            assert sum((kind, name) in stack for stack in held) == 1, (kind, name)
    for stack in STACKS[: len(REGIONS)]:
        # The infrastructure stacks first: the service stacks read their exports, and a preview
        # only warns while those are missing.
        changes = {
            op: n
            for op, n in moved[stack].preview(color="never").change_summary.items()
            if op != "same"
        }
        assert changes == {}, f"{stack}: the move changes resources: {changes}"


def test_a_service_stacks_preview_report_shows_no_change_to_its_paths(project, moved, tmp_path):
    report = tmp_path / "preview.md"
    done = project.ops(
        "preview", "--stack", service_stack(STACK, "orders"), "--markdown", str(report)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    text = report.read_text()
    assert "orders@us-east-1" in text and "orders@eu-west-1" in text, text[:2000]
    assert "auth@" not in text, "a service stack's report holds its own paths only"


def test_up_of_the_environment_deploys_infrastructure_then_services(project, env, moved):
    done = project.ops("up", "--env", STACK, "--layout", "per-service", "--yes", "--no-policy")
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-2000:]
    for stack in STACKS:
        assert f"{stack}: succeeded" in out, (stack, out[-3000:])
    assert out.index(f"{STACK}-eu-west-1: succeeded") < out.index(f"starting {STACK}-svc-")
    # Nothing rolled again: the first update of each moved stack only wrote its outputs.
    for region in REGIONS:
        assert image(env, "orders", region) == f"{REGISTRY}/orders:7.4.1"
    assert moved[service_stack(STACK, "orders")].outputs()["released"].value.keys() == set(REGIONS)


def release(project, service: str, new_image: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ops",
            "release",
            "--env",
            STACK,
            "--service",
            service,
            "--image",
            new_image,
            "--output",
            "plain",
        ],
        cwd=automation.REPO_ROOT,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_teams_release_at_once_and_neither_waits_for_the_other(project, env, moved):
    started = time.monotonic()
    runs = {
        "auth": release(project, "auth", f"{REGISTRY}/auth:3.3.0"),
        "search": release(project, "search", f"{REGISTRY}/search:1.13.0"),
    }
    finished = {}
    for service, process in runs.items():
        out, _ = process.communicate(timeout=900)
        finished[service] = time.monotonic() - started
        assert process.returncode == 0, (service, out[-3000:])
        assert "is being updated by" not in out, out[-2000:]
    for region in REGIONS:
        assert image(env, "auth", region) == f"{REGISTRY}/auth:3.3.0"
        assert image(env, "search", region) == f"{REGISTRY}/search:1.13.0"
    # Side by side: the second did not queue behind the first's lock.
    assert max(finished.values()) < 1.6 * min(finished.values()), finished


def test_a_release_that_never_gets_ready_goes_back_to_the_teams_last_release_alone(
    project, env, moved
):
    auth = {region: image(env, "auth", region) for region in REGIONS}
    process = release(project, "search", f"{REGISTRY}/search:1.14.0-never-ready")
    out, _ = process.communicate(timeout=900)
    assert process.returncode == 1, out[-3000:]
    failed = next(line for line in out.splitlines()[::-1] if line.strip().startswith("search@us"))
    # Back to the release its stack's last update recorded (the release file's 1.13.0, not the
    # stack file's 1.12.0), and the later wave never started.
    assert " rolled back " in failed and "back to the release of update" in failed, failed
    for region in REGIONS:
        assert image(env, "search", region) == f"{REGISTRY}/search:1.13.0", (region, out[-3000:])
        deployment = env.views[region].deployments()["search"]
        assert deployment["status"].get("availableReplicas") == 1, (region, deployment["status"])
    assert {region: image(env, "auth", region) for region in REGIONS} == auth, "other teams' too"
    release_file = project.root / "releases" / "search.yaml"
    assert "1.14.0-never-ready" in release_file.read_text(), "the next release tries it again"
    release_file.write_text(f"image: {REGISTRY}/search:1.13.0\n")


def test_a_release_needing_a_migration_that_has_not_run_is_refused_and_changes_nothing(
    project, env, moved
):
    config = copy.deepcopy(PER_SERVICE)
    config["migrations"].append(
        {"name": "orders-add-index", "image": f"{REGISTRY}/migrate:0043", "phase": "expand"}
    )
    orders = next(s for s in config["services"] if s["name"] == "orders")
    orders["requires"] = ["orders-add-status", "orders-add-index"]
    env.configure(config)
    done = project.ops(
        "release", "--env", STACK, "--service", "orders", "--image", f"{REGISTRY}/orders:7.5.0"
    )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert (
        "orders@us-east-1: requires expand migration orders-add-index, which stack "
        f"{STACK}-us-east-1 has not run" in done.stderr
    ), done.stderr
    assert not (project.root / "releases" / "orders.yaml").exists()
    for region in REGIONS:
        assert image(env, "orders", region) == f"{REGISTRY}/orders:7.4.1", region
        assert not [j for j in env.views[region].jobs() if j.startswith("orders-add-index")]


def test_the_release_runs_once_its_migration_completed_first(project, env, moved):
    first = project.ops(
        "release", "--env", STACK, "--service", "orders", "--migrations", "--no-policy"
    )
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert "Deploying the infrastructure stacks first." in first.stdout
    done = project.ops(
        "release",
        "--env",
        STACK,
        "--service",
        "orders",
        "--image",
        f"{REGISTRY}/orders:7.5.0",
        "--output",
        "plain",
        "--no-policy",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for region in REGIONS:
        view = env.views[region]
        assert image(env, "orders", region) == f"{REGISTRY}/orders:7.5.0", region
        job = next(j for name, j in view.jobs().items() if name.startswith("orders-add-index"))
        replica_set = next(
            rs
            for rs in view.replica_sets().values()
            if rs["metadata"]["labels"].get("app") == "orders"
            and image_of(rs) == f"{REGISTRY}/orders:7.5.0"
        )
        completed = stamp(job["status"]["completionTime"])
        created = stamp(replica_set["metadata"]["creationTimestamp"])
        assert completed <= created, (region, completed, created)
