"""What each deploy path ships according to a recorded stack configuration, and what changed
between two configurations. Pure: works on the flat config maps that history entries, previews
and `get_all_config` hold (`{"deploypaths:regions": "<json>"}`); secret values never get in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deploypaths import layout, releases
from deploypaths.config.problems import ConfigError
from deploypaths.config.settings import OVERRIDABLE_SERVICE_FIELDS, Migration, Service, Settings
from deploypaths.identity import PathIdentity
from deploypaths.stack_config import SECRET_PLACEHOLDER, namespace_values
from deploypaths.validation import parse_settings

# Keys that hold one secret per region; blinded as a whole, they still must look like a mapping.
SECRET_MAPS = ("kubeconfigs", "database_urls")
# Keys whose changes are reported per deploy path rather than as stack settings.
PATH_KEYS = ("regions", "services", "migrations", releases.CONFIG_KEY)


def flat_config(values: Mapping[str, Any]) -> dict[str, str]:
    """`{key: ConfigValue | str}` -> `{key: str}`, with every secret value blinded."""
    flat = {}
    for key, value in values.items():
        if hasattr(value, "secret"):
            flat[key] = SECRET_PLACEHOLDER if value.secret else str(value.value)
        else:
            flat[key] = str(value)
    return flat


def raw_namespace(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The `deploypaths:` keys, decoded, from a flat map of strings or ConfigValues."""
    return namespace_values(flat_config(flat))


def program_values(flat: Mapping[str, Any], *, stack: str) -> dict[str, Any]:
    """The `deploypaths:` values a recorded configuration ran the program with: decoded, the
    release files it recorded applied (raises ConfigError when they cannot apply)."""
    raw = raw_namespace(flat)
    try:
        return releases.apply_recorded(raw, layout.of_stack(stack, raw).environment_stack)
    except releases.ReleaseFileError as error:
        raise ConfigError(stack, str(error).splitlines()) from None


def settings_of(flat: Mapping[str, Any], *, stack: str) -> Settings:
    """Validated Settings of a recorded configuration whose secrets are blinded (raises
    ConfigError), with the release files it recorded applied. A blinded secret map stands in as
    one `[secret]` entry per region."""
    raw = program_values(flat, stack=stack)
    regions = raw.get("regions")
    names = [
        entry["name"]
        for entry in (regions if isinstance(regions, list) else [])
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    ]
    for key in SECRET_MAPS:
        if key in raw and not isinstance(raw[key], Mapping):
            raw[key] = dict.fromkeys(names, SECRET_PLACEHOLDER)
    return parse_settings(raw, stack=stack)


def release_override(service: Service) -> dict[str, Any]:
    """A service's release as a region override (the raw `overrides.<service>` mapping)."""
    return service.model_dump(
        include=set(OVERRIDABLE_SERVICE_FIELDS), exclude_none=True, round_trip=True
    )


def release_fields(service: Service) -> dict[str, Any]:
    """What a service path ships, as flat, printable fields (`canary.image`, ...; none secret)."""
    return _flattened(release_override(service))


def service_fields(service: Service) -> dict[str, Any]:
    """A service path's release and its feature flags, as flat, printable fields."""
    fields = release_fields(service)
    for flag in service.flags:
        state = "on" if flag.enabled else "off"
        fields[f"flags.{flag.name}"] = f"{state} {flag.rollout_percent}%"
    return fields


def _flattened(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, Mapping):
            flat.update(_flattened(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat


def migration_fields(migration: Migration) -> dict[str, Any]:
    return {"image": migration.image, "phase": migration.phase}


def path_fields(settings: Settings) -> dict[PathIdentity, dict[str, Any]]:
    """What every service and migration path of every region ships, after the region's
    overrides."""
    paths: dict[PathIdentity, dict[str, Any]] = {}
    for region in settings.region_names:
        for service in settings.services_in(region):
            paths[PathIdentity("service", service.name, region)] = service_fields(service)
        for migration in settings.migrations:
            paths[PathIdentity("migration", migration.name, region)] = migration_fields(migration)
    return paths


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class PathChange:
    path: PathIdentity  # a service or migration path
    change: str  # "added" | "removed" | "changed"
    fields: tuple[FieldChange, ...] = ()

    @property
    def kind(self) -> str:
        return self.path.kind


def diff_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    names = list(before) + [name for name in after if name not in before]
    return tuple(
        FieldChange(name, before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    )


def diff_paths(before: Settings | None, after: Settings) -> list[PathChange]:
    """Every path whose release differs between two configurations, in `after`'s order."""
    old = path_fields(before) if before else {}
    new = path_fields(after)
    changes = []
    for path, fields in new.items():
        if path not in old:
            changes.append(PathChange(path, "added"))
        else:
            changed = diff_fields(old[path], fields)
            if changed:
                changes.append(PathChange(path, "changed", changed))
    changes += [PathChange(path, "removed") for path in old if path not in new]
    return changes


def migration_list_change(
    before: Settings | None, after: Settings
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(added, removed) migrations of the global, ordered migration list, as `name (phase)`."""
    old = {m.name: m for m in before.migrations} if before else {}
    new = {m.name: m for m in after.migrations}
    added = tuple(f"{m.name} ({m.phase})" for name, m in new.items() if name not in old)
    removed = tuple(f"{m.name} ({m.phase})" for name, m in old.items() if name not in new)
    return added, removed


def changed_keys(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Key paths whose values differ (names only: values may be secret)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        keys = list(before) + [key for key in after if key not in before]
        found = []
        for key in keys:
            found += changed_keys(before.get(key), after.get(key), f"{prefix}{key}.")
        return found
    return [prefix.rstrip(".")] if before != after else []


def settings_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Changed stack-wide settings (everything but the paths), as `deploypaths:` key paths, plus
    changed keys of other namespaces (`aws:region`)."""
    old_raw, new_raw = raw_namespace(before), raw_namespace(after)
    names = [
        name for name in changed_keys(old_raw, new_raw) if name.split(".", 1)[0] not in PATH_KEYS
    ]
    old_other = {k: v for k, v in flat_config(before).items() if not k.startswith("deploypaths:")}
    new_other = {k: v for k, v in flat_config(after).items() if not k.startswith("deploypaths:")}
    others = [
        k for k in sorted(set(old_other) | set(new_other)) if old_other.get(k) != new_other.get(k)
    ]
    return names + others
