"""`python -m ops pipelines (--env E | --promote E1,E2,...)
--ci github|gitlab|jenkins|circleci|travis [--per-service] [--out DIR]`: write CI pipelines at
the CI system's conventional paths under DIR (default: the repository).

`--env E`: the pipeline that deploys environment E as region stacks (`E-<region>`), wave by wave
behind one approval: an approval, then per wave a parallel set of region jobs that starts once
the previous wave's jobs succeeded, one concurrency group per region stack, and in each job only
`make venv` and the project's `ops` commands. The committed files are this command's output;
tests regenerate them and run each system's schema or parser over them. Every option builds the
same model of pipelines (ops/pipelines/flow.py), which each CI module renders.

`--per-service` (layout per-service): one pipeline per service, started only by a change to its
release file `releases/<service>.yaml`: a migrations job first (`ops release --migrations`: the
region stacks, if the service requires an expand migration they have not run), then, after the
approval of the service's owners, `ops release` of its stack `E-svc-<service>` under one lock
per service stack. Plus the infrastructure pipeline, started by any change outside `releases/`
(`ops release --infrastructure`: the region stacks wave by wave). GitHub and GitLab also get a
CODEOWNERS mapping each release file and each migration's files to its approvers.

`--promote dev,staging,prod` instead of `--env`: the same pipelines (per service, or the region
stacks' waves) take one commit through the environments in that order, each environment's jobs
starting only once the one before it succeeded in the same run; `ops up` and `ops release` fail
a path whose `verify` Job failed, so that success includes its verification.

Where each system's files go: GitHub `.github/workflows/<pipeline>.yml`; GitLab
`.gitlab/ci/<pipeline>.yml` (per service: `.gitlab/ci/per-service-<scope>.yml` includes them all,
and .gitlab-ci.yml includes that); Jenkins `Jenkinsfile` for `--env` alone, else
`jenkins/<pipeline>.Jenkinsfile` (one Pipeline job each); CircleCI `.circleci/config.yml` (per
service: a setup workflow whose path filter continues with `.circleci/continue_config.yml`);
Travis CI `.travis.yml`. The scope in the names is E for `--env`, `promote` for `--promote`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType

from ops import UserError, write_output
from ops.automation import PROJECT_DIR
from ops.pipelines import circleci, codeowners, github, gitlab, jenkins, travis
from ops.pipelines.flow import PipelineSet, pipeline_set
from ops.pipelines.rollout import environments
from ops.pipelines.services import environment_of

# Each module: CI (its --ci name) and flow_files(pipelines).
SYSTEMS: dict[str, ModuleType] = {
    module.CI: module for module in (github, gitlab, jenkins, circleci, travis)
}


def flow_files(pipelines: PipelineSet, ci: str) -> dict[str, str]:
    """Relative path -> text of what `--ci ci` writes for the pipelines."""
    files: dict[str, str] = SYSTEMS[ci].flow_files(pipelines)
    if pipelines.per_service and ci in codeowners.PATHS:
        files[codeowners.PATHS[ci]] = codeowners.render(pipelines, ci)
    return files


def check_arguments(env: str, ci: str, project_dir: Path, *, option: str = "--env") -> None:
    problems = []
    known = environments(project_dir)
    names = env.split(",") if option == "--promote" else [env]
    unknown = [name for name in names if name not in known]
    stacks = f"(stacks: {', '.join(known)})"
    if unknown and option == "--promote":
        problems.append(
            f"--promote {env}: {', '.join(unknown)} not a stack of this project {stacks}"
        )
    elif unknown:
        problems.append(f"--env {env}: not a stack of this project {stacks}")
    elif option == "--promote" and (len(names) < 2 or len(set(names)) != len(names)):
        problems.append(
            f"--promote {env}: two or more different environments, in promotion order "
            "(dev,staging,prod)"
        )
    if ci not in SYSTEMS:
        problems.append(f"--ci {ci}: not a CI system this writes (one of: {', '.join(SYSTEMS)})")
    if problems:
        raise UserError("; ".join(problems))


def write(out: Path, files: dict[str, str], what: str) -> None:
    for relative, text in files.items():
        target = out / relative
        write_output(target, text)
        print(f"wrote {target} ({what})")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else PROJECT_DIR
    option, value = ("--env", args.env) if args.env is not None else ("--promote", args.promote)
    check_arguments(value, args.ci, PROJECT_DIR, option=option)
    names = value.split(",")
    pipelines = pipeline_set(
        [environment_of(name, PROJECT_DIR, per_service=args.per_service) for name in names],
        scope=value if option == "--env" else "promote",
        per_service=args.per_service,
        command=(
            f"python -m ops pipelines {option} {value}"
            + (" --per-service" if args.per_service else "")
        ),
    )
    files = flow_files(pipelines, args.ci)
    if args.per_service:
        services = len(pipelines.pipelines) - 1
        what = f"{services} service pipeline(s) and the infrastructure pipeline, {value}"
    elif option == "--env":
        waves = pipelines.environments[0].rollout.waves
        stacks = sum(len(wave) for wave in waves)
        what = f"{len(waves)} wave(s), {stacks} region stack(s)"
    else:
        what = f"the region stacks of {' then '.join(names)}"
    write(out, files, what)
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "pipelines",
        help="write the CI pipelines that deploy an environment (per region or per service)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--env", help="environment (its stack file's name)")
    target.add_argument(
        "--promote",
        metavar="E1,E2,...",
        help="environments in promotion order: one commit through each, in turn",
    )
    parser.add_argument(
        "--per-service",
        action="store_true",
        help="one pipeline per service (layout per-service) and the infrastructure pipeline",
    )
    parser.add_argument(
        "--ci", required=True, metavar="|".join(SYSTEMS), help="the CI system to write for"
    )
    parser.add_argument("--out", metavar="DIR", help="folder to write under (default: the repo)")
    parser.set_defaults(func=run)
