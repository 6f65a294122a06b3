"""`python -m benchmarks.region_rollout [--size 3x20x4/2]`: a full rollout on the local clusters,
as one stack and as region stacks run wave by wave, side by side within a wave.

The same generated environment (benchmarks.engine_up's local topology: kubeconfig mode, the
gate watching the clusters) is created from nothing twice on the same clusters: first as the
single stack (`ops up --stack bench`), which is then destroyed, then as its region stacks
(`ops up --env bench --layout per-region`, at most as many at once as the widest wave). Prints
each layout's wall time and each stack's resources and state size (`pulumi stack export`). The
larger sizes of benchmarks.region_stacks do not fit this machine's clusters; their rollout time
is the plan's (`ops plan`), which is the same graph in either layout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.engine_up import STACK, local_topology
from benchmarks.topology import Size
from deploypaths.layout import region_stacks
from deploypaths.stack_config import namespace_values
from deploypaths.validation import parse_settings
from tests.support.sandbox import Sandbox


def timed_ops(sandbox: Sandbox, *args: str) -> float:
    started = time.perf_counter()
    result = sandbox.ops(*args)
    if result.returncode != 0:
        sys.exit(f"`ops {' '.join(args)}` failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return time.perf_counter() - started


def state_of(sandbox: Sandbox, stack: str) -> tuple[int, int]:
    """Resources and bytes of a stack's exported state."""
    exported = sandbox.pulumi("stack", "export", "--stack", stack).stdout
    return len(json.loads(exported)["deployment"].get("resources") or []), len(exported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.region_rollout", description=__doc__
    )
    parser.add_argument("--size", default="3x20x4/2", metavar="RxSxM/W")
    args = parser.parse_args(argv)
    size = Size.parse(args.size)
    config = namespace_values(local_topology(size))
    waves = region_stacks(STACK, parse_settings(config, stack=STACK).waves)
    rows: list[tuple[str, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="deploypaths-rollout-") as scratch:
        sandbox = Sandbox(Path(scratch))
        sandbox.write_config(STACK, config)
        with sandbox.clusters(STACK):
            sandbox.pulumi("stack", "init", STACK)
            single = timed_ops(sandbox, "up", "--stack", STACK, "--yes", "--no-policy")
            rows.append((STACK, *state_of(sandbox, STACK)))
            sandbox.pulumi("destroy", "--stack", STACK, "--yes", "--skip-preview")
            widest = str(max(len(wave) for wave in waves))
            per_region = timed_ops(
                sandbox, "up", "--env", STACK, "--layout", "per-region", "--yes", "--no-policy",
                "--max-parallel", widest,
            )  # fmt: skip
            rows += [(stack, *state_of(sandbox, stack)) for wave in waves for stack in wave]
    print(f"{size} on the local clusters, created from nothing, policy pack off")
    print(f"  single stack:  {single:7.1f} s")
    print(
        f"  region stacks: {per_region:7.1f} s  (waves {' | '.join(', '.join(w) for w in waves)})"
    )
    print(f"  {'stack':<28} {'resources':>9} {'state KiB':>10}")
    for stack, resources, size_bytes in rows:
        print(f"  {stack:<28} {resources:>9} {size_bytes / 1024:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
