"""The real Pulumi engine (built by scripts/install-engine) on copies of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

from ops.mock_run import PROJECT_DIR

ENGINE_HOME = Path(
    os.environ.get("DEPLOYPATHS_ENGINE_HOME") or Path.home() / ".cache" / "deploypaths" / "engine"
)
PASSPHRASE = "deploypaths-engine-tests"
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "deploypaths")


def engine_environment(project: Path) -> dict[str, str]:
    if not (ENGINE_HOME / "bin" / "pulumi").exists():
        pytest.fail(
            f"no Pulumi engine at {ENGINE_HOME}: run `make setup` (scripts/install-engine) first",
            pytrace=False,
        )
    return {
        **os.environ,
        "PATH": f"{ENGINE_HOME / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_HOME": str(ENGINE_HOME / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_BACKEND_URL": f"file://{project / '.state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "DEPLOYPATHS_PROJECT_DIR": str(project),
    }


class Project:
    """A copy of the Pulumi project with its own file backend, stacks and rendered/ folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in PROJECT_FILES:
            source = PROJECT_DIR / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(source, root / name)
        (root / ".venv").symlink_to(PROJECT_DIR / ".venv")
        (root / ".state").mkdir()
        self.env = engine_environment(root)
        self.policy_pack = PROJECT_DIR / "policy"

    def stack_file(self, stack: str) -> Path:
        return self.root / f"Pulumi.{stack}.yaml"

    def write_config(self, stack: str, config: dict) -> None:
        """Write a stack's `deploypaths:` values the way a user edits Pulumi.<stack>.yaml."""
        path = self.stack_file(stack)
        document = yaml.safe_load(path.read_text()) if path.exists() else {}
        document["config"] = {f"deploypaths:{key}": value for key, value in config.items()}
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def read_config(self, stack: str) -> dict:
        document = yaml.safe_load(self.stack_file(stack).read_text())
        return {key.split(":", 1)[1]: value for key, value in document["config"].items()}

    def stack(self, name: str) -> auto.Stack:
        options = auto.LocalWorkspaceOptions(
            env_vars={
                k: v for k, v in self.env.items() if k.startswith(("PULUMI_", "PATH", "DEPLOY"))
            },
            pulumi_command=auto.PulumiCommand(root=str(ENGINE_HOME)),
        )
        return auto.create_or_select_stack(name, work_dir=str(self.root), opts=options)

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["pulumi", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def ops(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ops", *args],
            cwd=PROJECT_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def rendered(self, stack: str) -> dict[str, str]:
        """Every rendered manifest of a stack: `region/file` -> content."""
        base = self.root / "rendered" / stack
        return {
            str(path.relative_to(base)): path.read_text() for path in sorted(base.rglob("*.yaml"))
        }


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return Project(tmp_path_factory.mktemp("project"))
