"""The decisions of `ops rollback`, pure: which update to go back to, which config keys to set
or remove, which URNs the `up` targets, or a refusal (UserError) saying why not. The command
(`ops.rollback.command`) reads the stack, asks, previews and deploys.
"""

from __future__ import annotations

import copy
import getpass
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi.automation import ConfigValue, UpdateSummary

from deploypaths import releases
from deploypaths.config.settings import Migration, Service, Settings
from deploypaths.identity import (
    PathIdentity,
    children_pattern,
    path_component_urn,
    urn_name,
)
from deploypaths.stack_config import SECRET_PLACEHOLDER, decode
from deploypaths.validation import NAMESPACE, ConfigError
from ops import UserError
from ops.config_diff import (
    diff_fields,
    diff_paths,
    migration_list_change,
    release_fields,
    release_override,
    settings_changes,
    settings_of,
)
from ops.report_history import grouped_changes

REGIONS_KEY = f"{NAMESPACE}:regions"
RELEASES_KEY = releases.NAMESPACE_KEY
# What `pulumi stack history --show-secrets` says for a secret it cannot decrypt.
UNREADABLE_SECRETS = (SECRET_PLACEHOLDER, "ERROR_UNABLE_TO_DECRYPT")


@dataclass
class RollbackPlan:
    stack: str
    version: int
    subject: str
    message: str
    set_values: dict[str, ConfigValue] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    # None: the whole stack; otherwise the URNs and URN patterns `up --target` gets.
    targets: list[str] | None = None
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.set_values and not self.remove


def find_update(history: Sequence[UpdateSummary], version: int, *, force: bool) -> UpdateSummary:
    """The update to roll back to, or a refusal saying why it cannot be one."""
    by_version = {s.version: s for s in history if s.version is not None}
    if version not in by_version:
        known = sorted(by_version)
        what = f"versions {known[0]} to {known[-1]} exist" if known else "it has no history"
        raise UserError(f"stack has no update with version {version} ({what})")
    summary = by_version[version]
    if summary.kind != "update":
        raise UserError(
            f"version {version} is a {summary.kind}, not an update: roll back to an update"
        )
    if not summary.config:
        raise UserError(f"version {version} has no recorded configuration to roll back to")
    if summary.result != "succeeded" and not force:
        raise UserError(
            f"version {version} did not succeed ({summary.result}): its configuration never "
            "fully deployed; pass --force to roll back to it anyway"
        )
    return summary


def parse_path(text: str, settings: Settings) -> PathIdentity:
    """One `--path`, checked against today's configuration: a service path
    (`orders@eu-west-1`), a region (every service of it), or a migration path
    (`orders-add-index@eu-west-1`: its `down` runs)."""
    regions = settings.region_names
    path = PathIdentity.parse_id(text)
    if path.kind == "region":
        if path.region not in regions:
            raise UserError(
                f"{text!r} is neither a path (service@region) nor a region of the stack "
                f"(regions: {', '.join(regions)})"
            )
        return path
    if path.region not in regions:
        raise UserError(
            f"{text}: no region {path.region!r} in the stack (regions: {', '.join(regions)})"
        )
    if path.name in {m.name for m in settings.migrations}:
        return PathIdentity.parse_id(text, kind="migration")
    services = [s.name for s in settings.services_in(path.region)]
    if path.name not in services:
        raise UserError(
            f"{text}: no service {path.name!r} runs in {path.region} today "
            f"(services there: {', '.join(services) or 'none'})"
        )
    return path


def contract_crossings(now: Settings, then: Settings) -> list[Migration]:
    """Contract migrations of today's configuration that the older one lacks."""
    older = {m.name for m in then.migrations}
    return [m for m in now.migrations if m.phase == "contract" and m.name not in older]


def crossing_message(crossings: Sequence[Migration], version: int) -> str:
    names = ", ".join(f"{m.name!r}" for m in crossings)
    return (
        f"contract migration {names} is in today's configuration but not in version {version}'s: "
        f"it ran (or will run) after version {version} and may have dropped what the release of "
        f"version {version} still reads. Roll forward with a fix instead"
    )


def _service(settings: Settings, name: str, region: str | None = None) -> Service | None:
    services = settings.services_in(region) if region else settings.services
    return next((s for s in services if s.name == name), None)


