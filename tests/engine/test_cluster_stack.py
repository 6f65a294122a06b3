"""The local stack on real clusters, as a team's week on one stack: up, a no-op up, the ordering
in the clusters' own timestamps, a one-path change, rollback of a path and of the stack, canary
and blue-green. The tests run in file order on one stack and its three clusters."""

from __future__ import annotations

import copy

import pytest

from tests.support.cluster import (
    available_since,
    condition,
    image_of,
    is_rolled_out,
    stamp,
)
from tests.support.engine import deployed_stack, stack_config

STACK = "week"
ORDERS_NEXT = "registry.example.com/shop/orders:7.5.0"
CART = {
    "name": "cart",
    "image": "registry.example.com/shop/cart:2.0.0",
    "replicas": 1,
    "strategy": "blue-green",
    "blue_green": {
        "active": "blue",
        "blue": {"image": "registry.example.com/shop/cart:2.0.0"},
        "green": {"image": "registry.example.com/shop/cart:2.1.0"},
    },
}
BASE = stack_config(STACK)
BASE["services"] = [*BASE["services"], CART]
WAVE_1, WAVE_2 = ("us-east-1",), ("eu-west-1", "ap-southeast-2")


def with_service(config: dict, name: str, **fields) -> dict:
    changed = copy.deepcopy(config)
    next(s for s in changed["services"] if s["name"] == name).update(fields)
    return changed


def generations(stack) -> dict[tuple[str, str], int]:
    return {
        (region, name): d["metadata"]["generation"]
        for region, view in stack.views.items()
        for name, d in view.deployments().items()
    }


def finished_at(events, name: str) -> float:
    return next(
        e.timestamp
        for e in events
        if e.res_outputs_event and e.res_outputs_event.metadata.urn.endswith(f"::{name}")
    )


@pytest.fixture(scope="module")
def stack(project):
    yield from deployed_stack(project, STACK, BASE)


@pytest.fixture(scope="module")
def first_up(stack):
    # The engine's default bound (4 x CPUs) queues independent Deployments behind the other
    # regions' rollouts on a 2-core runner; the overlap checked below is the program's graph.
    result, events = stack.up(parallel=64)
    assert result.summary.result == "succeeded"
    return events


def test_up_rolls_out_every_deployment_and_completes_every_job(stack, first_up):
    for region, view in stack.views.items():
        deployments = view.deployments()
        assert set(deployments) >= {"auth", "catalog", "orders", "search", "search-canary"}
        for name, deployment in deployments.items():
            assert is_rolled_out(deployment), f"{name}@{region}: {deployment['status']}"
        assert image_of(deployments["orders"]) == "registry.example.com/shop/orders:7.4.1"
        assert deployments["auth"]["spec"]["replicas"] == 2
        jobs = view.jobs()
        assert len(jobs) == 2, f"{region}: {sorted(jobs)}"
        for name, job in jobs.items():
            assert condition(job, "Complete")["status"] == "True", f"{name}@{region}"


