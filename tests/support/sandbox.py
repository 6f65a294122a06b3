"""A copy of this Pulumi project with its own file backend, stacks, local clusters and rendered/
folder, driven by the engine that scripts/install-engine builds: for the engine tests and
benchmarks."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from deploypaths.mock_run import PROJECT_DIR
from ops import UserError, automation

ENGINE_HOME = automation.engine_home(os.environ)
PASSPHRASE = "deploypaths-sandbox"
# `local/` holds the latency file the local stack (and every test stack made from it) names.
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "deploypaths", "local")


def engine_environment(project: Path) -> dict[str, str]:
    if not (ENGINE_HOME / "bin" / "pulumi").exists():
        raise UserError(
            f"no Pulumi engine at {ENGINE_HOME}: run `make setup` (scripts/install-engine) first"
        )
    return {
        **os.environ,
        "PATH": f"{ENGINE_HOME / 'bin'}{os.pathsep}{os.environ['PATH']}",
        **automation.engine_variables(ENGINE_HOME),
        "PULUMI_BACKEND_URL": f"file://{project / '.state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "DEPLOYPATHS_PROJECT_DIR": str(project),
        # The engine's temporary files (see ops.automation.engine_scratch) go with the sandbox.
        "TMPDIR": str(project / ".tmp"),
    }


TEST_OWNER = {"team": "tests", "approvers": ["@acme/tests"]}


def _owned(entry: Any) -> Any:
    if isinstance(entry, dict) and "owner" not in entry:
        return {**entry, "owner": TEST_OWNER}
    return entry


class Sandbox:
    """One project copy; its stacks are written the way a user edits Pulumi.<stack>.yaml."""

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
        (root / ".tmp").mkdir()
        self.env = engine_environment(root)
        self.policy_pack = PROJECT_DIR / "policy"

    def stack_file(self, stack: str) -> Path:
        return self.root / f"Pulumi.{stack}.yaml"

    def write_config(self, stack: str, config: dict[str, Any]) -> None:
        """Set a stack's `deploypaths:` values (keys without the namespace). A service or
        migration without an owner gets the tests' own: the `paths-have-owners` policy requires
        one of a stack without a policy config (the pack fails closed), as of prod."""
        path = self.stack_file(stack)
        document = yaml.safe_load(path.read_text()) if path.exists() else {}
        config = {**config}
        for key in ("services", "migrations"):
            if isinstance(config.get(key), list):
                config[key] = [_owned(entry) for entry in config[key]]
        document["config"] = {f"deploypaths:{key}": value for key, value in config.items()}
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def read_config(self, stack: str) -> dict[str, Any]:
        document = yaml.safe_load(self.stack_file(stack).read_text())
        return {key.split(":", 1)[1]: value for key, value in document["config"].items()}

    def stack(self, name: str) -> auto.Stack:
        options = auto.LocalWorkspaceOptions(
            env_vars={
                key: value
                for key, value in self.env.items()
                if key.startswith(("PULUMI_", "PATH", "DEPLOYPATHS_", "TMPDIR"))
            },
            pulumi_command=auto.PulumiCommand(root=str(ENGINE_HOME)),
        )
        return auto.create_or_select_stack(name, work_dir=str(self.root), opts=options)

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args], cwd=self.root, env=self.env, capture_output=True, text=True
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    @contextlib.contextmanager
    def clusters(self, stack: str) -> Iterator[dict[str, Path]]:
        """The stack's local clusters (`ops local up`), deleted on the way out; yields each
        region's kubeconfig. The stack's config must name `kubeconfig_dir: .clusters/<stack>`."""
        started = self.ops("local", "up", "--stack", stack)
        try:
            if started.returncode != 0:
                raise RuntimeError(f"ops local up failed: {started.stderr}{started.stdout}")
            folder = self.root / ".clusters" / stack
            yield {path.stem: path for path in sorted(folder.glob("*.yaml"))}
        finally:
            deleted = self.ops("local", "delete", "--stack", stack)
        if deleted.returncode != 0:
            raise RuntimeError(f"ops local delete failed: {deleted.stderr}{deleted.stdout}")

    def ops(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops", *args],
            cwd=PROJECT_DIR,
            env=self.env,
            capture_output=True,
            text=True,
        )

    def rendered(self, stack: str) -> dict[str, str]:
        """Every rendered manifest of a stack: `region/1-manifest/file` -> content."""
        base = self.root / "rendered" / stack
        return {
            str(path.relative_to(base)): path.read_text() for path in sorted(base.rglob("*.yaml"))
        }