def path_rollback_regions(
    raw_regions: Sequence[Mapping[str, Any]],
    *,
    now: Settings,
    then: Settings,
    specs: Sequence[PathIdentity],
    version: int,
) -> tuple[list[dict[str, Any]], list[tuple[PathIdentity, Service, Service]]]:
    """Today's raw `regions` with each path's override pinned to its release at `version` (or
    removed when that is today's service-level release), and (path, before, after) per path."""
    regions = [dict(copy.deepcopy(entry)) for entry in raw_regions]
    rolled: list[tuple[PathIdentity, Service, Service]] = []
    for spec in specs:
        paths = (
            [spec]
            if spec.kind == "service"
            else [
                PathIdentity("service", s.name, spec.region) for s in now.services_in(spec.region)
            ]
        )
        entry = next(e for e in regions if e.get("name") == spec.region)
        for path in paths:
            name = path.name
            if path in {done for done, _, _ in rolled}:
                continue
            if _service(then, name) is None:
                raise UserError(
                    f"{path.id}: service {name!r} did not exist at version {version}: there is no "
                    "release to roll back to"
                )
            old = _service(then, name, spec.region) if spec.region in then.region_names else None
            if old is None:
                raise UserError(
                    f"{path.id} did not run at version {version}: nothing to roll back to"
                )
            current = _service(now, name, spec.region)
            service_level = _service(now, name)
            assert current is not None and service_level is not None
            overrides = dict(entry.get("overrides") or {})
            pinned = release_override(old)
            if old.verify is None and service_level.verify is not None:
                pinned["verify"] = False  # that release ran no verification
            if pinned == release_override(service_level):
                overrides.pop(name, None)
            else:
                overrides[name] = pinned
            if overrides:
                entry["overrides"] = overrides
            else:
                entry.pop("overrides", None)
            rolled.append((path, current, old))
    return regions, rolled


def stack_rollback_config(
    now: Mapping[str, ConfigValue],
    then: Mapping[str, ConfigValue],
    defaults: Mapping[str, str],
    *,
    version: int,
) -> tuple[dict[str, ConfigValue], list[str]]:
    """(keys to set, keys to remove) that make today's config the one recorded at `version`."""
    set_values: dict[str, ConfigValue] = {}
    for key, value in then.items():
        if value.secret and value.value in UNREADABLE_SECRETS:
            raise UserError(
                f"the secret {key} of version {version} cannot be decrypted with the stack's "
                "secrets provider today, so it cannot be put back"
            )
        current = now.get(key)
        if current is not None and current.secret == value.secret and _same(current, value):
            continue
        if current is None and not value.secret and _same_text(defaults.get(key), value.value):
            continue  # the project default already gives this value
        set_values[key] = ConfigValue(value=value.value, secret=value.secret)
    remove = []
    for key, current in now.items():
        if key in then:
            continue
        if key in defaults:
            # Unset at `version` meant the project default; the key may only exist as that default.
            if not _same_text(defaults[key], current.value):
                set_values[key] = ConfigValue(value=defaults[key], secret=False)
        else:
            remove.append(key)
    return set_values, sorted(remove)


def _same_text(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and decode(a) == decode(b)


def _same(a: ConfigValue, b: ConfigValue) -> bool:
    return _same_text(a.value, b.value)


def glob_matches(pattern: str, urn: str) -> bool:
    """The engine's `--target` pattern semantics: `**` matches anything, `*` anything but `:`."""
    parts = [
        "[^:]*".join(re.escape(piece) for piece in segment.split("*"))
        for segment in pattern.split("**")
    ]
    return re.fullmatch(".*".join(parts), urn) is not None


def path_targets(
    component: str, resources: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str]]:
    """(targets, warnings) for one component: its URN, every descendant in the checkpoint, and a
    pattern for children the old release adds back, unless that pattern would catch another
    path's resources (then the new children are not targeted and the warning says so). What
    waits for them outside is not targeted: `ops rollback` has it let go of them in the state
    first (`ops.rollback.holds`)."""
    children: dict[str, list[str]] = {}
    urns = []
    for resource in resources:
        urn = str(resource.get("urn", ""))
        urns.append(urn)
        if resource.get("parent"):
            children.setdefault(str(resource["parent"]), []).append(urn)
    descendants: list[str] = []
    frontier = [component]
    while frontier:
        found = [child for parent in frontier for child in children.get(parent, [])]
        descendants += found
        frontier = found
    name = urn_name(component)
    pattern = children_pattern(component)
    strays = [
        urn
        for urn in urns
        if glob_matches(pattern, urn) and urn != component and urn not in descendants
    ]
    targets = [component, *sorted(descendants)]
    warnings = []
    if strays:
        warnings.append(
            f"not targeting new children of {name} by pattern: {pattern} also matches {strays[0]}"
        )
    else:
        targets.append(pattern)
    return targets, warnings


