"""Raw `deploypaths:` configuration, from the Pulumi runtime or from stack files on disk."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deploypaths.config.limits import MAX_DEPTH, MAX_VALUES, Breach, check_tree
from deploypaths.config.problems import NAMESPACE

PROJECT_FILE = "Pulumi.yaml"
SECRET_PLACEHOLDER = "[secret]"


def decode(value: str) -> Any:
    """Pulumi hands every config value over as a string; structured ones are JSON."""
    try:
        return json.loads(value)
    except (TypeError, ValueError, RecursionError):
        return value


# Keys of the namespace that only the ops commands read (Pulumi.yaml describes them): the
# latency file `ops plan` and `ops timeline` predict with. The program never sees them.
OPS_KEYS = ("latency",)


def namespace_values(flat: Mapping[str, str]) -> dict[str, Any]:
    """`{"deploypaths:regions": "[...]"}` -> `{"regions": [...]}` (other namespaces and the ops
    commands' own keys dropped)."""
    prefix = f"{NAMESPACE}:"
    return {
        key[len(prefix) :]: decode(value)
        for key, value in flat.items()
        if key.startswith(prefix) and key[len(prefix) :] not in OPS_KEYS
    }


def from_runtime() -> dict[str, Any]:
    """The program's config as the engine passed it, every key of the namespace included, so
    misspelt keys are reported instead of silently ignored."""
    # The SDK exposes single keys only; its config map is the one place every key is listed.
    import pulumi.runtime.config as runtime_config

    return namespace_values(runtime_config.CONFIG.get())


class StackFileError(Exception):
    """A stack file cannot be read as Pulumi stack configuration."""


class _StackFileLoader(yaml.SafeLoader):
    """YAML as Pulumi reads stack files: a date is the string it was written as."""


_StackFileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _json_problem(value: Any) -> str | None:
    """Why a loaded value cannot be config: a non-JSON type, or too many or too deeply nested
    values. Bounded by MAX_VALUES, because YAML aliases let a 1 KB file name billions of them."""
    problem, _ = check_tree(value, MAX_VALUES, refuse=_not_json)
    if problem is Breach.TOO_MANY_VALUES:
        return f"more than {MAX_VALUES} values (YAML aliases expand)"
    if problem is Breach.TOO_DEEP:
        return f"values nested more than {MAX_DEPTH} deep"
    return problem


def _not_json(value: Any) -> str | None:
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            return "a mapping key that is not a string"
        return None
    if value is None or isinstance(value, list | str | bool | int | float):
        return None
    return f"a {type(value).__name__} value (only strings, numbers, booleans, lists, maps)"


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
        document = yaml.load(path.read_text(), Loader=_StackFileLoader) or {}
    except (OSError, yaml.YAMLError, ValueError, RecursionError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StackFileError(f"{path}: cannot read stack file: {reason}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("config", {}), Mapping):
        raise StackFileError(f"{path}: a stack file is a mapping with a `config:` mapping")
    flat = project_defaults(project_dir)
    for key, value in (document.get("config") or {}).items():
        problem = _json_problem(value)
        if problem:
            raise StackFileError(f"{path}: config key {str(key)[:80]!r} holds {problem}")
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
