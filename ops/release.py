"""`python -m ops release --env E --service S [--image I]`: release one service of a per-service
environment (`layout: per-service`, see deploypaths/layout.py) through its waves: its own stack
`E-svc-S` is updated by `python -m ops up --stack E-svc-S --yes`, and no other service's stack,
lock, preview or refresh is involved, so two teams release side by side.

`--image I` writes the image into `releases/S.yaml` first (the file's other lines kept). Before
anything is written or deployed the release is checked against what the other stacks exported
(deploypaths/service_guard.py): in every region S runs in, the expand migrations it requires
must have run (the region's infrastructure stack `E-<region>`) and the services it runs after
must have rolled out their release (their stacks). Each missing piece is one line; exit 2.

`--env E --service S --migrations` deploys the infrastructure stacks first when S requires an
expand migration they have not run (a pipeline's first job), and says so when none is needed.
`--env E --infrastructure` deploys every infrastructure stack, wave by wave.

Exit status: 0 released, 1 the update failed, 2 an operator mistake or a refusal.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from deploypaths import layout as stack_layout
from deploypaths import releases, service_guard
from deploypaths.config.settings import Settings
from deploypaths.image_pinning import HOW_TO_PIN, unpinned_reason
from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from deploypaths.validation import ConfigError, parse_settings
from ops import UserError, automation


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "release",
        help="release one service of a per-service environment through its waves",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="the environment (its stack file's name)")
    parser.add_argument("--service", help="the service to release")
    parser.add_argument("--image", help="write this image into releases/<service>.yaml first")
    parser.add_argument(
        "--migrations",
        action="store_true",
        help="deploy the infrastructure stacks if the service needs a migration they have not run",
    )
    parser.add_argument(
        "--infrastructure",
        action="store_true",
        help="deploy the environment's infrastructure stacks (E-<region>) wave by wave",
    )
    parser.add_argument("--message", help="the update's message")
    parser.add_argument(
        "--no-policy", action="store_true", help="deploy without the policy pack (ops up's)"
    )
    parser.add_argument(
        "--output", default="auto", choices=("auto", "live", "plain", "json", "none")
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Environment:
    """A per-service environment as its stack file and release files say now."""

    name: str
    settings: Settings

    def service_stack(self, service: str) -> str:
        return stack_layout.service_stack(self.name, service)

    def regions_of(self, service: str) -> list[str]:
        runs_in = next(s.regions for s in self.settings.services if s.name == service)
        return [r for wave in self.settings.waves for r in wave if r in runs_in]


def load(environment: str, project_dir: Path, image: tuple[str, str] | None = None) -> Environment:
    """The environment's settings with the release files applied (and `image` = (service,
    image) as `--image` would write it); UserError naming every problem."""
    path = project_dir / f"Pulumi.{environment}.yaml"
    if not path.is_file():
        known = ", ".join(releases.environments_of(project_dir))
        raise UserError(f"--env {environment}: no stack file {path.name} (environments: {known})")
    try:
        raw = namespace_values(load_stack_file(path, project_dir))
        raw = releases.apply(raw, environment, project_dir, releases.environments_of(project_dir))
        if image is not None:
            raw = _with_image(raw, *image)
        settings = parse_settings(raw, stack=environment)
    except (StackFileError, ConfigError, releases.ReleaseFileError) as error:
        raise UserError(str(error)) from None
    if settings.layout != stack_layout.PER_SERVICE:
        raise UserError(
            f"--env {environment}: its layout is {settings.layout}, not per-service: set "
            f"`deploypaths:layout: per-service` in {path.name} and move its state "
            "(docs/per-service.md)"
        )
    return Environment(environment, settings)


def environment_stacks(environment: Environment) -> list[list[str]]:
    """Every stack of the environment in the order `ops up --env E --layout per-service` deploys
    them: the infrastructure stacks wave by wave, then the service stacks, each set of services
    that run after none of the others not yet deployed side by side."""
    settings = environment.settings
    stacks = [
        [stack_layout.region_stack(environment.name, r) for r in wave] for wave in settings.waves
    ]
    sorter = TopologicalSorter({s.name: s.after for s in settings.services})
    sorter.prepare()
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        stacks.append([environment.service_stack(service) for service in ready])
        sorter.done(*ready)
    return stacks


def _with_image(raw: Mapping[str, Any], service: str, image: str) -> dict[str, Any]:
    """The config as it reads once `--image` is written into the release file (which has no
    image of this environment's own: `check_image_target`)."""
    services = [
        {**entry, "image": image}
        if isinstance(entry, dict) and entry.get("name") == service
        else entry
        for entry in raw.get("services") or []
    ]
    return {**raw, "services": services}


def outputs_of(stacks: list[str]) -> dict[str, dict[str, Any]]:
    """Each stack's last outputs, plain, read side by side and without selecting them (a release
    reads one stack per region and per service it runs after); nothing for a stack that does not
    exist yet."""
    options = automation.workspace_options()
    workspace = auto.LocalWorkspace(
        work_dir=str(automation.PROJECT_DIR),
        env_vars=options.env_vars,
        pulumi_command=options.pulumi_command,
    )

    def outputs(stack: str) -> dict[str, Any]:
        try:
            read = workspace.stack_outputs(stack)
        except auto.CommandError as error:
            if "no stack named" in str(error):
                return {}
            raise
        return {name: output.value for name, output in read.items()}

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(stacks, pool.map(outputs, stacks), strict=True))


