"""Release files: `releases/<service>.yaml` beside the stack files, what a team edits to ship.

    image: registry.example.com/shop/payments:2.4.1     # every environment
    replicas: 3                                         # optional
    environments:                                       # optional, per environment stack
      prod: {image: registry.example.com/shop/payments:2.4.0, replicas: 6}

A release file overrides its service's `image` and `replicas` in the stack file, the
environment's entry over the file's own; a service without one keeps the stack file's values.
The program reads them with its config (`apply`), so every command that runs the program (ops
up, preview, plan, release) sees them, and a mistake in one fails validation with the rest:
one line per problem, naming the file, the key and what is allowed.

Every update `ops` runs records the release files it deployed as the config key
`deploypaths:releases` (a copy of the stack file for that update, never the stack file itself:
ops/automation.py), so `Stack.history()` says which release each update ran and a rollback goes
back to it. When the config has that key, the program applies it instead of the files.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deploypaths.image_pinning import unpinned_reason

RELEASES_DIR = "releases"
# The config key (of the `deploypaths:` namespace) that records the release files an update ran.
CONFIG_KEY = "releases"
NAMESPACE_KEY = f"deploypaths:{CONFIG_KEY}"
PINNED = "an image pinned by a version tag (app:1.4.2) or a digest (app@sha256:...)"
RELEASE_KEYS = ("image", "replicas")
FILE_KEYS = (*RELEASE_KEYS, "environments")


class ReleaseFileError(Exception):
    """Release files that cannot apply; the message has one line per problem."""


def release_file(project_dir: Path, service: str) -> Path:
    return project_dir / RELEASES_DIR / f"{service}.yaml"


def read(project_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Every release file's content by service, and why any cannot be read."""
    found: dict[str, Any] = {}
    problems = []
    for path in sorted((project_dir / RELEASES_DIR).glob("*.yaml")):
        where = f"{RELEASES_DIR}/{path.name}"
        try:
            found[path.stem] = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            problems.append(f"{where}: not readable as YAML ({error})")
    return found, problems


def problems(
    releases: Mapping[str, Any], services: Mapping[str, Any], environments: list[str] | None
) -> list[str]:
    """Every problem of the release files against the config's services and environments (not
    checked when None: recorded files name the environments of their day)."""
    found = []
    for service, content in releases.items():
        where = f"{RELEASES_DIR}/{service}.yaml"
        if service not in services:
            found.append(
                f"{where}: no service {service} in the config "
                f"(services: {', '.join(sorted(services)) or 'none'})"
            )
            continue
        if not isinstance(content, Mapping):
            found.append(f"{where}: must be a mapping of {', '.join(FILE_KEYS)}")
            continue
        found += _entry_problems(where, content, FILE_KEYS)
        per_environment = content.get("environments", {})
        if not isinstance(per_environment, Mapping):
            found.append(f"{where}: environments: must be a mapping of environment to release")
            continue
        for environment, entry in per_environment.items():
            at = f"{where}: environments.{environment}"
            if environments is not None and environment not in environments:
                found.append(f"{at}: no such environment (stacks: {', '.join(environments)})")
            elif not isinstance(entry, Mapping):
                found.append(f"{at}: must be a mapping of {', '.join(RELEASE_KEYS)}")
            else:
                found += _entry_problems(at, entry, RELEASE_KEYS)
    return found


def _entry_problems(where: str, entry: Mapping[str, Any], allowed: tuple[str, ...]) -> list[str]:
    found = [
        f"{where}: key {key!r} is not allowed (allowed: {', '.join(allowed)})"
        for key in entry
        if key not in allowed
    ]
    image = entry.get("image")
    if "image" in entry and not isinstance(image, str):
        found.append(f"{where}: image: {image!r} is not a string")
    elif isinstance(image, str) and (reason := unpinned_reason(image)):
        found.append(f"{where}: image {image!r} {reason}; allowed: {PINNED}")
    replicas = entry.get("replicas")
    if "replicas" in entry and (
        not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0
    ):
        found.append(f"{where}: replicas: {replicas!r} must be a whole number, 0 or more")
    return found


def apply(
    raw: Mapping[str, Any], environment: str, project_dir: Path, environments: list[str]
) -> dict[str, Any]:
    """The config with the release files applied to its services (the recorded `releases` key
    instead, when the config has one); ReleaseFileError, naming every problem, when one cannot
    apply."""
    if CONFIG_KEY in raw:
        return apply_recorded(raw, environment)
    releases, found = read(project_dir)
    if not releases and not found:
        return dict(raw)
    return _applied(raw, environment, releases, found, environments)


def apply_recorded(raw: Mapping[str, Any], environment: str) -> dict[str, Any]:
    """The config with the release files it recorded (`releases`) applied, the key removed; a
    config that recorded none, as it is."""
    recorded = raw.get(CONFIG_KEY)
    rest = {key: value for key, value in raw.items() if key != CONFIG_KEY}
    if recorded is None:
        return rest
    if not isinstance(recorded, Mapping):
        raise ReleaseFileError(
            f"{NAMESPACE_KEY}: must be a mapping of service to release file, not {recorded!r}"
        )
    return _applied(rest, environment, recorded, [], None)


def recorded(project_dir: Path) -> dict[str, Any]:
    """The release files as the config key records them (an empty mapping: none)."""
    releases, _ = read(project_dir)
    return releases


def _applied(
    raw: Mapping[str, Any],
    environment: str,
    releases: Mapping[str, Any],
    found: list[str],
    environments: list[str] | None,
) -> dict[str, Any]:
    entries = raw.get("services")
    services = {
        entry["name"]: entry
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    }
    found = found + problems(releases, services, environments)
    if found:
        raise ReleaseFileError("\n".join(found))
    applied = copy.deepcopy(dict(raw))
    for entry in applied.get("services") or []:
        content = releases.get(str(entry.get("name"))) if isinstance(entry, dict) else None
        if content is None:
            continue
        for key in RELEASE_KEYS:
            if key in content:
                entry[key] = content[key]
        for key, value in (content.get("environments") or {}).get(environment, {}).items():
            entry[key] = value
    return applied


def environments_of(project_dir: Path) -> list[str]:
    """The environments a release file may name: the project's own stack files."""
    return sorted(
        path.name[len("Pulumi.") : -len(".yaml")]
        for path in project_dir.glob("Pulumi.*.yaml")
        if path.name.count(".") == 2 and not _generated(path)
    )


def _generated(path: Path) -> bool:
    """Region and service stacks' files are copies of their environment's (ops.region_stacks)."""
    with path.open() as text:
        return text.readline().startswith("# Generated from Pulumi.")


def write_image(project_dir: Path, service: str, image: str) -> Path:
    """`ops release --image`: the image written into the service's release file, every other
    line of the file kept as it was."""
    path = release_file(project_dir, service)
    lines = path.read_text().splitlines(keepends=True) if path.is_file() else []
    for index, line in enumerate(lines):
        if line.startswith("image:"):
            lines[index] = f"image: {image}\n"
            break
    else:
        lines.insert(0, f"image: {image}\n")
    # Whole or not at all: a release of another service reads every release file meanwhile.
    path.parent.mkdir(parents=True, exist_ok=True)
    written = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    written.write_text("".join(lines))
    os.replace(written, path)
    return path
