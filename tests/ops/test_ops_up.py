"""`python -m ops up`: deploy through the Automation API and record every engine event beside
the stack's state; `ops rollback` records its update the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi.automation import CommandError, EngineEvent

from ops import automation, events
from ops.__main__ import main
from tests.support.ops_fixtures import FIXTURES, config_of, load_events, summaries


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def same_events(recorded: Path, fixture: str) -> bool:
    """The file holds the fixture's events as the SDK reads them (it reads a `null` detailed
    diff as an empty one, so the text may differ where the meaning does not)."""
    read = [repr(EngineEvent.from_json(line)) for line in lines_of(recorded)]
    return read == [repr(event) for event in load_events(fixture)]


@pytest.mark.parametrize(
    "name", ["events-local-1.jsonl", "events-local-3.jsonl", "events-prod.jsonl"]
)
def test_recorded_events_have_the_engines_json_shape(name):
    """What the SDK hands `on_event`, written back, reads as the same event: the file is the
    CLI's event log format (camelCase keys, enum values, property maps untouched)."""
    for line in lines_of(FIXTURES / name):
        event = EngineEvent.from_json(line)
        written = events.event_json(event)
        assert repr(EngineEvent.from_json(written)) == repr(event), line["sequence"]
        for key in ("sequence", "timestamp"):
            assert written[key] == line[key]
        kinds = [k for k in line if k not in ("sequence", "timestamp")]
        assert [k for k in written if k not in ("sequence", "timestamp")] == kinds


def test_summary_event_keeps_the_engines_odd_key_names():
    line = {
        "sequence": 9,
        "timestamp": 1,
        "summaryEvent": {
            "maybeCorrupt": False,
            "durationSeconds": 3,
            "resourceChanges": {"same": 2},
            "PolicyPacks": {"p": "v1"},
        },
    }
    written = events.event_json(EngineEvent.from_json(line))
    assert written["summaryEvent"]["PolicyPacks"] == {"p": "v1"}
    assert written["summaryEvent"]["resourceChanges"] == {"same": 2}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///srv/state", "/srv/state/events/local"),
        ("file://~/state", str(Path.home() / "state/events/local")),
        ("https://api.pulumi.com", "/project/.events/local"),
        (None, "/project/.events/local"),
    ],
)
def test_events_live_beside_a_file_backends_state_else_in_the_project(url, expected):
    assert events.events_dir("org/deploypaths/local", url, Path("/project")) == Path(expected)


def test_up_records_every_event_under_the_next_update_number(updating_stack, file_backend, capsys):
    played = load_events("events-local-1.jsonl")
    stack = updating_stack("local", up_events=played)
    assert main(["up", "--stack", "local", "--yes", "--parallel", "4", "--refresh"]) == 0
    recorded = file_backend / "events" / "local" / "1.jsonl"
    assert same_events(recorded, "events-local-1.jsonl")
    assert not list(recorded.parent.glob("*.partial"))
    (up,) = stack.called("up")
    assert up["parallel"] == 4 and up["refresh"] is True
    assert up["continue_on_error"] is True, "a failed path stops only what waits for it"
    assert up["policy_packs"] == [str(automation.POLICY_PACK)], "the policy pack is attached"
    out = capsys.readouterr().out
    assert "Update 1 of stack local: succeeded after 0.55 min; 11 path(s): 11 changed" in out
    assert "orders@us-east-1" in out and f"Events: {recorded}" in out


def test_up_numbers_the_file_as_ops_history_numbers_the_update(updating_stack, file_backend):
    history = summaries()  # six entries: the next update is number 7
    updating_stack(
        "prod",
        up_events=load_events("events-local-2.jsonl"),
        history=history,
        config=config_of(history[0]),
    )
    assert main(["up", "--stack", "prod", "--yes", "--no-policy"]) == 0
    assert [p.name for p in (file_backend / "events" / "prod").iterdir()] == ["7.jsonl"]