def rollback_message(subject: str, version: int, user: str) -> str:
    return f"rollback of {subject} to version {version} (by {user})"


def _release_change_line(path: PathIdentity, before: Service, after: Service, version: int) -> str:
    # A path rollback pins the release; the flags stay today's, so they are not listed.
    fields = diff_fields(release_fields(before), release_fields(after))
    if not fields:
        return f"{path.id}: already runs the release of version {version}"
    text = ", ".join(f"{f.name} {f.before} -> {f.after}" for f in fields)
    return f"{path.id}: {text}"


def plan_rollback(
    *,
    stack: str,
    project: str,
    version: int,
    paths: Sequence[str],
    force: bool,
    history: Sequence[UpdateSummary],
    config_now: Mapping[str, ConfigValue],
    defaults: Mapping[str, str],
    resources: Sequence[Mapping[str, Any]] | None,
    user: str,
) -> RollbackPlan:
    """Every decision of a rollback: which config keys, which targets, or a refusal (UserError)."""
    then_summary = find_update(history, version, force=force)
    config_then: Mapping[str, ConfigValue] = then_summary.config
    try:
        now = settings_of(config_now, stack=stack)
    except ConfigError as error:
        raise UserError(
            f"today's configuration of stack {stack} does not validate:\n{error}"
        ) from None
    try:
        then = settings_of(config_then, stack=stack)
    except ConfigError as error:
        raise UserError(
            f"version {version}'s configuration does not pass today's validation, so the program "
            f"would refuse it:\n{error}"
        ) from None
    crossings = contract_crossings(now, then)
    if paths:
        specs = list(dict.fromkeys(parse_path(text, now) for text in paths))
        migration_specs = [spec for spec in specs if spec.kind == "migration"]
        if migration_specs:
            if len(migration_specs) != len(specs):
                raise UserError(
                    "roll migration paths back on their own: their `down` runs, while a service "
                    "path's release is pinned"
                )
            return migration_rollback(
                stack=stack,
                project=project,
                version=version,
                specs=migration_specs,
                now=now,
                then=then,
                config_now=config_now,
                resources=resources or [],
                user=user,
            )
        if crossings:
            raise UserError(
                f"cannot roll {', '.join(s.id for s in specs)} back: "
                + crossing_message(crossings, version)
            )
        plan = paths_plan(stack, version, specs, user)
        raw_regions = decode(config_now[REGIONS_KEY].value)
        regions, rolled = path_rollback_regions(
            raw_regions, now=now, then=then, specs=specs, version=version
        )
        if regions != raw_regions:
            plan.set_values[REGIONS_KEY] = ConfigValue(value=json.dumps(regions), secret=False)
            candidate = {**config_now, **plan.set_values}
            try:
                settings_of(candidate, stack=stack)
            except ConfigError as error:
                raise UserError(
                    f"the rolled-back configuration does not validate:\n{error}"
                ) from None
        plan.changes = [
            _release_change_line(path, before, after, version) for path, before, after in rolled
        ]
        for path, before, after in rolled:
            if release_fields(before) == release_fields(after):
                continue  # already at that release: nothing of this path changes
            targets, warnings = path_targets(
                path_component_urn(stack, project, path), resources or []
            )
            plan.targets = list(dict.fromkeys([*(plan.targets or []), *targets]))
            plan.warnings += warnings
        return plan
    if crossings and not force:
        raise UserError(
            f"cannot roll stack {stack} back: {crossing_message(crossings, version)} (or pass "
            "--force to put back the whole configuration anyway)"
        )
    plan = RollbackPlan(
        stack=stack,
        version=version,
        subject=stack,
        message=rollback_message(stack, version, user),
    )
    if crossings:
        plan.warnings.append("--force: " + crossing_message(crossings, version))
    plan.set_values, plan.remove = stack_rollback_config(
        config_now, config_then, defaults, version=version
    )
    if RELEASES_KEY in config_now or RELEASES_KEY in config_then:
        pin_recorded_releases(plan, config_now, then, stack=stack)
    plan.changes = grouped_changes(diff_paths(now, then))
    added, removed = migration_list_change(now, then)
    if added:
        plan.changes.append(f"migrations back in the list: {', '.join(added)}")
    if removed:
        plan.changes.append(f"migrations leaving the list: {', '.join(removed)}")
    changed = settings_changes(config_now, config_then)
    if changed:
        plan.changes.append(f"settings changed: {', '.join(changed)}")
    secret_keys = sorted(k for k, v in plan.set_values.items() if v.secret)
    if secret_keys:
        plan.changes.append(f"secrets put back (values not shown): {', '.join(secret_keys)}")
    if plan.remove:
        plan.changes.append(f"keys removed: {', '.join(plan.remove)}")
    return plan


