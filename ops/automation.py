"""Thin Automation API wrappers shared by `ops preview|history|rollback`: select a stack of this
project, collect engine events, page through history, read and write config, list resources.

Everything here needs the Pulumi CLI; the decisions live in pure modules that are tested on
fixtures. The backend is whatever `PULUMI_BACKEND_URL` (or `pulumi login`) says.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from deploypaths import releases
from ops import UserError, region_stacks
from ops.report_history import DEFAULT_PAGE_SIZE, fetch_all

REPO_ROOT = Path(__file__).resolve().parent.parent
# The project directory the commands work on: this repository, or a copy of the project (the
# engine tests use one so that their stacks, stack files and rendered manifests stay apart).
PROJECT_DIR = Path(os.environ.get("DEPLOYPATHS_PROJECT_DIR") or REPO_ROOT)
POLICY_PACK = REPO_ROOT / "policy"
MAX_FAILURE_LINES = 5
DEFAULT_ENGINE_HOME = Path.home() / ".cache" / "deploypaths" / "engine"


def engine_env(environ: Mapping[str, str]) -> tuple[Path | None, dict[str, str]]:
    """Where `scripts/install-engine` put the engine, and the variables `scripts/engine-env`
    would export, for a shell that did not source it. Nothing when `pulumi` is already on PATH
    or no engine was built (the SDK then finds `pulumi` on PATH or says it is missing)."""
    home = engine_home(environ)
    on_path = any(
        (Path(d) / "pulumi").exists() for d in environ.get("PATH", "").split(os.pathsep) if d
    )
    if on_path or not (home / "bin" / "pulumi").exists():
        return None, {}
    # The language host and plugin shims sit next to the CLI, so the engine needs them on PATH.
    env = {"PATH": os.pathsep.join([str(home / "bin"), environ.get("PATH", "")])}
    env.update({k: v for k, v in engine_variables(home).items() if k not in environ})
    return home, env


def engine_home(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("DEPLOYPATHS_ENGINE_HOME") or DEFAULT_ENGINE_HOME)


def engine_variables(home: Path) -> dict[str, str]:
    """Besides PATH, what the engine built into `home` needs: its own plugins, no downloads."""
    return {
        "PULUMI_HOME": str(home / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def workspace_options() -> auto.LocalWorkspaceOptions:
    home, env = engine_env(os.environ)
    command = auto.PulumiCommand(root=str(home)) if home else None
    env["TMPDIR"] = engine_scratch()
    return auto.LocalWorkspaceOptions(env_vars=env, pulumi_command=command)


@functools.cache
def engine_scratch() -> str:
    """A directory of this process's own for the temporary files of the engines it runs, removed
    when it exits: the upstream Kubernetes provider writes the kubeconfig it is given to a new
    file in TMPDIR each time it is configured, for Helm, and never removes it (hundreds a day
    under the engine tests; a kubeconfig can hold credentials)."""
    directory = tempfile.mkdtemp(prefix="deploypaths-engine-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def select(stack: str) -> auto.Stack:
    """An existing stack of this project (the repository root is the work dir); a region stack
    (`<env>-<region>`, see ops.region_stacks) gets its stack file regenerated and is created
    when it does not exist yet."""
    region_stack = region_stacks.sync_stack_file(stack, PROJECT_DIR) is not None
    try:
        if region_stack:
            return auto.create_or_select_stack(
                stack, work_dir=str(PROJECT_DIR), opts=workspace_options()
            )
        return _select_settled(stack)
    except FileNotFoundError:
        raise UserError(
            "the Pulumi CLI is not installed: run `make setup` (or scripts/install-engine)"
        ) from None
    except auto.StackNotFoundError:
        backend = os.environ.get("PULUMI_BACKEND_URL", "the logged-in backend")
        raise UserError(f"there is no stack {stack!r} in {backend}") from None


def _select_settled(stack: str, attempts: int = 3) -> auto.Stack:
    """`select_stack`, again after a moment when it read the file backend's checkpoint while an
    update of the stack was rewriting it (`failed to load checkpoint: EOF`)."""
    for attempt in range(attempts):
        try:
            return auto.select_stack(stack, work_dir=str(PROJECT_DIR), opts=workspace_options())
        except auto.CommandError as error:
            if "failed to load checkpoint" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def project_name() -> str:
    """The Pulumi project's name, from Pulumi.yaml (it is part of every URN)."""
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    return str(document["name"])


def policy_options(stack: str) -> dict[str, list[str]]:
    """The repository's policy pack with the stack's enforcement config, as `pulumi up` in the
    deploy pipeline runs it (no pack in the tree: no policies)."""
    if not (POLICY_PACK / "PulumiPolicy.yaml").exists():
        return {}
    options = {"policy_packs": [str(POLICY_PACK)]}
    # A region stack is enforced as its environment is.
    environment = region_stacks.environment_of(stack, PROJECT_DIR) or stack
    config = POLICY_PACK / "config" / f"{environment}.json"
    if config.exists():
        options["policy_pack_configs"] = [str(config)]
    return options


