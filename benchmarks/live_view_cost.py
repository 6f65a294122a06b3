"""`python -m benchmarks.live_view_cost [--size 3x20x4/2] [--rounds 2]`: what the live view
costs an update on the local clusters: `ops up --output plain` (the view on, as CI logs get it)
against `ops up --output none` (the engine's lines alone), round after round alternating which
goes first, each round a new image tag for every service. Prints each round's wall seconds, the
median ratio on/off (the issue's bound: within 2 %), the machine's cores and load, and a JSON
line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.engine_up import STACK, local_topology
from benchmarks.failure_recovery import Bench, nproc, release
from benchmarks.topology import Size
from deploypaths.stack_config import namespace_values
from tests.support.sandbox import Sandbox

VIEWS = {"on": ["--output", "plain"], "off": ["--output", "none"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.live_view_cost", description=__doc__
    )
    parser.add_argument("--size", default="3x20x4/2", metavar="RxSxM/W")
    parser.add_argument("--rounds", type=int, default=2, help="updates per view (default 2)")
    args = parser.parse_args(argv)
    size = Size.parse(args.size)
    config = namespace_values(local_topology(size))
    regions = [region for wave in config["waves"] for region in wave]
    load_start = os.getloadavg()
    walls: dict[str, list[float]] = {view: [] for view in VIEWS}
    with tempfile.TemporaryDirectory(prefix="deploypaths-live-view-") as scratch:
        sandbox = Sandbox(Path(scratch))
        sandbox.write_config(STACK, dict(config))
        with sandbox.clusters(STACK):
            sandbox.pulumi("stack", "init", STACK)
            benches = {view: Bench(sandbox, options) for view, options in VIEWS.items()}
            benches["off"].landed(config, "the first up")
            tag = 2
            for round_number in range(args.rounds):
                order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
                for view in order:
                    tag += 1
                    landed = benches[view].landed(
                        release(config, regions, f"{tag}.0.0", None), f"round {tag} ({view})"
                    )
                    walls[view].append(landed.wall_seconds)
                    print(f"round {round_number + 1}, view {view}: {landed.wall_seconds:.1f} s")
    ratio = statistics.median(walls["on"]) / statistics.median(walls["off"])
    load_end = os.getloadavg()
    print(
        f"{size} on the local clusters, {args.rounds} update(s) per view: median wall "
        f"{statistics.median(walls['on']):.1f} s with the view, "
        f"{statistics.median(walls['off']):.1f} s without: ratio {ratio:.3f}; machine: "
        f"{nproc()} cores, load {load_start[0]:.2f} at start, {load_end[0]:.2f} at the end"
    )
    print(
        json.dumps(
            {
                "topology": str(size),
                "wall_seconds": walls,
                "ratio_on_off": round(ratio, 3),
                "nproc": nproc(),
                "load_start": round(load_start[0], 2),
                "load_end": round(load_end[0], 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
