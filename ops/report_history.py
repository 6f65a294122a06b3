"""A stack's update history as operators read it: version, time, result, message, git commit,
which deploy paths' configuration each update changed against the one before, and which
migrations it ran up and which it ran down. Pure.

An entry is the SDK's `UpdateSummary`; `summary_from_json` builds one from an element of
`pulumi stack history --json` (`{version, kind, startTime, message, environment, config: {key:
{value, objectValue, secret}}, result, endTime, resourceChanges}`) the way `Stack.history()`
does, so saved histories and live ones go through the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pulumi.automation import UpdateSummary

from deploypaths.config.settings import Migration, Settings
from deploypaths.identity import path_id
from deploypaths.validation import ConfigError
from ops.config_diff import (
    FieldChange,
    PathChange,
    diff_paths,
    migration_list_change,
    settings_changes,
    settings_of,
)

# `Stack.history()` parses this format; the CLI has also printed times without fractions.
TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z")
GIT_HEAD = "git.head"
GIT_DIRTY = "git.dirty"


def parse_time(text: str) -> datetime:
    for format_ in TIME_FORMATS:
        try:
            return datetime.strptime(text, format_)
        except ValueError:
            continue
    raise ValueError(f"unrecognised time {text!r}")


def summary_from_json(entry: Mapping[str, Any]) -> UpdateSummary:
    """One element of `pulumi stack history --json`, as `Stack.history()` would return it."""
    return UpdateSummary(
        kind=entry["kind"],
        start_time=parse_time(entry["startTime"]),
        message=entry.get("message", ""),
        environment=entry.get("environment") or {},
        config=entry.get("config") or {},
        result=entry.get("result", ""),
        end_time=parse_time(entry["endTime"]) if entry.get("endTime") else None,
        version=entry.get("version"),
        resource_changes=entry.get("resourceChanges"),
    )


# Updates fetched per request to the backend.
DEFAULT_PAGE_SIZE = 50


def fetch_all(
    fetch_page: Callable[[int, int], Sequence[UpdateSummary]],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> list[UpdateSummary]:
    """Every update, page by page (`fetch_page(page_size, page)`, pages from 1), newest first.

    The CLI returns only its default page (10 updates) unless asked for pages, so a history that
    is not paged through silently ends ten updates back.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    found: dict[tuple[int, str], UpdateSummary] = {}
    page = 1
    while True:
        batch = list(fetch_page(page_size, page))
        new = [s for s in batch if _identity(s) not in found]
        found.update((_identity(s), s) for s in new)
        # A short page is the last one; a page with nothing new means the backend ignores paging.
        if len(batch) < page_size or not new:
            break
        page += 1
    return _numbered(sorted(found.values(), key=_identity, reverse=True))


def _numbered(newest_first: list[UpdateSummary]) -> list[UpdateSummary]:
    """The DIY (file, S3) backends record no version numbers: every entry says 0. Number them as
    the Pulumi Cloud would, oldest first from 1, so `--to N` means the same on any backend."""
    versions = [s.version for s in newest_first]
    if len(set(versions)) == len(versions) and all(v for v in versions):
        return newest_first
    for number, summary in enumerate(reversed(newest_first), start=1):
        summary.version = number
    return newest_first


def _identity(summary: UpdateSummary) -> tuple[int, str]:
    version = summary.version if summary.version is not None else -1
    return version, summary.start_time.isoformat()


@dataclass
class HistoryEntry:
    version: int | None
    kind: str
    start_time: datetime
    result: str
    message: str
    commit: str | None
    dirty: bool
    has_config: bool
    config_problem: str | None = None
    path_changes: list[PathChange] = field(default_factory=list)
    migrations_added: tuple[str, ...] = ()
    migrations_removed: tuple[str, ...] = ()
    # A name where the migration ran up in every region, `name@region` where only in some.
    migrations_up: tuple[str, ...] = ()
    migrations_down: tuple[str, ...] = ()
    settings_changed: list[str] = field(default_factory=list)
    first: bool = False


def history_entries(summaries: Iterable[UpdateSummary], *, stack: str) -> list[HistoryEntry]:
    """Entries newest first, each compared with the closest older entry that recorded config."""
    ordered = sorted(summaries, key=_identity)
    entries: list[HistoryEntry] = []
    previous_config: Mapping[str, Any] | None = None
    previous_settings = None
    for summary in ordered:
        environment = summary.environment or {}
        entry = HistoryEntry(
            version=summary.version,
            kind=summary.kind,
            start_time=summary.start_time,
            result=summary.result,
            message=summary.message or "",
            commit=environment.get(GIT_HEAD) or None,
            dirty=environment.get(GIT_DIRTY) == "true",
            has_config=bool(summary.config),
            first=previous_config is None,
        )
        if summary.config:
            try:
                settings = settings_of(summary.config, stack=stack)
            except ConfigError as error:
                settings = None
                entry.config_problem = f"{len(error.problems)} configuration problem(s)"
            if settings is not None and (previous_config is None or previous_settings):
                entry.path_changes = diff_paths(previous_settings, settings)
                added, removed = migration_list_change(previous_settings, settings)
                entry.migrations_added, entry.migrations_removed = added, removed
                entry.migrations_up, entry.migrations_down = migration_runs(
                    previous_settings, settings
                )
            if previous_config is not None:
                entry.settings_changed = settings_changes(previous_config, summary.config)
            previous_config, previous_settings = summary.config, settings
        entries.append(entry)
    return list(reversed(entries))