def pin_recorded_releases(
    plan: RollbackPlan, config_now: Mapping[str, ConfigValue], then: Settings, *, stack: str
) -> None:
    """A whole-stack rollback keeps the release files out of the stack file (they stay the
    teams'): each service path whose release at the plan's version (its recorded release files
    applied) differs from what the rolled-back stack file and today's release files give is
    pinned in its region's overrides instead, as `--path` pins one."""
    plan.set_values.pop(RELEASES_KEY, None)
    plan.remove = [key for key in plan.remove if key != RELEASES_KEY]
    after = {k: v for k, v in config_now.items() if k not in plan.remove} | plan.set_values
    try:
        deployed = settings_of(after, stack=stack)
    except ConfigError as error:
        raise UserError(f"the rolled-back configuration does not validate:\n{error}") from None
    differing = [
        PathIdentity("service", service.name, region)
        for region in deployed.region_names
        for service in deployed.services_in(region)
        if (old := _service(then, service.name, region)) is not None
        and release_fields(old) != release_fields(service)
    ]
    if differing:
        regions, _ = path_rollback_regions(
            decode(after[REGIONS_KEY].value),
            now=deployed,
            then=then,
            specs=differing,
            version=plan.version,
        )
        plan.set_values[REGIONS_KEY] = ConfigValue(value=json.dumps(regions), secret=False)


def paths_plan(stack: str, version: int, specs: Sequence[PathIdentity], user: str) -> RollbackPlan:
    """An empty plan for some paths: the update will target only what is added to it."""
    subject = ", ".join(spec.id for spec in specs)
    return RollbackPlan(
        stack=stack,
        version=version,
        subject=subject,
        message=rollback_message(subject, version, user),
        targets=[],
    )


def migrations_to_undo(
    spec: PathIdentity, now: Settings, then: Settings, version: int
) -> list[str]:
    """The named migration and every migration after it that version `version` lacks, newest
    first; a refusal naming each one without a `down`, or when the named one was there then."""
    older = {m.name for m in then.migrations}
    if spec.name in older:
        raise UserError(
            f"{spec.id}: migration {spec.name!r} already ran at version {version}: there "
            "is nothing of it to undo"
        )
    names = [m.name for m in now.migrations]
    added = [m for m in now.migrations[names.index(spec.name) :] if m.name not in older]
    missing = [m for m in added if m.down is None]
    if missing:
        listed = ", ".join(f"{m.phase} migration {m.name!r}" for m in missing)
        raise UserError(
            f"cannot roll {spec.id} back to version {version}: {listed} has no `down` (the "
            "inverse of its change); add one, or roll forward with a fix"
        )
    return [m.name for m in reversed(added)]


def migration_rollback(
    *,
    stack: str,
    project: str,
    version: int,
    specs: Sequence[PathIdentity],
    now: Settings,
    then: Settings,
    config_now: Mapping[str, ConfigValue],
    resources: Sequence[Mapping[str, Any]],
    user: str,
) -> RollbackPlan:
    """Each named migration path runs the `down` of what it added since `version`, newest first
    (the region's `down_migrations`); the update targets those MigrationPath components."""
    plan = paths_plan(stack, version, specs, user)
    regions = [dict(entry) for entry in decode(config_now[REGIONS_KEY].value)]
    for spec in specs:
        undo = migrations_to_undo(spec, now, then, version)
        entry = next(e for e in regions if e.get("name") == spec.region)
        already = list(entry.get("down_migrations") or [])
        entry["down_migrations"] = [*undo, *(name for name in already if name not in undo)]
        for name in undo:
            undone = PathIdentity("migration", name, spec.region)
            plan.changes.append(f"{undone.id}: its `down` runs")
            targets, warnings = path_targets(path_component_urn(stack, project, undone), resources)
            plan.targets = [*(plan.targets or []), *targets]
            plan.warnings += warnings
    plan.set_values[REGIONS_KEY] = ConfigValue(value=json.dumps(regions), secret=False)
    try:
        settings_of({**config_now, **plan.set_values}, stack=stack)
    except ConfigError as error:
        raise UserError(f"the rolled-back configuration does not validate:\n{error}") from None
    return plan


def operator_name(environ: Mapping[str, str]) -> str:
    return environ.get("USER") or environ.get("LOGNAME") or getpass.getuser()
