"""What became of each path in an update: failed with the engine's reason, held behind the failed
path it waits for (through the plan's edges), and the paths a failed gate names."""

from __future__ import annotations

from deploypaths.identity import PathIdentity
from ops import events
from ops.path_results import (
    PathResult,
    failed_service_paths,
    gate_named_paths,
    mark_held,
    mark_interrupted,
    path_results,
    render_summary,
)
from ops.plan import load_latency, plan_for_config
from tests.support.ops_fixtures import FIXTURES

SERVICES = {"us-east-1": ["auth", "orders", "search"], "eu-west-1": ["auth", "orders"]}


def failed_update() -> events.Update:
    """events-local-3: auth@us-east-1 never got Ready; orders waits for it."""
    return events.parse_update(events.read_events(FIXTURES / "events-local-3.jsonl"))


def test_a_failed_path_carries_the_engines_reason_in_one_line():
    results = {r.id: r for r in path_results(failed_update())}
    auth = results["auth@us-east-1"]
    assert auth.failed and auth.kind == "service"
    assert auth.reason == (
        'the Kubernetes API server reported that "app/auth" failed to fully initialize or '
        "become live: timed out waiting to be Ready"
    )
    assert auth.component and auth.component.endswith("ServicePath::auth-us-east-1")


def test_paths_that_wait_for_a_failed_one_are_held_and_name_it():
    update = failed_update()
    assert update.config is not None
    plan = plan_for_config(update.config, "local", load_latency(None))
    results = path_results(update)
    mark_held(results, plan)
    by_id = {r.id: r for r in results}
    assert by_id["orders@us-east-1"].result == "held"
    assert by_id["orders@us-east-1"].held_by == "auth@us-east-1"
    # The next wave waits for the gate, which waits for auth: held, never reached by the events.
    assert by_id["orders@eu-west-1"].held_by == "auth@us-east-1"
    assert by_id["auth@eu-west-1"].held_by == "auth@us-east-1"
    # A path that does not wait for auth is not held.
    assert by_id["orders-add-status@us-east-1"].held_by is None
    summary = render_summary(update, results, "Update 3")
    line = next(line for line in summary.splitlines() if "orders@eu-west-1" in line)
    assert line.split()[1] == "held" and line.endswith("held: waits for auth@us-east-1"), line


def test_an_interrupted_update_tells_cut_steps_and_unstarted_paths_from_failures():
    update = failed_update()
    assert update.config is not None
    plan = plan_for_config(update.config, "local", load_latency(None))
    results = path_results(update)
    # As if the cancel had ended auth's step: the provider says "context canceled".
    auth = next(r for r in results if r.id == "auth@us-east-1")
    auth.reason = "update of resource failed: context canceled"
    mark_interrupted(results, plan)
    by_id = {r.id: r for r in results}
    assert by_id["auth@us-east-1"].result == "interrupted" and not auth.failed
    # orders waited for auth and never started; a path the events never reached was not deployed.
    assert by_id["orders@us-east-1"].result == "interrupted"
    assert by_id["orders@eu-west-1"].result == "interrupted" and not by_id["orders@eu-west-1"].ops
    # Paths that landed before the cut keep their result.
    assert by_id["orders-add-status@us-east-1"].result == "unchanged"
    summary = render_summary(update, results, "Update 3, interrupted")
    lines = {line.split()[0]: line for line in summary.splitlines()[2:] if line.startswith("  ")}
    assert lines["auth@us-east-1"].endswith("the next up finishes and confirms it")
    assert lines["orders@eu-west-1"].endswith("interrupted before its change started")
    assert "Failed:" not in summary


def test_a_real_failure_stays_a_failure_when_the_update_is_interrupted():
    update = failed_update()
    assert update.config is not None
    results = path_results(update)
    mark_interrupted(results, plan_for_config(update.config, "local", load_latency(None)))
    assert next(r for r in results if r.id == "auth@us-east-1").result == "failed"


def test_a_failed_gate_names_the_service_paths_behind_its_problems():
    reason = (
        "health gate after wave 1: us-east-1: pod catalog-7d9f-x2 of Deployment catalog "
        "restarted 5 times (threshold 3); eu-west-1: Deployment search-canary wants 1 replicas, "
        "has ready 0"
    )
    services = {"us-east-1": ["catalog"], "eu-west-1": ["search", "search-api"]}
    assert gate_named_paths(reason, services) == ["catalog@us-east-1", "search@eu-west-1"]


def test_failed_service_paths_are_its_own_failures_and_what_a_gate_names():
    results = [
        PathResult(id="auth@us-east-1", kind="service", failed=True, reason="timed out"),
        PathResult(
            id="gate-after-wave-1",
            kind="gate",
            failed=True,
            reason="us-east-1: pod search-1-a of Deployment search restarted 4 times",
        ),
        PathResult(id="orders-add-status@us-east-1", kind="migration", failed=True),
    ]
    assert failed_service_paths(results, SERVICES) == {
        "auth@us-east-1": "timed out",
        "search@us-east-1": (
            "gate-after-wave-1: us-east-1: pod search-1-a of Deployment search restarted 4 times"
        ),
    }


def test_each_result_of_a_deploy_path_carries_its_identity():
    results = {r.id: r for r in path_results(failed_update())}
    assert results["auth@us-east-1"].path == PathIdentity("service", "auth", "us-east-1")
    assert results["us-east-1"].path == PathIdentity.of_region("us-east-1")
    migration = results["orders-add-status@us-east-1"]
    assert migration.path == PathIdentity("migration", "orders-add-status", "us-east-1")
    assert PathResult(id="gate-after-wave-1", kind="gate").path is None
