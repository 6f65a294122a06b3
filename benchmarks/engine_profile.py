"""`python -m benchmarks.engine_profile [--parallel N] [--size 3x20x4/2]`: one `pulumi up` of a
generated topology on the local clusters with the engine's own CPU profile (`pulumi up
--profiling`), then where the engine's CPU went: the share of its samples under each of a few
functions (`go tool pprof -top -cum`), the snapshot writes of the file backend first. Needs `go`
on PATH (as `make` does). docs/figures.md "Parallelism chosen from the plan" quotes it.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.engine_up import STACK, local_topology
from benchmarks.topology import Size
from deploypaths.stack_config import namespace_values
from tests.support.sandbox import Sandbox

# What the engine's CPU goes to, by the function its samples sit under.
WHERE = {
    "snapshot writes (the file backend, after every step)": "SnapshotManager).defaultServiceLoop",
    "garbage collector's workers": "runtime.gcBgMarkWorker",
    "automatic debug log": "logging.VerboseLogger.Infof",
    "the engine's steps": "deploy.(*stepExecutor).worker",
}


def shares(profile: Path) -> dict[str, float]:
    """% of the profile's samples under each function of WHERE (cumulative)."""
    top = subprocess.run(
        ["go", "tool", "pprof", "-top", "-cum", "-nodecount=400", str(profile)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for label, function in WHERE.items():
        line = next((line for line in top.splitlines() if function in line), None)
        found[label] = float(line.split()[4].rstrip("%")) if line else 0.0
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.engine_profile", description=__doc__
    )
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--size", default="3x20x4/2", help="regions x services x migrations/waves")
    args = parser.parse_args(argv)
    flat = local_topology(Size.parse(args.size))
    with tempfile.TemporaryDirectory() as directory:
        sandbox = Sandbox(Path(directory))
        sandbox.write_config(STACK, namespace_values(flat))
        prefix = Path(directory) / "engine"
        with sandbox.clusters(STACK):
            sandbox.pulumi("stack", "init", STACK)
            started = time.monotonic()
            sandbox.pulumi(
                "up", "--yes", "--skip-preview", "--stack", STACK,
                "--parallel", str(args.parallel), "--profiling", str(prefix),
            )  # fmt: skip
            seconds = time.monotonic() - started
            sandbox.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK)
        profile = next(Path(directory).glob("engine.*.cpu"))
        print(f"{args.size} at --parallel {args.parallel}: the update took {seconds:.0f} s")
        for label, share in shares(profile).items():
            print(f"{share:5.1f} % of the engine's CPU: {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
