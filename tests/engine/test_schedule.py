"""What the engine does with the graph: independent paths overlap, dependent ones do not, a
failed path stops only what waits for it, and a mandatory policy blocks an update. Rollouts are
given a duration with the render-mode simulation (`deploypaths:simulation`)."""

from __future__ import annotations

import copy
from collections import defaultdict

import pytest
from pulumi import automation as auto

from tests.engine.test_local_stack import BASE

SECONDS = 3


def events_by_resource(events: list[auto.EngineEvent]) -> dict[str, tuple[int, int]]:
    """Resource name -> (start, finish) in the engine's own event timestamps (seconds)."""
    starts: dict[str, int] = {}
    finishes: dict[str, int] = {}
    for event in events:
        if event.resource_pre_event:
            starts[event.resource_pre_event.metadata.urn.split("::")[-1]] = event.timestamp
        if event.res_outputs_event:
            finishes[event.res_outputs_event.metadata.urn.split("::")[-1]] = event.timestamp
    return {name: (starts[name], finishes[name]) for name in finishes if name in starts}


@pytest.fixture(scope="module")
def timed(project):
    # Two services and two migrations per region. Every dynamic resource runs in one Python
    # dynamic-provider process that serves four operations at a time (pulumi.dynamic's thread
    # pool), so a wave runs at most four simulated rollouts at once: this keeps every
    # independent pair of the test within that limit.
    config = copy.deepcopy(BASE)
    config["services"] = [
        service for service in config["services"] if service["name"] in ("auth", "orders")
    ]
    config["simulation"] = {"rollout_seconds": SECONDS}
    project.write_config("timed", config)
    stack = project.stack("timed")
    events: list[auto.EngineEvent] = []
    result = stack.up(on_event=events.append)
    assert result.summary.result == "succeeded"
    return events_by_resource(events)


def rollout(timed, path: str) -> tuple[int, int]:
    return timed[f"{path}-simulated-rollout"]


def test_simulated_rollouts_take_their_time(timed):
    start, finish = rollout(timed, "auth-us-east-1")
    assert finish - start >= SECONDS - 1


def test_independent_paths_overlap(timed):
    # No edge between them: the engine starts them together.
    for first, second in [
        ("auth-us-east-1", "orders-add-status-us-east-1"),
        ("auth-eu-west-1", "auth-ap-southeast-2"),
        ("orders-eu-west-1", "orders-ap-southeast-2"),
        ("orders-add-status-eu-west-1", "auth-ap-southeast-2"),
    ]:
        (a_start, a_finish), (b_start, b_finish) = rollout(timed, first), rollout(timed, second)
        assert a_start < b_finish and b_start < a_finish, f"{first} and {second} did not overlap"


def test_dependent_paths_do_not_overlap(timed):
    for waiter, waited in [
        ("orders-us-east-1", "auth-us-east-1"),
        ("orders-us-east-1", "orders-add-status-us-east-1"),
        ("orders-drop-legacy-us-east-1", "orders-us-east-1"),
        ("auth-eu-west-1", "orders-drop-legacy-us-east-1"),
    ]:
        assert rollout(timed, waiter)[0] >= rollout(timed, waited)[1], (
            f"{waiter} overlapped {waited}"
        )
    gate = timed["gate-after-wave-1-watch"]
    assert rollout(timed, "auth-eu-west-1")[0] >= gate[1], "wave 2 started before its gate"


def test_engine_time_matches_the_chain_of_rollouts(timed):
    # Per region: (add-status | auth) -> orders -> drop-legacy, three rollouts end to end; wave 2
    # after the gate: six in all, where one rollout after another would be twelve.
    first = min(start for start, _ in timed.values())
    last = max(finish for _, finish in timed.values())
    assert 6 * SECONDS - 1 <= last - first < 12 * SECONDS, (first, last)


def test_a_failed_path_stops_only_its_dependents(project):
    config = copy.deepcopy(BASE)
    config["simulation"] = {"rollout_seconds": 0, "fail": ["auth@eu-west-1"]}
    project.write_config("failing", config)
    stack = project.stack("failing")
    with pytest.raises(auto.CommandError) as failure:
        stack.up(continue_on_error=True)
    assert "simulated rollout failure of auth-eu-west-1" in str(failure.value)
    rendered = defaultdict(set)
    for name in project.rendered("failing"):
        region, _, file = name.split("/")
        rendered[region].add(file)
    everything = {
        "deployment-app-auth.yaml",
        "deployment-app-catalog.yaml",
        "deployment-app-orders.yaml",
        "deployment-app-search.yaml",
        "deployment-app-search-canary.yaml",
    }
    assert everything <= rendered["us-east-1"]
    assert everything <= rendered["ap-southeast-2"], "the other region of the wave deploys"
    # In eu-west-1, auth failed; orders waits for auth, the contract migration for every service.
    assert "deployment-app-auth.yaml" not in rendered["eu-west-1"]
    assert "deployment-app-orders.yaml" not in rendered["eu-west-1"]
    assert {"deployment-app-catalog.yaml", "deployment-app-search.yaml"} <= rendered["eu-west-1"]
    assert not [f for f in rendered["eu-west-1"] if f.startswith("job-app-orders-drop-legacy")]
    assert [f for f in rendered["eu-west-1"] if f.startswith("job-app-orders-add-status")]


def test_a_mandatory_policy_blocks_an_unsafe_update(project):
    config = copy.deepcopy(BASE)
    next(s for s in config["services"] if s["name"] == "catalog")["image"] = (
        "registry.example.com/shop/catalog:latest"
    )
    project.write_config("policed", config)
    project.pulumi("stack", "init", "policed")
    policy = ["--policy-pack", str(project.policy_pack)]
    policy += ["--policy-pack-config", str(project.policy_pack / "config" / "prod.json")]
    # `pulumi up --yes` previews first, as the deploy pipeline runs it: the violation found in
    # the preview stops the update before any resource is touched.
    result = project.pulumi("up", "--stack", "policed", "--yes", *policy, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "container-images-pinned" in output and "mandatory" in output, output
    assert "catalog:latest" in output, output
    assert not project.rendered("policed"), "nothing is deployed when a mandatory policy fails"
