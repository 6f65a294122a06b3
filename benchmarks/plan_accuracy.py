"""`python -m benchmarks.plan_accuracy`: how well the plan predicts a real rollout on the local
clusters once it has learnt from this stack's own history.

A generated topology (default 3 regions x 20 services x 4 migrations in 2 waves) is deployed with
`ops up` (update 1: everything created), then every service gets a new image (update 2: every
path rolls); `ops calibrate` learns the latency of each resource type from those two updates;
then every service gets a new image again (update 3) and `ops timeline` compares the plan's
prediction for update 3, made with the calibrated latencies, with what happened. Prints the
predicted and actual critical path, its error, and how many paths finished within 20 % or 30 s of
their predicted finish.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.engine_up import STACK, default_parallel, local_topology
from benchmarks.topology import Size
from deploypaths.stack_config import namespace_values
from tests.support.sandbox import Sandbox


def with_release(config: dict[str, Any], release: int) -> dict[str, Any]:
    """Every service's images (stable, canary, both colours) at another tag."""
    config = json.loads(json.dumps(config))
    if release == 0:
        return config
    for service in config["services"]:
        holders = [service, service.get("canary") or {}]
        holders += [(service.get("blue_green") or {}).get(c) or {} for c in ("blue", "green")]
        for holder in holders:
            if "image" in holder:
                holder["image"] = f"{holder['image']}-r{release}"
    return config


def ops(sandbox: Sandbox, *args: str) -> str:
    result = sandbox.ops(*args)
    if result.returncode != 0:
        sys.exit(f"`ops {' '.join(args)}` failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plan_accuracy", description=__doc__)
    parser.add_argument("--size", default="3x20x4/2", help="regions x services x migrations/waves")
    parser.add_argument("--picture", type=Path, help="write the timeline of update 3 here (SVG)")
    parser.add_argument(
        "--keep", type=Path, help="run in this (new) folder and keep it: stacks, events, latency"
    )
    args = parser.parse_args(argv)
    config = namespace_values(local_topology(Size.parse(args.size)))
    with contextlib.ExitStack() as cleanup:
        if args.keep:
            args.keep.mkdir(parents=True)
            directory = str(args.keep.resolve())
        else:
            directory = cleanup.enter_context(tempfile.TemporaryDirectory())
        sandbox = Sandbox(Path(directory))
        sandbox.write_config(STACK, config)
        with sandbox.clusters(STACK):
            for release in (0, 1, 2):
                sandbox.write_config(STACK, with_release(config, release))
                if release == 0:
                    sandbox.pulumi("stack", "init", STACK)
                ops(sandbox, "up", "--stack", STACK, "--yes")
                if release == 1:
                    latency = Path(directory) / "latency.json"
                    ops(sandbox, "calibrate", "--stack", STACK, "--out", str(latency))
            timeline = ["timeline", "--stack", STACK, "--update", "3", "--latency", str(latency)]
            timeline += ["--parallel", str(default_parallel())]
            if args.picture:
                timeline += ["--picture", str(args.picture.resolve())]
            result = json.loads(ops(sandbox, *timeline, "--json"))
    predicted = result["predicted_minutes"] * 60
    actual = result["actual_minutes"] * 60
    print(f"topology {args.size} on the local clusters, update 3 after calibrating on 1 and 2")
    print(
        f"critical path: predicted {predicted:.0f} s, actual {actual:.0f} s, "
        f"error {result['critical_path_error_percent']:.1f} %"
    )
    print(
        f"paths finishing within 20 % or 30 s of the prediction: "
        f"{result['paths_within_tolerance']} of {result['paths_compared']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