def test_a_failed_update_is_recorded_summarised_and_exits_1_without_a_traceback(
    updating_stack, file_backend, capsys
):
    failure = CommandError(
        "code: 255\n stdout: ...\n stderr: error: update failed\n"
        '    error: the Kubernetes API server reported that "app/auth" failed to fully '
        "initialize or become live: timed out waiting to be Ready\n"
    )
    updating_stack("local", up_events=load_events("events-local-3.jsonl"), up_error=failure)
    assert main(["up", "--stack", "local", "--yes", "--on-failure", "leave"]) == 1
    assert (file_backend / "events" / "local" / "1.jsonl").exists()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.strip() == "The update failed: auth@us-east-1 (see above)"
    assert "timed out waiting to be Ready" in captured.out
    assert "auth@us-east-1                               failed" in captured.out
    held = next(
        line for line in captured.out.splitlines() if line.strip().startswith("orders@us-east-1 ")
    )
    assert " held " in held and held.endswith("held: waits for auth@us-east-1"), held


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--parallel", "0", "--yes"], "error: --parallel must be at least 1, not 0"),
        ([], "error: no terminal to confirm on: pass --yes to deploy without asking"),
        (
            ["--on-failure", "retry", "--yes"],
            "error: --on-failure 'retry': allowed: rollback, leave (default rollback)",
        ),
    ],
)
def test_operator_mistakes_are_one_line_and_exit_2(
    updating_stack, file_backend, capsys, argv, message
):
    updating_stack("local")
    assert main(["up", "--stack", "local", *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_an_unknown_stack_is_one_line_and_exit_2(fake_stacks, capsys):
    assert main(["up", "--stack", "nope", "--yes"]) == 2
    assert capsys.readouterr().err.strip() == "error: there is no stack 'nope' in the test backend"


def test_an_update_with_no_events_writes_no_file(updating_stack, file_backend):
    updating_stack("local")
    assert main(["up", "--stack", "local", "--yes"]) == 0
    assert not (file_backend / "events").exists()


def test_rollback_records_its_update_too(updating_stack, file_backend, monkeypatch):
    monkeypatch.setenv("USER", "alice")
    history = summaries()
    updating_stack(
        "prod",
        history=history,
        config=config_of(history[0]),
        up_events=load_events("events-local-2.jsonl"),
    )
    assert main(["rollback", "--stack", "prod", "--to", "3", "--yes"]) == 0
    recorded = file_backend / "events" / "prod" / "7.jsonl"
    assert same_events(recorded, "events-local-2.jsonl")


CRASH = CommandError(
    "code: 255\n stderr: error: update failed\n    kubernetes:apps/v1:Deployment (auth): error: "
    "rpc error: code = Unavailable desc = error reading from server: EOF\n"
)


def test_a_provider_that_dies_is_named_and_the_update_runs_again(
    updating_stack, file_backend, capsys
):
    stack = updating_stack("local", up_events=load_events("events-local-1.jsonl"), up_error=CRASH)
    original_up = stack.up

    def up_once_crashing(**kwargs):
        try:
            original_up(**kwargs)
        finally:
            stack._up_error = None  # the engine, run again, finds a working provider

    stack.up = up_once_crashing
    assert main(["up", "--stack", "local", "--yes", "--no-policy"]) == 0
    out = capsys.readouterr().out
    assert len(stack.called("up")) == 2
    assert "the kubernetes provider exited during the update: " in out
    assert "running the update again (retry 1 of 1)" in out


def test_without_retries_a_dead_provider_fails_the_update_naming_it(
    updating_stack, file_backend, capsys
):
    stack = updating_stack("local", up_error=CRASH)
    assert main(["up", "--stack", "local", "--yes", "--no-policy", "--retries", "0"]) == 1
    assert len(stack.called("up")) == 1
    assert "the kubernetes provider exited during the update" in capsys.readouterr().err


def test_a_dead_provider_is_named_when_the_failures_summary_cuts_the_line_naming_it(
    updating_stack, file_backend, capsys
):
    resources = "".join(
        f"  kubernetes:apps/v1:Deployment (path-{n}-deployment):\n"
        "    error: error reading from server: EOF\n"
        for n in range(8)
    )
    crash = CommandError(
        "code: 255\n stdout: Diagnostics:\n  pulumi:pulumi:Stack (deploypaths-local):\n"
        "    error: Detected that /engine/plugins/pulumi-resource-kubernetes exited prematurely.\n"
        f"{resources} stderr: error: update failed\n"
    )
    assert "Detected" not in automation.failure_text(crash)
    stack = updating_stack("local", up_error=crash)
    assert main(["up", "--stack", "local", "--yes", "--no-policy", "--retries", "0"]) == 1
    assert len(stack.called("up")) == 1
    assert "the kubernetes provider exited during the update: error: Detected that" in (
        capsys.readouterr().err
    )


def test_an_update_the_engine_finds_locked_is_refused_naming_the_holder(
    updating_stack, file_backend, capsys
):
    locked = CommandError(
        "code: 255\n stderr: error: the stack is currently locked by 1 lock(s). Either wait for "
        "the other process(es) to end or delete the lock file with `pulumi cancel`.\n  file:///s/"
        ".pulumi/locks/organization/deploypaths/local/f7.json: created by ci@runner (pid 77) at "
        "2026-12-05T01:20:37Z\n"
    )
    stack = updating_stack("local", up_error=locked)
    assert main(["up", "--stack", "local", "--yes", "--no-policy"]) == 1
    assert len(stack.called("up")) == 1
    assert capsys.readouterr().err.strip() == (
        "error: stack local is being updated by ci@runner (pid 77) since 2026-12-05 01:20:37; "
        "it was not touched"
    )


def widest_of(stack: str) -> int:
    """The widest step of the stack's plan, as `ops plan` schedules it, at most the cap."""
    from deploypaths.parallelism import CAP, widest
    from ops.plan import load_latency, plan_for_config
    from ops.up import stack_settings

    read = stack_settings(stack)
    assert read is not None, stack
    plan = plan_for_config(read[0], stack, load_latency(None))
    return min(widest(plan.resource_times.values()), CAP)


def test_up_runs_at_the_plans_widest_step_and_says_so(updating_stack, file_backend, capsys):
    stack = updating_stack("local")
    assert main(["up", "--stack", "local", "--yes", "--no-policy"]) == 0
    (up,) = stack.called("up")
    expected = widest_of("local")
    assert 8 < expected <= 64, "the local stack is wider than the engine's default of 8"
    assert up["parallel"] == expected
    out = capsys.readouterr().out
    assert f"parallel: {expected} (the widest step of the plan; --parallel N overrides)" in out


def test_up_says_the_operators_parallel_wins(updating_stack, file_backend, capsys):
    stack = updating_stack("local")
    assert main(["up", "--stack", "local", "--yes", "--no-policy", "--parallel", "3"]) == 0
    (up,) = stack.called("up")
    assert up["parallel"] == 3
    assert "parallel: 3 (--parallel 3)" in capsys.readouterr().out


def test_up_without_an_offline_plan_keeps_the_engines_default_and_says_so(
    updating_stack, file_backend, capsys
):
    stack = updating_stack("nofile")  # no Pulumi.nofile.yaml to plan from
    assert main(["up", "--stack", "nofile", "--yes", "--no-policy"]) == 0
    (up,) = stack.called("up")
    assert "parallel" not in up, up
    assert (
        "parallel: the engine's default (4 x CPUs) (no offline plan of the stack; "
        "--parallel N overrides)" in capsys.readouterr().out
    )


def test_up_json_output_says_the_parallel_on_standard_error(updating_stack, file_backend, capsys):
    updating_stack("local")
    assert main(["up", "--stack", "local", "--yes", "--no-policy", "--output", "json"]) == 0
    captured = capsys.readouterr()
    assert "parallel: " not in captured.out
    assert f"parallel: {widest_of('local')} (the widest step" in captured.err


def test_a_region_stack_runs_at_its_regions_part_of_the_plan():
    from ops.up import _offline_plan, choose_parallel, stack_settings

    read = stack_settings("local")
    assert read is not None
    whole = choose_parallel(None, _offline_plan(read[0], "local", read[1]))
    part = choose_parallel(None, _offline_plan(read[0], "local-eu-west-1", read[1]))
    assert part.value is not None and whole.value is not None
    assert 1 <= part.value < whole.value, (part, whole)
    assert part.line() == (
        f"parallel: {part.value} (the widest step of local-eu-west-1's part of the environment's "
        "plan; --parallel N overrides)"
    )


def test_rollback_runs_at_the_plans_widest_step_unless_told(
    updating_stack, file_backend, monkeypatch, capsys
):
    monkeypatch.setenv("USER", "alice")
    for argv, expected in ([], widest_of("prod")), (["--parallel", "2"], 2):
        history = summaries()
        stack = updating_stack("prod", history=history, config=config_of(history[0]))
        assert main(["rollback", "--stack", "prod", "--to", "3", "--yes", *argv]) == 0
        (up,) = stack.called("up")
        assert up["parallel"] == expected, argv
        assert f"parallel: {expected} (" in capsys.readouterr().out
