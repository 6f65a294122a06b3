"""Raw `deploypaths:` configuration, from the Pulumi runtime or from stack files on disk."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deploypaths.validation import NAMESPACE

PROJECT_FILE = "Pulumi.yaml"
SECRET_PLACEHOLDER = "[secret]"


def decode(value: str) -> Any:
    """Pulumi hands every config value over as a string; structured ones are JSON."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def namespace_values(flat: Mapping[str, str]) -> dict[str, Any]:
    """`{"deploypaths:regions": "[...]"}` -> `{"regions": [...]}` (other namespaces dropped)."""
    prefix = f"{NAMESPACE}:"
    return {
        key[len(prefix) :]: decode(value) for key, value in flat.items() if key.startswith(prefix)
    }


def from_runtime() -> dict[str, Any]:
    """The program's config as the engine passed it, every key of the namespace included, so
    misspelt keys are reported instead of silently ignored."""
    # The SDK exposes single keys only; its config map is the one place every key is listed.
    import pulumi.runtime.config as runtime_config

    return namespace_values(runtime_config.CONFIG.get())


class StackFileError(Exception):
    """A stack file cannot be read as Pulumi stack configuration."""


def project_defaults(project_dir: Path) -> dict[str, str]:
    """Defaults declared in Pulumi.yaml's `config:` block, flattened as the engine passes them."""
    project = yaml.safe_load((project_dir / PROJECT_FILE).read_text())
    defaults = {}
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, Mapping) and "default" in spec:
            defaults[key] = _encode(spec["default"])
    return defaults


def load_stack_file(path: Path, project_dir: Path) -> dict[str, str]:
    """A stack file's config merged over the project defaults, flattened like the engine's.
    Secure values cannot be decrypted offline; they become a placeholder."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise StackFileError(f"{path}: cannot read stack file: {error}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("config", {}), Mapping):
        raise StackFileError(f"{path}: a stack file is a mapping with a `config:` mapping")
    flat = project_defaults(project_dir)
    for key, value in (document.get("config") or {}).items():
        flat[str(key)] = _encode(_without_secure(value))
    return flat


def _without_secure(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _without_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secure(v) for v in value]
    return value


def _encode(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
