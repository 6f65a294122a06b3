"""Failure on real clusters, under `--continue-on-error`: a release that never gets Ready fails its
path and what waits for it, every time, while every other path lands and the failed service keeps
serving its previous ReplicaSet; a failed migration stops what needs it; a wave whose pods restart
fail the gate and stop the next wave. What fails is set by local/stages.yaml (image tags)."""

from __future__ import annotations

import copy

import pytest
from pulumi import automation as auto

from tests.support.cluster import image_of, is_rolled_out
from tests.support.engine import stack_config, up_stack

STACK = "faults"
REGISTRY = "registry.example.com/shop"
# Short enough to keep the test quick, long enough for a real rollout (the stages' delays plus
# the Deployments' minReadySeconds).
TIMEOUT = 45
BASE = stack_config(
    STACK,
    kubernetes={**stack_config(STACK)["kubernetes"], "rollout_timeout_seconds": TIMEOUT},
)


def changed(config: dict, migrations: list | None = None, **images: str) -> dict:
    config = copy.deepcopy(config)
    for service in config["services"]:
        if service["name"] in images:
            service["image"] = images[service["name"]]
    if migrations is not None:
        config["migrations"] = migrations
    return config


def images(stack, region: str) -> dict[str, str]:
    return {name: image_of(d) for name, d in stack.views[region].deployments().items()}


def failing_up(stack) -> str:
    with pytest.raises(auto.CommandError) as failure:
        stack.up(continue_on_error=True)
    return str(failure.value)


@pytest.fixture(scope="module")
def stack(project):
    yield from up_stack(project, STACK, BASE)


def test_a_release_that_never_gets_ready_fails_its_path_and_dependents_every_time(stack):
    released = images(stack, "us-east-1")
    update = changed(
        BASE,
        auth=f"{REGISTRY}/auth:3.3.0-never-ready",
        orders=f"{REGISTRY}/orders:7.5.0",
        catalog=f"{REGISTRY}/catalog:5.1.0",
    )
    stack.configure(update)
    for attempt in (1, 2):
        output = failing_up(stack)
        assert "auth-us-east-1-deployment" in output, output
        now = images(stack, "us-east-1")
        # The failed path: its new ReplicaSet never gets Ready; the old one keeps serving.
        auth = stack.views["us-east-1"].deployments()["auth"]
        assert now["auth"].endswith("-never-ready"), attempt
        assert (auth["status"].get("availableReplicas") or 0) == auth["spec"]["replicas"], attempt
        old_pods = [
            p
            for p in stack.views["us-east-1"].pods(app="auth").values()
            if p["spec"]["containers"][0]["image"] == released["auth"]
        ]
        assert len(old_pods) == auth["spec"]["replicas"], attempt
        # Its dependent (orders runs after auth) never started its rollout.
        assert now["orders"] == released["orders"], attempt
        # An independent path of the same region updated at the same time landed.
        catalog = stack.views["us-east-1"].deployments()["catalog"]
        assert now["catalog"] == f"{REGISTRY}/catalog:5.1.0" and is_rolled_out(catalog), attempt
        # The gate never passed: no later wave started.
        for region in ("eu-west-1", "ap-southeast-2"):
            assert images(stack, region)["catalog"] == released["catalog"], (attempt, region)


def test_a_failed_migration_stops_the_services_that_need_it_and_every_contract(stack):
    stack.configure(BASE)
    result, _ = stack.up()
    assert result.summary.result == "succeeded"
    released = images(stack, "us-east-1")
    migrations = [
        {"name": "orders-add-status", "image": f"{REGISTRY}/migrate:0042", "phase": "expand"},
        {"name": "orders-add-index", "image": f"{REGISTRY}/migrate:0043-fails", "phase": "expand"},
        {"name": "orders-drop-legacy", "image": f"{REGISTRY}/migrate:0045", "phase": "contract"},
    ]
    update = changed(BASE, migrations, catalog=f"{REGISTRY}/catalog:5.2.0")
    next(s for s in update["services"] if s["name"] == "orders").update(
        image=f"{REGISTRY}/orders:7.6.0", requires=["orders-add-status", "orders-add-index"]
    )
    stack.configure(update)
    output = failing_up(stack)
    assert "orders-add-index-us-east-1-job" in output, output
    now = images(stack, "us-east-1")
    assert now["orders"] == released["orders"], "orders needs the failed migration"
    assert now["catalog"] == f"{REGISTRY}/catalog:5.2.0", "catalog does not"
    jobs = stack.views["us-east-1"].jobs()
    assert not [
        name
        for name in jobs
        if name.startswith("orders-drop-legacy-")
        and jobs[name]["spec"]["template"]["spec"]["containers"][0]["image"].endswith("0045")
    ]
    for region in ("eu-west-1", "ap-southeast-2"):
        assert images(stack, region)["catalog"] == released["catalog"], region


def test_restarts_during_the_bake_stop_the_next_wave(stack):
    stack.configure(BASE)
    result, _ = stack.up()
    assert result.summary.result == "succeeded"
    released = images(stack, "eu-west-1")
    stack.configure(changed(BASE, catalog=f"{REGISTRY}/catalog:5.3.0-restarts"))
    output = failing_up(stack)
    assert "health gate after wave 1" in output and "restarted 5 times" in output, output
    assert images(stack, "us-east-1")["catalog"].endswith("-restarts")
    for region in ("eu-west-1", "ap-southeast-2"):
        assert images(stack, region)["catalog"] == released["catalog"], region
