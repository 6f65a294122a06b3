"""`python -m ops pipelines --env E --ci github|gitlab|jenkins|circleci|travis [--out DIR]`: write
the CI pipeline that deploys environment E as region stacks (`E-<region>`), wave by wave behind
one approval, at the CI system's conventional path under DIR (default: the repository).

Every CI system gets the same pipeline: an approval, then per wave a parallel set of region jobs
that starts once the previous wave's jobs succeeded, one concurrency group per region stack, and
in each job only `make venv` and the project's `ops` commands. The committed files are this
command's output; tests regenerate them and run each system's schema or parser over them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType
from typing import Any

from ops import UserError
from ops.automation import PROJECT_DIR
from ops.pipelines import circleci, github, gitlab, jenkins, travis
from ops.pipelines.rollout import Rollout, environments, rollout_of

# Each module: CI (its --ci name), path(rollout) and render(rollout).
SYSTEMS: dict[str, ModuleType] = {
    module.CI: module for module in (github, gitlab, jenkins, circleci, travis)
}


def generated_files(rollout: Rollout, ci: str) -> dict[str, str]:
    """Relative path -> text of what `--ci ci` writes for the rollout."""
    system = SYSTEMS[ci]
    return {system.path(rollout): system.render(rollout)}


def check_arguments(env: str, ci: str, project_dir: Path) -> None:
    problems = []
    known = environments(project_dir)
    if env not in known:
        problems.append(f"--env {env}: not a stack of this project (stacks: {', '.join(known)})")
    if ci not in SYSTEMS:
        problems.append(f"--ci {ci}: not a CI system this writes (one of: {', '.join(SYSTEMS)})")
    if problems:
        raise UserError("; ".join(problems))


def run(args: argparse.Namespace) -> int:
    check_arguments(args.env, args.ci, PROJECT_DIR)
    rollout = rollout_of(args.env, PROJECT_DIR)
    out = Path(args.out) if args.out else PROJECT_DIR
    stacks = sum(len(wave) for wave in rollout.waves)
    for relative, text in generated_files(rollout, args.ci).items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target} ({len(rollout.waves)} wave(s), {stacks} region stack(s))")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pipelines",
        help="write the CI pipeline that deploys an environment's region stacks wave by wave",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="environment (its stack file's name)")
    parser.add_argument(
        "--ci", required=True, metavar="|".join(SYSTEMS), help="the CI system to write for"
    )
    parser.add_argument("--out", metavar="DIR", help="folder to write under (default: the repo)")
    parser.set_defaults(func=run)