def test_namespaces_enforce_the_restricted_pod_security_standard(stack, first_up):
    for region, view in stack.views.items():
        labels = view.namespace_object()["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", region
        # Admitted by the API server's PodSecurity admission: the pods exist.
        assert view.pods(app="auth"), f"{region}: no auth pod was admitted"


def test_second_up_changes_no_object(stack, first_up):
    def versions():
        return {
            (region, kind, name): obj["metadata"]["resourceVersion"]
            for region, view in stack.views.items()
            for kind, objects in (("deploy", view.deployments()), ("job", view.jobs()))
            for name, obj in objects.items()
        }

    before = versions()
    result, _ = stack.up()
    assert set(result.summary.resource_changes) == {"same"}, result.summary.resource_changes
    assert versions() == before


def test_ordering_holds_in_the_clusters_own_timestamps(stack, first_up):
    for region, view in stack.views.items():
        deployments, jobs = view.deployments(), view.jobs()
        add_status = next(j for n, j in jobs.items() if n.startswith("orders-add-status-"))
        drop_legacy = next(j for n, j in jobs.items() if n.startswith("orders-drop-legacy-"))
        orders_sets = [
            rs for rs in view.replica_sets().values() if rs["metadata"]["labels"]["app"] == "orders"
        ]
        # orders requires orders-add-status and comes after auth.
        for replica_set in orders_sets:
            created = stamp(replica_set["metadata"]["creationTimestamp"])
            assert created >= stamp(add_status["status"]["completionTime"]) - 1, region
            assert created >= available_since(deployments["auth"]) - 1, region
        # The contract migration waits for every service of its region.
        contract_created = stamp(drop_legacy["metadata"]["creationTimestamp"])
        for name, deployment in deployments.items():
            assert contract_created >= available_since(deployment) - 1, f"{name}@{region}"
        # Independent paths overlap: auth and catalog roll out side by side.
        auth, catalog = deployments["auth"], deployments["catalog"]
        assert stamp(auth["metadata"]["creationTimestamp"]) < available_since(catalog), region
        assert stamp(catalog["metadata"]["creationTimestamp"]) < available_since(auth), region
    gate_done = finished_at(first_up, "gate-after-wave-1-watch")
    wave_1_ready = max(
        available_since(d) for r in WAVE_1 for d in stack.views[r].deployments().values()
    )
    assert gate_done >= wave_1_ready
    for region in WAVE_2:
        created = stamp(stack.views[region].namespace_object()["metadata"]["creationTimestamp"])
        assert created >= gate_done - 1, f"{region} started before the gate finished"


@pytest.fixture(scope="module")
def orders_updated(stack, first_up):
    before = generations(stack)
    stack.configure(with_service(stack.config, "orders", image=ORDERS_NEXT))
    result, _ = stack.up()
    assert result.summary.result == "succeeded"
    return before


def test_one_image_change_rolls_out_only_that_path(stack, orders_updated):
    after = generations(stack)
    changed = sorted(key for key in after if after[key] != orders_updated.get(key))
    assert changed == sorted((region, "orders") for region in stack.views), changed
    for region, view in stack.views.items():
        orders = view.deployments()["orders"]
        assert image_of(orders) == ORDERS_NEXT and is_rolled_out(orders), region


def test_rollback_of_one_path_changes_only_that_deployment(stack, orders_updated):
    # Updates so far: 1 create, 2 no-op, 3 orders 7.5.0 (ops numbers them oldest first).
    before = generations(stack)
    result = stack.project.ops(
        "rollback", "--stack", STACK, "--to", "1", "--path", "orders@eu-west-1", "--yes"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    after = generations(stack)
    assert [key for key in after if after[key] != before[key]] == [("eu-west-1", "orders")]
    images = {region: image_of(v.deployments()["orders"]) for region, v in stack.views.items()}
    assert images == {
        "us-east-1": ORDERS_NEXT,
        "eu-west-1": "registry.example.com/shop/orders:7.4.1",
        "ap-southeast-2": ORDERS_NEXT,
    }
    assert is_rolled_out(stack.views["eu-west-1"].deployments()["orders"])


def test_rollback_of_the_stack_puts_the_first_release_back(stack, orders_updated):
    result = stack.project.ops("rollback", "--stack", STACK, "--to", "1", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    for region, view in stack.views.items():
        orders = view.deployments()["orders"]
        assert image_of(orders) == "registry.example.com/shop/orders:7.4.1", region
        assert is_rolled_out(orders), region


def test_canary_pods_follow_the_weight(stack, first_up):
    # search: 2 stable replicas and a 25 % canary, which is one pod in three.
    for region, view in stack.views.items():
        stable = view.pods(app="search", track="stable")
        canary = view.pods(app="search", track="canary")
        assert (len(stable), len(canary)) == (2, 1), region


def test_blue_green_switch_touches_only_the_service(stack, first_up):
    view = stack.views["us-east-1"]
    assert view.service("cart")["spec"]["selector"] == {"app": "cart", "colour": "blue"}
    assert len(view.pods(app="cart", colour="blue")) == len(view.pods(app="cart", colour="green"))
    before = generations(stack)
    switched = copy.deepcopy(CART)
    switched["blue_green"]["active"] = "green"
    # The stack file as the rollbacks above left it.
    current = stack.project.read_config(STACK)
    stack.configure(with_service(current, "cart", blue_green=switched["blue_green"]))
    result, _ = stack.up()
    assert result.summary.result == "succeeded"
    assert generations(stack) == before, "no Deployment changes when the active colour flips"
    assert view.service("cart")["spec"]["selector"] == {"app": "cart", "colour": "green"}
