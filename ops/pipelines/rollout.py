"""What every generated pipeline deploys, whatever the CI system: an environment's region stacks
in its waves, behind one approval, each stack by the project's own `ops` commands."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from deploypaths.validation import ConfigError, parse_settings
from ops import UserError

PYTHON_VERSION = "3.11"
# Region jobs and the approval job run `make venv` and nothing else of the Makefile: `make setup`
# builds an offline engine for this repository's own tests, never for a CI runner.
MAKE_VENV = "make venv"
# The official CLI's documented installer, for CI systems without a Pulumi setup step of their own.
INSTALLER = "curl -fsSL https://get.pulumi.com | sh -s -- --version {version}"
INSTALLER_PATH = 'export PATH="$HOME/.pulumi/bin:$PATH"'
# Each region job runs with STACK set to its region stack.
PREVIEW = '.venv/bin/python -m ops preview --stack "$STACK" --markdown "preview-$STACK.md"'
DEPLOY = '.venv/bin/python -m ops up --stack "$STACK" --yes --message "deploy of {commit}"'
# The single-stack pipelines already protect `production` for stack prod; the region pipeline
# asks the same reviewers.
APPROVAL_ENVIRONMENTS = {"prod": "production"}


@dataclass(frozen=True, kw_only=True)
class Rollout:
    environment: str
    waves: tuple[tuple[str, ...], ...]
    pulumi_version: str

    def stack(self, region: str) -> str:
        return f"{self.environment}-{region}"

    @property
    def approval_environment(self) -> str:
        return APPROVAL_ENVIRONMENTS.get(self.environment, self.environment)

    @property
    def plan(self) -> str:
        """What the approval job prints once approved: the waves and the estimated time."""
        return f".venv/bin/python -m ops plan --stack {self.environment}"

    @property
    def install_cli(self) -> tuple[str, str]:
        return (INSTALLER.format(version=self.pulumi_version), INSTALLER_PATH)

    def region_commands(self, commit: str) -> tuple[str, str]:
        """The checks a bare `pulumi up` cannot make and the policy pack, then the deploy; `commit`
        is how the CI system's shell names the commit."""
        return (PREVIEW, DEPLOY.format(commit=commit))


def pulumi_pin(project_dir: Path) -> str:
    """The CLI version every pipeline installs: the Python SDK's exact pin, so they match."""
    found = re.search(
        r"^pulumi==(\S+)$", (project_dir / "requirements.txt").read_text(), re.MULTILINE
    )
    if not found:
        raise UserError(f"{project_dir / 'requirements.txt'}: no exact `pulumi==` pin")
    return found.group(1)


def environments(project_dir: Path) -> list[str]:
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in stack_files(project_dir))


def stack_files(project_dir: Path) -> list[Path]:
    return [p for p in project_dir.glob("Pulumi.*.yaml") if p.name.count(".") == 2]


def rollout_of(environment: str, project_dir: Path) -> Rollout:
    """The environment's waves, read from its stack file and validated as the program does."""
    try:
        config: Mapping[str, str] = load_stack_file(
            project_dir / f"Pulumi.{environment}.yaml", project_dir
        )
        settings = parse_settings(namespace_values(config), stack=environment)
    except (StackFileError, ConfigError) as error:
        raise UserError(str(error)) from None
    return Rollout(
        environment=environment,
        waves=tuple(tuple(wave) for wave in settings.waves),
        pulumi_version=pulumi_pin(project_dir),
    )