def _migration_job(migration: Migration, region_downs: tuple[str, ...]) -> tuple[Any, ...]:
    """What decides the Job a region declares for a migration (its name follows the image, or
    the down's image and args): a different value is a new Job, which runs."""
    if migration.name in region_downs and migration.down is not None:
        return ("down", migration.down.image, migration.down.args)
    return ("up", migration.image)


def _migration_jobs(settings: Settings | None) -> dict[tuple[str, str], tuple[Any, ...]]:
    if settings is None:
        return {}
    return {
        (migration.name, region.name): _migration_job(migration, region.down_migrations)
        for region in settings.regions
        for migration in settings.migrations
    }


def migration_runs(
    before: Settings | None, after: Settings
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(ran up, ran down): the migrations whose Job `after` declares anew against `before`.

    Up: a migration new to the list or with a new image, in every region (shown as its name),
    or where it no longer runs its `down` or the region is new (`name@region`). A region that
    runs a migration's `down` runs nothing of a new image. Down: each new entry of a region's
    `down_migrations` (and a new down image or args where it already runs), as `name@region`,
    regions in config order, each newest first as the region lists them.
    """
    old, new = _migration_jobs(before), _migration_jobs(after)
    ran = [key for key, job in new.items() if old.get(key) != job]
    up: list[str] = []
    for migration in after.migrations:
        regions = [r for name, r in ran if name == migration.name and new[name, r][0] == "up"]
        if len(regions) == len(after.regions):
            up.append(migration.name)
        else:
            up += [path_id(migration.name, region) for region in regions]
    down = [
        path_id(name, region.name)
        for region in after.regions
        for name in region.down_migrations
        if (name, region.name) in ran and new[name, region.name][0] == "down"
    ]
    return tuple(up), tuple(down)


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str) and ("/" in value or ":" in value):
        return value.rsplit("/", 1)[-1]  # an image: the repository path is noise here
    return str(value)


def _fields(fields: Sequence[FieldChange]) -> str:
    return ", ".join(f"{f.name} {_value(f.before)} -> {_value(f.after)}" for f in fields)


def grouped_changes(changes: Sequence[PathChange]) -> list[str]:
    """One line per distinct change, listing every path it applies to (a service-level image
    bump shows once, with all its regions)."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for change in changes:
        groups.setdefault((change.kind, change.change, change.fields), []).append(change.path.id)
    lines = []
    for (kind, what, fields), paths in groups.items():
        where = ", ".join(paths)
        if what == "changed":
            lines.append(f"{where}: {_fields(fields)}")
        elif kind == "service":
            lines.append(f"{where}: path {what}")
        else:
            lines.append(f"{where}: migration path {what}")
    return lines


def entry_lines(entry: HistoryEntry) -> list[str]:
    when = entry.start_time.strftime("%Y-%m-%d %H:%M:%S UTC")
    commit = f"commit {entry.commit[:12]}" if entry.commit else "no commit recorded"
    if entry.commit and entry.dirty:
        commit += " (dirty)"
    version = f"v{entry.version}" if entry.version is not None else "v?"
    lines = [f"{version:<5} {when}  {entry.result:<11} {entry.kind:<8} {commit}"]
    indent = " " * 6
    if entry.message:
        lines.append(f"{indent}message: {entry.message.splitlines()[0]}")
    if not entry.has_config:
        lines.append(f"{indent}no configuration recorded")
        return lines
    if entry.config_problem:
        lines.append(f"{indent}configuration does not validate today: {entry.config_problem}")
    details = []
    if entry.migrations_added:
        details.append(f"migrations added: {', '.join(entry.migrations_added)}")
    if entry.migrations_removed:
        details.append(f"migrations removed: {', '.join(entry.migrations_removed)}")
    if entry.migrations_up:
        details.append(f"migrations ran up: {', '.join(entry.migrations_up)}")
    if entry.migrations_down:
        details.append(f"migrations ran down: {', '.join(entry.migrations_down)}")
    if entry.first:
        details.append(f"first recorded configuration: {len(entry.path_changes)} path(s)")
    else:
        # A migration entering or leaving the list adds or removes its path in every region.
        listed = {text.split(" (")[0] for text in entry.migrations_added + entry.migrations_removed}
        details += grouped_changes(
            [
                c
                for c in entry.path_changes
                if not (c.kind == "migration" and c.change != "changed" and c.path.name in listed)
            ]
        )
    if entry.settings_changed:
        details.append(f"settings changed: {', '.join(entry.settings_changed)}")
    if not details and not entry.config_problem:
        details.append("no configuration change")
    lines += [f"{indent}{line}" for line in details]
    return lines


def render_history(entries: Sequence[HistoryEntry], *, stack: str) -> str:
    if not entries:
        return f"Stack {stack} has never been updated.\n"
    lines = [f"History of stack {stack}: {len(entries)} update(s), newest first", ""]
    for entry in entries:
        lines += entry_lines(entry)
    return "\n".join(lines) + "\n"
