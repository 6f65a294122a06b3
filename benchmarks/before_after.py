"""The registration benchmark on an earlier commit and on the working tree, one after the other.

    python -m benchmarks.before_after COMMIT [--rounds 3] [--sizes 4x30x6/3 8x60x9/3]
                                      [--modes cloud] [--repeat 3]

COMMIT is checked out in a temporary git worktree (sharing this checkout's .venv); each round runs
`benchmarks.registration --json` there, then here, so both sides see the same load. Prints, per
round and size, the program's seconds and its ratio to its own replay on each side. Figures only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.child_process import REPO_ROOT


def registration(tree: Path, options: list[str]) -> dict[str, dict[str, Any]]:
    """One run of the registration benchmark in `tree`: its rows by size and mode."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.registration", "--large", "none", "--json", *options],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(completed.stdout)["rows"]
    return {f"{row['size']} {row['mode']}": row for row in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.before_after", description=__doc__)
    parser.add_argument("commit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", nargs="+", default=["4x30x6/3", "8x60x9/3"])
    parser.add_argument("--modes", nargs="+", default=["cloud"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    options = ["--sizes", *args.sizes, "--modes", *args.modes, "--repeat", str(args.repeat)]
    with tempfile.TemporaryDirectory(prefix="deploypaths-before-") as scratch:
        before = Path(scratch) / "tree"
        git = ["git", "-C", str(REPO_ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", str(before), args.commit], check=True)
        try:
            (before / ".venv").symlink_to(REPO_ROOT / ".venv")
            print(
                f"{'round':>5} {'size':<16} {'before s':>8} {'vs replay':>9} {'after s':>8} "
                f"{'vs replay':>9}"
            )
            for round_ in range(1, args.rounds + 1):
                sides = [registration(before, options), registration(REPO_ROOT, options)]
                for key in sides[1]:
                    was, now = sides[0][key], sides[1][key]
                    print(
                        f"{round_:>5} {key:<16} {was['program']['seconds']:>8.2f} "
                        f"{was['ratio_to_replay']:>9.2f} {now['program']['seconds']:>8.2f} "
                        f"{now['ratio_to_replay']:>9.2f}",
                        flush=True,
                    )
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(before)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
