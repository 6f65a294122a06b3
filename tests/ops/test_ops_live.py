"""`ops up`'s live view: every path's state folded from the engine's events as they come
(ops/live/paths.py), shown as a table, plain lines or JSON objects (ops/live/terminal.py)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from rich.console import Console

from ops import events
from ops.live import terminal
from ops.live.paths import PathState, PathStates
from ops.plan import load_latency, plan_for_config

FIXTURES = Path(__file__).parent / "fixtures"


def recorded(name: str) -> list[dict]:
    return events.read_events(FIXTURES / name)


def plan_of(recording: list[dict], stack: str):
    config = next(e["preludeEvent"]["config"] for e in recording if "preludeEvent" in e)
    return plan_for_config(config, stack, load_latency(None))


@pytest.fixture(scope="module")
def created():
    """A real update on the local clusters (the fault drills' first `up`): two regions in one
    wave, everything created; orders waits for auth and for its expand migration."""
    recording = recorded("events-drills-created.jsonl")
    return recording, plan_of(recording, "drills")


def follow(recording, plan) -> tuple[PathStates, list[tuple[float, str, str]]]:
    states = PathStates(plan)
    changes = []
    for event in recording:
        for path in states.apply(event):
            changes.append((event["timestamp"], path.id, path.state))
    return states, changes


def test_each_path_goes_from_waiting_through_its_steps_to_done(created):
    states, changes = follow(*created)
    assert {p.state for p in states.paths.values()} == {"done"}, states.ordered()
    seen = {}
    for _, path, state in changes:
        seen.setdefault(path, []).append(state)
    assert seen["auth@us-east-1"] == ["rolling out", "done"]
    assert seen["orders-add-status@us-east-1"] == ["migrating", "done"]
    auth = states.paths["auth@us-east-1"]
    assert auth.replicas == (2, 2) and auth.estimate_seconds > 0
    assert auth.started is not None and auth.finished > auth.started


def test_a_path_waits_until_what_it_waits_for_is_done(created):
    recording, plan = created
    states = PathStates(plan)
    assert states.paths["orders@us-east-1"].waiting_for == [
        "auth@us-east-1",
        "orders-add-status@us-east-1",
        "us-east-1",
    ]
    done_at, orders_started = {}, None
    for event in recording:
        for path in states.apply(event):
            if path.state == "done":
                done_at[path.id] = event["sequence"]
            if path.id == "orders@us-east-1" and path.state == "rolling out":
                orders_started = event["sequence"]
                # What it still waits for is none of those it was waiting for.
                assert path.waiting_for == []
    assert orders_started is not None
    assert done_at["auth@us-east-1"] < orders_started
    assert done_at["orders-add-status@us-east-1"] < orders_started


def test_an_update_cut_short_leaves_unstarted_paths_not_started(created):
    recording, plan = created
    states = PathStates(plan)
    # Up to the moment auth is done in both regions, orders not yet started.
    for event in recording:
        states.apply(event)
        if states.paths["orders@us-east-1"].state != "waiting" or (
            states.paths["auth@us-east-1"].state == "done"
            and states.paths["auth@eu-west-1"].state == "done"
        ):
            break
    rolling = [p.id for p in states.paths.values() if p.state == "rolling out"]
    states.finish(failed=True)
    assert states.paths["orders@us-east-1"].state == "not started"
    assert all(states.paths[p].state == "interrupted" for p in rolling)


def test_a_failed_path_keeps_its_reason_and_holds_what_waits_for_it():
    recording = recorded("events-local-3.jsonl")
    states = PathStates(plan_of(recording, "local"))
    for event in recording:
        states.apply(event)
    states.finish()
    auth, orders = states.paths["auth@us-east-1"], states.paths["orders@us-east-1"]
    assert auth.state == "failed" and "auth" in auth.message, auth
    assert orders.state == "held" and orders.waiting_for == ["auth@us-east-1"]
    assert terminal.describe(orders) == "held: waits for auth@us-east-1"


def test_plain_lines_and_json_objects_say_each_change_once(created):
    recording, plan = created
    plain, machine = io.StringIO(), io.StringIO()
    for view, out in ((terminal.PlainView, plain), (terminal.JsonView, machine)):
        with view(PathStates(plan), out=out) as watching:
            for event in recording:
                watching.event(event)
    lines = plain.getvalue().splitlines()
    assert "path auth@us-east-1: rolling out after 0:00 (plan 3:06)" in lines, lines
    assert sum(line.startswith("path auth@us-east-1:") for line in lines) == 2
    objects = [json.loads(line) for line in machine.getvalue().splitlines()]
    auth = [o for o in objects if o["id"] == "auth@us-east-1"]
    assert [o["state"] for o in auth] == ["rolling out", "done"]
    assert auth[-1]["replicas"] == [2, 2] and auth[-1]["region"] == "us-east-1"


def synthetic(count: int) -> list[PathState]:
    """`count` paths over three waves: the first done, the second with two failures and the
    rest rolling out, the third waiting."""
    paths = []
    for index in range(count):
        wave = 1 + index * 3 // count
        state = {1: "done", 2: "rolling out", 3: "waiting"}[wave]
        path = PathState(id=f"svc{index}@r{wave}", kind="service", region=f"r{wave}", wave=wave)
        path.state, path.started, path.estimate_seconds = state, 0.0, 120.0
        paths.append(path)
    for failed in paths[count // 3 : count // 3 + 2]:
        failed.state, failed.message = "failed", "rollout timed out"
    return paths


def test_the_table_stays_readable_at_300_paths():
    console = Console(record=True, width=160, height=40, file=io.StringIO())
    console.print(terminal.render_table(synthetic(300), now=30.0, height=40))
    text = console.export_text()
    rows = text.splitlines()
    assert len(rows) <= 40, len(rows)
    assert "100 paths: 100 done" in text
    assert text.count("rollout timed out") == 2, "a failure is not shown expanded"
    assert "100 paths: 100 waiting" in text
    assert "more" in text, "the rolling paths that do not fit are not counted"


def test_auto_is_live_at_a_terminal_and_plain_elsewhere(created):
    states = PathStates(created[1])
    assert isinstance(terminal.choose("auto", states, tty=True), terminal.LiveView)
    assert isinstance(terminal.choose("auto", states, tty=False), terminal.PlainView)
    assert isinstance(terminal.choose("json", states), terminal.JsonView)
    assert isinstance(terminal.choose("live", None), terminal.EngineOnly)


def test_per_region_one_table_gathers_every_stacks_paths(created, capsys):
    plan = created[1]
    states = PathStates(plan)
    auth = states.paths["auth@us-east-1"]
    auth.state, auth.replicas, auth.started = "rolling out", (1, 2), 0.0
    console = Console(file=io.StringIO(), width=160, height=40, record=True)
    table = terminal.StacksView(console=console)
    table.line("local-us-east-1", json.dumps(auth.as_json()))
    table.line("local-eu-west-1", "Updating (local-eu-west-1):")
    restored = table.paths[("local-us-east-1", "auth@us-east-1")]
    assert restored == auth
    console.print(table.render())
    assert "rolling out 1/2 replicas" in console.export_text()
    with table:
        pass
    assert "[local-eu-west-1] Updating (local-eu-west-1):" in capsys.readouterr().out


def test_a_path_put_back_after_the_update_gets_its_line(created):
    out = io.StringIO()
    with terminal.PlainView(PathStates(created[1]), out=out) as watching:
        pass
    watching.put_back("auth@us-east-1", "rolled back", "back to the release of update 1")
    last = out.getvalue().splitlines()[-1]
    assert last == (
        "path auth@us-east-1: rolled back after 0:00 (plan 3:06): back to the release of update 1"
    ), last


def test_the_table_and_json_name_each_paths_owner():
    owned = PathState(id="orders@r1", kind="service", region="r1", wave=1, owner="checkout")
    owned.state, owned.started, owned.estimate_seconds = "rolling out", 0.0, 60.0
    region = PathState(id="r1", kind="region", region="r1", wave=1)
    region.state, region.started = "rolling out", 0.0
    console = Console(record=True, width=160, height=20, file=io.StringIO())
    console.print(terminal.render_table([owned, region], now=10.0, height=20))
    text = console.export_text()
    assert "orders@r1 (checkout)" in text
    assert " r1 (" not in text, "a region path has no owner"
    assert owned.as_json()["owner"] == "checkout"
    assert PathState.from_json(owned.as_json()).owner == "checkout"


def test_each_line_is_written_whole_whichever_thread_says_it(created):
    """The engine's lines and the paths' come from two threads: `print` writes a line and its
    newline apart, and two lines ran together in a CI run (`... updated (14s)path orders...`)."""
    recording, plan = created
    writes: list[str] = []

    class Recorded(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return super().write(text)

    out = Recorded()
    with terminal.PlainView(PathStates(plan), out=out) as watching:
        engine = threading.Thread(
            target=lambda: [watching.engine_line(f"engine line {n}") for n in range(2000)]
        )
        engine.start()
        for event in recording:
            watching.event(event)
        engine.join()
    assert writes and all(text.endswith("\n") and text.count("\n") == 1 for text in writes)
    lines = out.getvalue().splitlines()
    assert all(line.startswith(("engine line ", "path ")) for line in lines), lines[:5]
    assert sum(line.startswith("engine line ") for line in lines) == 2000
