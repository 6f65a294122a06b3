"""`python -m benchmarks.fault_drills [--runs 3] [--drills sigkill,sigint,...]`: each fault drill
of tests/support/drills.py `--runs` times on one stack on its own local clusters (two regions in
one wave, four services), and a table: drill, runs, survived, resources lost, orphans, seconds
to converge (from the fault to the end of the operator's recovering `ops up`; for the provider
and two-writer drills, to the end of the update itself), median and worst. Ends with one JSON
line: every figure, the machine's cores and its load at start and end. The same drills run once
each in `make test` (tests/engine/test_fault_drills.py)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from tests.support.drills import DRILLS, Outcome, deploy
from tests.support.sandbox import Sandbox


def table(outcomes: dict[str, list[Outcome]]) -> str:
    lines = [
        f"{'drill':<12} {'runs':>4} {'survived':>8} {'lost':>5} {'orphans':>7} "
        f"{'converge s (median / worst)':>28}"
    ]
    for drill, runs in outcomes.items():
        seconds = [o.converge_seconds for o in runs]
        lines.append(
            f"{drill:<12} {len(runs):>4} {sum(o.survived for o in runs):>8} "
            f"{sum(o.lost for o in runs):>5} {sum(o.orphans for o in runs):>7} "
            f"{statistics.median(seconds):>16.1f} / {max(seconds):>7.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fault_drills", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drills", default=",".join(DRILLS), help="comma-separated")
    args = parser.parse_args(argv)
    chosen = [d.strip() for d in args.drills.split(",") if d.strip()]
    unknown = [d for d in chosen if d not in DRILLS]
    if unknown or args.runs < 1:
        print(
            f"error: unknown drill(s) {', '.join(unknown)} (allowed: {', '.join(DRILLS)}); "
            "--runs at least 1",
            file=sys.stderr,
        )
        return 2
    load_before = os.getloadavg()
    outcomes: dict[str, list[Outcome]] = {d: [] for d in chosen}
    with tempfile.TemporaryDirectory(prefix="fault-drills-") as folder:
        for stack in deploy(Sandbox(Path(folder))):
            for _ in range(args.runs):
                for drill in chosen:
                    outcome = DRILLS[drill](stack)
                    outcomes[drill].append(outcome)
                    print(
                        f"{drill}: {'survived' if outcome.survived else 'FAILED'} in "
                        f"{outcome.converge_seconds:.1f} s"
                        + "".join(f"\n  {p.splitlines()[0]}" for p in outcome.problems),
                        flush=True,
                    )
    print(table(outcomes))
    figures = {
        drill: {
            "runs": len(runs),
            "survived": sum(o.survived for o in runs),
            "lost": sum(o.lost for o in runs),
            "orphans": sum(o.orphans for o in runs),
            "converge_seconds": [round(o.converge_seconds, 1) for o in runs],
        }
        for drill, runs in outcomes.items()
    }
    print(
        json.dumps(
            {
                "drills": figures,
                "cores": os.cpu_count(),
                "load_before": [round(x, 2) for x in load_before],
                "load_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )
    return 0 if all(o.survived for runs in outcomes.values() for o in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
