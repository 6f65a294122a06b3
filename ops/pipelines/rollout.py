"""An environment's region stacks in their waves, and how every generated pipeline sets up a job
to deploy them, whatever the CI system."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ops import UserError

PYTHON_VERSION = "3.11"
# Region jobs and the approval job run `make venv` and nothing else of the Makefile: `make setup`
# builds an offline engine for this repository's own tests, never for a CI runner.
MAKE_VENV = "make venv"
# The official CLI's documented installer, for CI systems without a Pulumi setup step of their own.
INSTALLER = "curl -fsSL https://get.pulumi.com | sh -s -- --version {version}"
INSTALLER_PATH = 'export PATH="$HOME/.pulumi/bin:$PATH"'
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
    def install_cli(self) -> tuple[str, str]:
        return (INSTALLER.format(version=self.pulumi_version), INSTALLER_PATH)


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
