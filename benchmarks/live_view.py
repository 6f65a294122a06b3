"""`python -m benchmarks.live_view [--size 12x70x6/3] [--redraws 200]`: whether the live view
keeps up with a large update: a generated topology's update is replayed as engine events (each
resource's create and outputs at the plan's times, and three progress lines per Deployment, in
time order, as fast as the model takes them) into ops/live/paths.py's model; every event must be
processed, and the table (ops/live/terminal.py) is drawn `--redraws` times along the way, each
timed, as rich redraws it (a few times a second): none may take 100 ms or more. The plain and JSON
views get the same stream. Prints a table of figures and one JSON line (the machine's cores and
load with them).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.topology import Size, generate
from deploypaths.plan import Plan
from deploypaths.recording import Recording
from ops.live import terminal
from ops.live.dashboard import POLL_SECONDS, UpdateView
from ops.live.dashboard import Recording as PageRecording
from ops.live.paths import PathStates
from ops.plan import load_latency, plan_for_config, record

STACK = "bench"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
# A redraw slower than this would make the view lag behind the update (the bound).
REDRAW_BOUND_MS = 100.0


def replayed_events(recording: Recording, plan: Plan, origin: float) -> Iterator[dict[str, Any]]:
    """The update the plan predicts, as the engine would report it (the recorded JSON shape)."""
    timed: list[tuple[float, int, dict[str, Any]]] = []
    for order, registration in enumerate(recording.registrations.values()):
        start, finish = plan.resource_times.get(registration.urn, (0.0, 0.0))
        state = {
            "type": registration.type,
            "urn": registration.urn,
            "parent": registration.parent,
            "custom": registration.custom,
        }
        metadata = {"op": "create", "urn": registration.urn, "type": registration.type}
        begin, end = origin + start * 60, origin + finish * 60
        timed.append((begin, order, {"resourcePreEvent": {"metadata": {**metadata, "new": state}}}))
        if registration.type == DEPLOYMENT:
            for step in range(3):
                said = f'Waiting for {{.status.availableReplicas}}=3 (found "{step}")'
                at = begin + (end - begin) * (step + 1) / 4
                diagnostic = {"message": said, "severity": "info", "urn": registration.urn}
                timed.append((at, order, {"diagnosticEvent": diagnostic}))
        timed.append((end, order, {"resOutputsEvent": {"metadata": {**metadata, "new": state}}}))
    timed.sort(key=lambda item: (item[0], item[1]))
    for sequence, (when, _, body) in enumerate(timed):
        yield {"sequence": sequence, "timestamp": when, **body}
    yield {"sequence": len(timed), "timestamp": timed[-1][0], "summaryEvent": {}}


def page_batches(plan: Plan, stream: list[dict[str, Any]], speed: float) -> list[float]:
    """Milliseconds the page's server spends on each 0.1 s batch of the stream."""
    recording = PageRecording("bench", 1, Path("bench.jsonl"))
    page = UpdateView(recording, plan, stream[0]["timestamp"])
    spent, batch, until = [], [], stream[0]["timestamp"] + POLL_SECONDS * speed
    for event in [*stream, None]:
        if event is not None and event["timestamp"] < until:
            batch.append(event)
            continue
        started = time.perf_counter()
        for queued in batch:
            page.apply(queued)
        json.dumps(page.paths_message(page.changed()))
        spent.append((time.perf_counter() - started) * 1000)
        if event is None:
            break
        batch, until = [event], until + POLL_SECONDS * speed
    return spent


def run(size: Size, redraws: int, speed: float) -> dict[str, Any]:
    config = generate(size.regions, size.services, size.migrations, size.waves)
    recording = record(config, STACK)
    plan = plan_for_config(config, STACK, load_latency(None))
    stream = list(replayed_events(recording, plan, origin=time.time()))
    every = max(1, len(stream) // redraws)
    states = PathStates(plan)
    console = Console(file=io.StringIO(), width=160, height=50)
    # rich loads its tables (cell widths, styles) on the first draw: not the view's cost.
    console.print(terminal.render_table(states.ordered(), 0.0, 50))
    apply_seconds, redraw_ms, changes = 0.0, [], 0
    for index, event in enumerate(stream):
        started = time.perf_counter()
        changes += len(states.apply(event))
        apply_seconds += time.perf_counter() - started
        if index % every == 0:
            started = time.perf_counter()
            console.print(terminal.render_table(states.ordered(), event["timestamp"], 50))
            redraw_ms.append((time.perf_counter() - started) * 1000)
    ended = {p.state for p in states.paths.values()}
    lines = {}
    for name, view in (("plain", terminal.PlainView), ("json", terminal.JsonView)):
        out = io.StringIO()
        started = time.perf_counter()
        with view(PathStates(plan), out=out) as watching:
            for event in stream:
                watching.event(event)
        lines[name] = (len(out.getvalue().splitlines()), time.perf_counter() - started)
    page_ms = page_batches(plan, stream, speed)
    return {
        "size": str(size),
        "resources": plan.resources,
        "paths": len(plan.paths),
        "events": len(stream),
        "state_changes": changes,
        "every_path_done": ended == {"done"},
        "apply_microseconds_per_event": round(apply_seconds / len(stream) * 1e6, 1),
        "redraws": len(redraw_ms),
        "redraw_ms_median": round(statistics.median(redraw_ms), 1),
        "redraw_ms_max": round(max(redraw_ms), 1),
        "plain_lines": lines["plain"][0],
        "plain_seconds": round(lines["plain"][1], 2),
        "json_lines": lines["json"][0],
        "json_seconds": round(lines["json"][1], 2),
        "page_batches": len(page_ms),
        "page_batch_ms_median": round(statistics.median(page_ms), 1),
        "page_batch_ms_max": round(max(page_ms), 1),
        "cores": os.cpu_count(),
        "load": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live_view", description=__doc__)
    parser.add_argument("--size", type=Size.parse, default=Size.parse("12x70x6/3"))
    parser.add_argument("--redraws", type=int, default=200)
    parser.add_argument(
        "--speed", type=float, default=10.0, help="the page's replay: times the update's pace"
    )
    args = parser.parse_args(argv)
    figures = run(args.size, args.redraws, args.speed)
    for key, value in figures.items():
        print(f"{key:>30}  {value}")
    print(json.dumps(figures))
    slow = max(figures["redraw_ms_max"], figures["page_batch_ms_max"]) >= REDRAW_BOUND_MS
    if slow or not figures["every_path_done"]:
        print("the view fell behind: see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
