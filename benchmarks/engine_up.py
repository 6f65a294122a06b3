"""`python -m benchmarks.engine_up`: `pulumi up` of a generated topology on the local clusters
(one per region, kwok nodes, the upstream Kubernetes provider), at `--parallel 1` and at the
engine's default, against the plan's prediction for the same graph.

Pods become Ready after the delays of local/stages.yaml; local/latency.json is the plan's latency
model for those delays (a Deployment: the pod delay plus its minReadySeconds; a Job: its pod's
start and run delays; a Service: the provider's wait for its endpoints, which settles after about
10 s when no pod is Ready yet, as at `--parallel 1`). Prints, per parallelism: resources, wall
seconds of the update, resources per second and the engine's critical path (first resource start
to last resource finish, in its own event timestamps); then the plan's critical path at the
engine's default parallelism (4 x CPUs, which the plan models with `parallel=`) and with no
limit, and the speed-up over `--parallel 1` beside the one the plan predicts.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from pulumi import automation as auto

from benchmarks.topology import generate
from deploypaths.mock_run import PROJECT_DIR, run_program
from deploypaths.schedule import Task, schedule
from deploypaths.stack_config import namespace_values
from tests.support.sandbox import Sandbox

LATENCY = PROJECT_DIR / "local" / "latency.json"
STACK = "bench"


def local_topology(regions: int, services: int, migrations: int, waves: int) -> dict[str, str]:
    flat = generate(regions, services, migrations, waves, seed=0)
    flat["deploypaths:kubernetes"] = json.dumps(
        {"mode": "kubeconfig", "kubeconfig_dir": f".clusters/{STACK}", "namespace": STACK}
    )
    flat["deploypaths:monitoring"] = json.dumps({"mode": "kubernetes"})
    return flat


def default_parallel() -> int:
    """`pulumi up`'s own default for --parallel: 4 x CPUs."""
    return 4 * (os.cpu_count() or 1)


def prediction_minutes(flat: dict[str, str]) -> tuple[float, float, float]:
    """The plan's critical path with no limit and at the engine's default parallelism, and its
    one-resource-at-a-time time, in minutes."""
    model = json.loads(LATENCY.read_text())
    recording = run_program(flat, stack=STACK)
    tasks = [Task(r.urn, r.type, r.waits_for) for r in recording.registrations.values()]
    unlimited = schedule(tasks, model)
    capped = schedule(tasks, model, parallel=default_parallel())
    return unlimited.total_minutes, capped.total_minutes, unlimited.sequential_minutes


def engine_run(handle: auto.Stack, parallel: int | None) -> dict[str, float]:
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
        "resources_per_second": round(resources / wall, 2),
        "engine_critical_path_seconds": max(stamps) - min(stamps),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_up", description=__doc__)
    parser.add_argument("--size", default="3x20x4/2", help="regions x services x migrations/waves")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes, _, waves = args.size.partition("/")
    regions, services, migrations = (int(part) for part in sizes.split("x"))
    flat = local_topology(regions, services, migrations, int(waves or 1))
    unlimited, critical, sequential = prediction_minutes(flat)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        sandbox = Sandbox(Path(directory))
        sandbox.write_config(STACK, namespace_values(flat))
        with sandbox.clusters(STACK):
            handle = sandbox.stack(STACK)
            for parallel in (1, None):
                row = engine_run(handle, parallel)
                row.update(parallel=parallel or "default", plan_critical_path_seconds=critical * 60)
                rows.append(row)
    serial, parallel_row = rows
    summary = {
        "topology": args.size,
        "rows": rows,
        "plan_sequential_seconds": round(sequential * 60, 1),
        "plan_unlimited_critical_path_seconds": round(unlimited * 60, 1),
        "default_parallel": default_parallel(),
        "actual_speedup": round(serial["wall_seconds"] / parallel_row["wall_seconds"], 2),
        "plan_speedup": round(sequential / critical, 2) if critical else 1.0,
        "critical_path_ratio": round(
            parallel_row["engine_critical_path_seconds"] / (critical * 60), 2
        ),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    header = ("parallel", "resources", "wall s", "res/s", "engine path s", "plan path s")
    print(f"topology {args.size} on the local clusters")
    print("{:>8} {:>9} {:>7} {:>6} {:>13} {:>11}".format(*header))
    for row in rows:
        print(
            f"{row['parallel']!s:>8} {row['resources']:>9} {row['wall_seconds']:>7} "
            f"{row['resources_per_second']:>6} {row['engine_critical_path_seconds']:>13} "
            f"{row['plan_critical_path_seconds']:>11.1f}"
        )
    print(
        f"plan: {summary['plan_sequential_seconds']} s one at a time; critical path "
        f"{critical * 60:.1f} s at --parallel {default_parallel()} (the default), "
        f"{unlimited * 60:.1f} s with no limit"
    )
    print(
        f"speed-up over --parallel 1: {summary['actual_speedup']}x actual, "
        f"{summary['plan_speedup']}x planned; engine critical path = "
        f"{summary['critical_path_ratio']}x the plan's"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