def failure_text(error: Exception) -> str:
    """A short reason from an engine failure (a CommandError's text holds the whole output):
    its last `error:` lines, each with the `- ` items listed under it (the program's
    configuration problems), else its last lines."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    errors: list[list[str]] = []
    listing = False
    for line in lines:
        if "error:" in line.lower():
            errors.append([line])
            listing = True
        elif listing and line.startswith("- "):
            errors[-1].append(line)
        else:
            listing = False
    chosen = [" ".join(group) for group in errors] or lines
    return "; ".join(chosen[-MAX_FAILURE_LINES:]) or type(error).__name__


# What the engine says when a provider process dies under it (the upstream Kubernetes provider
# did, twice in this project's CI runs), or is killed.
PROVIDER_CRASHES = ("exited prematurely", "error reading from server: EOF", "transport is closing")
PROVIDER_NAME = re.compile(
    r"pulumi-resource-([a-z0-9-]+)|plugin \[?([a-z0-9-]+)|([a-z0-9-]+) provider"
    r"|\b([a-z0-9-]+):[a-z0-9/.]+:[A-Z]\w* \("
)


def provider_crash(texts: Sequence[str]) -> str | None:
    """`the <name> provider exited: <the engine's line>` when one of `texts` says a provider
    process died; None otherwise. A line that names the provider comes first: the resources'
    own errors (`error reading from server: EOF`) often come without it, and last."""
    crashes = [
        line
        for text in texts
        for line in text.splitlines()
        if any(crash in line for crash in PROVIDER_CRASHES)
    ]
    for line in crashes:
        found = PROVIDER_NAME.search(line)
        if found:
            name = next(group for group in found.groups() if group)
            return f"the {name} provider exited during the update: {' '.join(line.split())}"
    return (
        f"a provider exited during the update: {' '.join(crashes[0].split())}" if crashes else None
    )


# How the engine names the holder of a stack's lock when it refuses to take it.
LOCKED = "the stack is currently locked"
LOCK_HOLDER = re.compile(r"created by (\S+) \(pid (\d+)\) at (\S+)")


def lock_holder(text: str) -> str | None:
    """`user@host (pid N) since T` when the engine refused because another update holds the
    lock (`another update` when it does not say whose); None for any other failure."""
    if LOCKED not in text and "Another update is currently in progress" not in text:
        return None
    found = LOCK_HOLDER.search(text)
    if not found:
        return "another update"
    who, pid, since = found.groups()
    return f"{who} (pid {pid}) since {since.replace('T', ' ').rstrip('Z')}"


class EventLog:
    """Collects engine events; the SDK calls `on_event` from its log-watcher thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[auto.EngineEvent] = []

    def on_event(self, event: auto.EngineEvent) -> None:
        with self._lock:
            self.events.append(event)


def history(
    stack: auto.Stack, *, page_size: int = DEFAULT_PAGE_SIZE, show_secrets: bool
) -> list[auto.UpdateSummary]:
    """The whole history, newest first (see `report_history.fetch_all`)."""
    return fetch_all(
        lambda size, page: stack.history(page_size=size, page=page, show_secrets=show_secrets),
        page_size=page_size,
    )


def resources(stack: auto.Stack) -> list[dict[str, Any]]:
    """The stack's resources from its checkpoint (`urn`, `type`, `parent`, ...)."""
    deployment = stack.export_stack().deployment or {}
    return [dict(r) for r in deployment.get("resources") or []]


def config_json(values: Mapping[str, auto.ConfigValue]) -> str:
    """The `pulumi config --json` shape that `config set-all --json` reads back. Structured
    values carry `objectValue`, so lists and maps stay YAML structures in the stack file instead
    of becoming JSON strings."""
    document = {}
    for key, value in values.items():
        entry: dict[str, Any] = {"value": value.value, "secret": value.secret}
        try:
            decoded = json.loads(value.value)
        except (TypeError, ValueError):
            decoded = None
        if isinstance(decoded, dict | list):
            entry["objectValue"] = decoded
        document[key] = entry
    return json.dumps(document)


def write_config(
    stack: auto.Stack, *, set_values: Mapping[str, auto.ConfigValue], remove: Sequence[str] = ()
) -> None:
    if set_values:
        stack.set_all_config_json(config_json(set_values))
    if remove:
        stack.remove_all_config(list(remove))


def program_config(stack: auto.Stack) -> dict[str, auto.ConfigValue]:
    """The config an update of `stack` runs the program with: its stack file's, with the release
    files recorded as `deploypaths:releases` (deploypaths/releases.py) unless it sets that key."""
    config = dict(stack.get_all_config())
    for key, value in _recorded_releases(config).items():
        config[key] = auto.ConfigValue(json.dumps(value))
    return config


@contextmanager
def update_config_file(stack: str, values: Mapping[str, str] | None = None) -> Iterator[str]:
    """A copy of the stack's file for one update (`up(config_file=...)`), beside it, removed
    afterwards: `values` (JSON) set in it, and the release files recorded, so the update's
    history entry says which release it ran. The stack file itself is never written."""
    original = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    document = (yaml.safe_load(original.read_text()) if original.exists() else None) or {}
    config = document.setdefault("config", {})
    config.update(_recorded_releases(config))
    for key, value in (values or {}).items():
        config[key] = json.loads(value)
    handle, name = tempfile.mkstemp(prefix=f".{original.stem}.", suffix=".yaml", dir=PROJECT_DIR)
    try:
        with os.fdopen(handle, "w") as out:
            yaml.safe_dump(document, out, sort_keys=False)
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def _recorded_releases(config: Mapping[str, Any]) -> dict[str, Any]:
    """The key to add to `config` for the release files (none when it sets the key itself or
    the project has no release files)."""
    recorded = releases.recorded(PROJECT_DIR)
    if not recorded or releases.NAMESPACE_KEY in config:
        return {}
    return {releases.NAMESPACE_KEY: recorded}
