"""`python -m benchmarks.engine_up`: `pulumi up` of generated render-mode topologies on the real
engine, at --parallel 1 and at the default, against the plan's prediction.

Every Deployment and Job is preceded by a simulated rollout of ROLLOUT seconds (render mode's
`deploypaths:simulation`), so the schedule the engine chooses shows in wall time. Prints, per
topology and parallelism: resources, wall seconds of the update, resources per second, the
engine's critical path (first start to last finish in its own event timestamps) and the plan's
prediction for the same graph (the mocks' recording scheduled with ROLLOUT seconds per simulated
rollout and nothing else).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pulumi import automation as auto

from benchmarks.topology import generate
from deploypaths.schedule import Task, schedule
from deploypaths.stack_config import namespace_values
from ops.mock_run import run_program
from ops.sandbox import Sandbox

ROLLOUT = 2.0
SIZES = ((2, 4, 3, 2), (3, 8, 4, 2), (4, 12, 5, 2))


def predicted_seconds(flat: dict[str, str], stack: str) -> float:
    recording = run_program(flat, stack=stack)
    tasks = [
        Task(
            r.urn,
            r.type,
            r.waits_for,
            minutes=ROLLOUT if r.name.endswith("-simulated-rollout") else 0.0,
        )
        for r in recording.registrations.values()
    ]
    return schedule(tasks, {}).total_minutes  # "minutes" here are the seconds given above


def engine_run(sandbox: Sandbox, stack: str, parallel: int | None) -> dict[str, float]:
    handle = sandbox.stack(stack)
    events: list[auto.EngineEvent] = []
    started = time.perf_counter()
    result = handle.up(parallel=parallel, on_event=events.append)
    wall = time.perf_counter() - started
    stamps = [e.timestamp for e in events if e.resource_pre_event or e.res_outputs_event]
    resources = sum(result.summary.resource_changes.values())
    handle.destroy()
    return {
        "resources": resources,
        "wall_seconds": round(wall, 1),
        "resources_per_second": round(resources / wall, 1),
        "engine_critical_path_seconds": max(stamps) - min(stamps),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_up", description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        sandbox = Sandbox(Path(directory))
        for index, (regions, services, migrations, waves) in enumerate(SIZES):
            flat = generate(regions, services, migrations, waves, seed=index)
            flat["deploypaths:simulation"] = json.dumps({"rollout_seconds": ROLLOUT})
            stack = f"bench{index}"
            sandbox.write_config(stack, namespace_values(flat))
            prediction = predicted_seconds(flat, stack)
            for parallel in (1, None):
                row = engine_run(sandbox, stack, parallel)
                row.update(
                    topology=f"{regions}x{services}x{migrations}/{waves}",
                    parallel=parallel or "default",
                    plan_critical_path_seconds=round(prediction, 1),
                )
                rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("topology", "parallel", "resources", "wall s", "res/s", "engine path s", "plan s")
    print("{:<12} {:>8} {:>9} {:>7} {:>6} {:>13} {:>7}".format(*header))
    for row in rows:
        print(
            f"{row['topology']:<12} {row['parallel']!s:>8} {row['resources']:>9} "
            f"{row['wall_seconds']:>7} {row['resources_per_second']:>6} "
            f"{row['engine_critical_path_seconds']:>13} {row['plan_critical_path_seconds']:>7}"
        )
    print(f"(every Deployment and Job takes a simulated {ROLLOUT:.0f} s rollout)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
