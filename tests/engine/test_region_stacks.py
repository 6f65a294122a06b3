"""Region stacks on real clusters: a single stack (2 regions x 2 services in 2 waves) split into
its region stacks without a resource change, then rolled out wave by wave by
`ops up --env E --layout per-region`, and stopped after a failed wave. The tests run in file
order on one environment and its two clusters."""

from __future__ import annotations

import copy

import pytest
from pulumi import automation as auto

from deploypaths.layout import region_stack
from ops.region_stacks import sync_stack_file
from ops.state_split import split
from tests.support.cluster import image_of, is_rolled_out
from tests.support.engine import stack_config, up_stack

STACK = "split"
REGISTRY = "registry.example.com/shop"
WAVES = [["us-east-1"], ["eu-west-1"]]
BASE = stack_config(
    STACK,
    regions=[{"name": region} for wave in WAVES for region in wave],
    waves=WAVES,
    migrations=[],
    services=[
        {"name": "auth", "image": f"{REGISTRY}/auth:3.2.0", "replicas": 1},
        {"name": "orders", "image": f"{REGISTRY}/orders:7.4.1", "replicas": 1, "after": ["auth"]},
    ],
)
BASE["kubernetes"] = {**BASE["kubernetes"], "rollout_timeout_seconds": 45}
REGION_STACKS = [region_stack(STACK, region) for wave in WAVES for region in wave]


def with_orders(config: dict, image: str, region: str | None = None) -> dict:
    config = copy.deepcopy(config)
    if region is None:
        next(s for s in config["services"] if s["name"] == "orders")["image"] = image
    else:
        entry = next(r for r in config["regions"] if r["name"] == region)
        entry["overrides"] = {"orders": {"image": image}}
    return config


def orders_image(stack, region: str) -> str:
    return image_of(stack.views[region].deployments()["orders"])


@pytest.fixture(scope="module")
def env(project):
    yield from up_stack(project, STACK, BASE)


@pytest.fixture(scope="module")
def region_handles(project, env):
    exported = env.handle.export_stack()
    states = split(exported.deployment, environment_stack=STACK, waves=WAVES)
    handles = {}
    for stack in REGION_STACKS:
        assert sync_stack_file(stack, project.root) == STACK
        handles[stack] = project.stack(stack)
        handles[stack].import_stack(
            auto.Deployment(version=exported.version, deployment=states[stack])
        )
    return handles


def test_the_split_region_stacks_preview_no_resource_change(env, region_handles):
    def named(handle) -> set[tuple[str, str]]:
        resources = handle.export_stack().deployment["resources"]
        return {(r["type"], r["urn"].rsplit("::", 1)[-1]) for r in resources if r.get("parent")}

    # Every resource of the single stack but its root is in a region stack, and nothing else.
    moved = set().union(*(named(handle) for handle in region_handles.values()))
    assert moved == named(env.handle)
    for stack, handle in region_handles.items():
        preview = handle.preview(color="never")
        changes = {op: n for op, n in preview.change_summary.items() if op != "same"}
        assert changes == {}, f"{stack}: the split changes resources: {changes}"


def test_the_single_stack_is_forgotten_and_its_config_kept(project, env, region_handles):
    project.pulumi("stack", "rm", STACK, "--force", "--preserve-config", "--yes")
    assert project.stack_file(STACK).is_file()
    for region, view in env.views.items():
        assert all(is_rolled_out(d) for d in view.deployments().values()), region


def test_per_region_up_rolls_the_waves_out_in_order(project, env, region_handles):
    project.write_config(STACK, with_orders(BASE, f"{REGISTRY}/orders:7.5.0"))
    left_before = set((project.root / ".tmp").rglob("kubeconfig*"))
    done = project.ops("up", "--env", STACK, "--layout", "per-region", "--yes", "--no-policy")
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-2000:]
    # The upstream provider writes each kubeconfig it is given to TMPDIR: ops removes them.
    assert set((project.root / ".tmp").rglob("kubeconfig*")) == left_before
    assert out.index("split-us-east-1: succeeded") < out.index("wave 2/2: starting split-eu-west-1")
    assert "[split-eu-west-1] " in out and "Every region stack succeeded (2 in 2 wave(s))." in out
    # Each stack's paths, as each changed (no terminal: plain lines), the later wave's too.
    for region in ("us-east-1", "eu-west-1"):
        said = [line for line in out.splitlines() if line.startswith(f"[split-{region}]")]
        assert f"[split-{region}] path orders@{region}: done after" in out, "\n".join(said[-80:])
    for region in env.views:
        assert orders_image(env, region) == f"{REGISTRY}/orders:7.5.0", region
    # The wave-2 stack's gate read wave 1 through its reference and watched the new release.
    outputs = region_handles["split-eu-west-1"].outputs()
    assert outputs["gate_watch"].value["alarms"] == []  # kubernetes monitoring: no alarms
    assert outputs["kubeconfig"].secret


def test_a_failed_region_stops_the_waves_after_it(project, env, region_handles):
    broken = with_orders(BASE, f"{REGISTRY}/orders:7.6.0-never-ready")
    project.write_config(STACK, broken)
    done = project.ops("up", "--env", STACK, "--layout", "per-region", "--yes", "--no-policy")
    out = done.stdout
    assert done.returncode == 1, out[-3000:]
    assert "wave 1: split-us-east-1 failed; the other stacks of wave 1 are left to finish" in out
    assert "not started: split-eu-west-1." in out
    assert "wave 2/2: starting" not in out
    assert orders_image(env, "eu-west-1") == f"{REGISTRY}/orders:7.5.0"