def exports_for(environment: Environment, service: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What `service`'s release is checked against: each of its regions' `infrastructure`
    export, and the `released` export of each service it runs after."""
    regions = environment.regions_of(service)
    after = sorted({o for s in environment.settings.services if s.name == service for o in s.after})
    infrastructure = {r: stack_layout.region_stack(environment.name, r) for r in regions}
    released = {o: environment.service_stack(o) for o in after}
    read = outputs_of([*infrastructure.values(), *released.values()])
    return (
        {
            r: read[stack].get(service_guard.INFRASTRUCTURE_OUTPUT)
            for r, stack in infrastructure.items()
        },
        {o: read[stack].get(service_guard.RELEASED_OUTPUT) for o, stack in released.items()},
    )


def check_service(environment: Environment, service: str | None) -> str:
    names = [s.name for s in environment.settings.services]
    problems = []
    if service is None:
        problems.append("pass --service S (or --infrastructure)")
    elif service not in names:
        problems.append(
            f"--service {service}: no such service in {environment.name} "
            f"(services: {', '.join(names)})"
        )
    if problems:
        raise UserError("; ".join(problems))
    assert service is not None
    return service


def check_image_target(project_dir: Path, environment: str, service: str) -> None:
    """`--image` writes the release file's image, which an environment's own image would hide."""
    content, _ = releases.read(project_dir)
    entry = content.get(service)
    # A file of another shape is said by `load`, which reads every release file.
    environments = entry.get("environments") if isinstance(entry, dict) else None
    own = environments.get(environment) if isinstance(environments, dict) else None
    if isinstance(own, dict) and "image" in own:
        raise UserError(
            f"--image: releases/{service}.yaml sets environments.{environment}.image, which "
            f"{environment} deploys instead: change it there (or remove it to use --image)"
        )


def up(stack: str, args: argparse.Namespace) -> int:
    """`python -m ops up --stack <stack> --yes`, its exit status."""
    return _ops_up(["--stack", stack], args)


def _ops_up(arguments: list[str], args: argparse.Namespace) -> int:
    """`python -m ops up <arguments> --yes` with the options `ops release` passes on, in this
    process (no second interpreter to start), its exit status."""
    # Imported here: ops.__main__ imports every command module, this one included.
    from ops.__main__ import main

    passed = [*arguments, "--yes", *_passed_on(args)]
    if args.output != "auto":
        passed += ["--output", args.output]
    return main(["up", *passed])


def _passed_on(args: argparse.Namespace) -> list[str]:
    """The `ops up` options `ops release` passes to every update it runs."""
    return [
        *(["--message", args.message] if args.message else []),
        *(["--no-policy"] if args.no_policy else []),
    ]


def create_service_stacks(environment: Environment) -> None:
    """Every service stack, empty if new: an infrastructure stack reads them (its contracts wait
    for their releases) and a reference to a stack that does not exist fails the update."""
    for service in environment.settings.services:
        automation.select(environment.service_stack(service.name))


def deploy_infrastructure(environment: Environment, args: argparse.Namespace) -> int:
    """The infrastructure stacks wave by wave, as `ops up --env E --layout per-region` deploys
    region stacks (ops/waves.py)."""
    create_service_stacks(environment)
    return _ops_up(["--env", environment.name, "--layout", "per-region"], args)


def run(args: argparse.Namespace) -> int:
    project_dir = automation.PROJECT_DIR
    if args.infrastructure:
        if args.service or args.image or args.migrations:
            raise UserError(
                "--infrastructure deploys every region's stack: no --service, "
                "--image or --migrations with it"
            )
        return deploy_infrastructure(load(args.env, project_dir), args)
    if args.image is not None and (reason := unpinned_reason(args.image)):
        raise UserError(f"--image {args.image} {reason}: {HOW_TO_PIN}")
    image = (args.service, args.image) if args.service and args.image else None
    if image is not None:
        check_image_target(project_dir, args.env, args.service)
    environment = load(args.env, project_dir, image)
    service = check_service(environment, args.service)
    settings = environment.settings
    infrastructure, released = exports_for(environment, service)
    missing = service_guard.missing_migrations(settings, service, infrastructure)
    if args.migrations:
        if not missing:
            print(f"{service}: every expand migration it requires has run; nothing to deploy first")
            return 0
        print("\n".join(missing))
        print("Deploying the infrastructure stacks first.", flush=True)
        return deploy_infrastructure(environment, args)
    found = missing + service_guard.missing_services(settings, service, released)
    if found:
        raise UserError(f"release of {service} refused, nothing deployed:\n" + "\n".join(found))
    if args.image:
        path = releases.write_image(project_dir, service, args.image)
        print(f"wrote {args.image} into {path.relative_to(project_dir)}", flush=True)
    return up(environment.service_stack(service), args)
