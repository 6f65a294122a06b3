"""After a failed `ops up`: put each failed path alone back where it was before the update,
while every path that landed keeps its new release.

- A service path that existed goes back to the release it last landed with (the newest earlier
  update whose recorded events show it landed, else the newest that succeeded): the mechanism of
  `ops rollback --path`, pinned in a copy of the stack file and deployed with `up --target`.
- A service path this update created is removed again (`destroy --target`).
- An expand or contract migration whose Job failed runs its `down` Job when it has one (the
  region's `down_migrations` in the same copy); without one it is left, and said so.

The stack file itself is never changed: the next `up` tries the new release again, and its
preview shows exactly the failed paths as pending. The recovery's own updates are recorded like
any other (`ops timeline`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from deploypaths.config.settings import Settings
from deploypaths.identity import PathIdentity
from deploypaths.plan import owner_paths
from deploypaths.stack_config import decode, project_defaults
from ops import UserError, automation, events, state_names
from ops.path_results import PathResult, failed_service_paths, path_results
from ops.rollback.decision import REGIONS_KEY, operator_name, path_targets, plan_rollback

ON_FAILURE = ("rollback", "leave")
# How a canary's own Deployment is named (components/service_path.py), and what of a release
# makes its canary track.
CANARY_DEPLOYMENT = "-canary-deployment"
CANARY_FIELDS = ("strategy", "canary")


@dataclass
class Recovery:
    """What the failure handling did: per path, its new result and why."""

    done: dict[str, str] = field(default_factory=dict)
    # Paths it could not put back, with the reason (the operator's turn).
    left: dict[str, str] = field(default_factory=dict)


def landed_in(update: events.Update, path: str) -> bool:
    return any(
        r.id == path and not r.failed and r.result in ("changed", "unchanged")
        for r in path_results(update)
    )


def previous_version(
    path: str, history: Sequence[auto.UpdateSummary], directory: Path, before: int
) -> int | None:
    """The newest update before `before` in which `path` landed, read from its recorded events;
    for an update recorded without events, one that succeeded."""
    recorded = events.recorded_updates(directory) if directory.is_dir() else {}
    for summary in sorted(history, key=lambda s: s.version or 0, reverse=True):
        version = summary.version or 0
        if version >= before or summary.kind != "update" or not summary.config:
            continue
        if version not in recorded:
            if summary.result == "succeeded":
                return version
            continue
        try:
            update = events.parse_update(events.read_events(recorded[version]))
        except UserError:
            continue
        if landed_in(update, path):
            return version
    return None


def services_by_region(settings: Settings) -> dict[str, list[str]]:
    return {r: [s.name for s in settings.services_in(r)] for r in settings.region_names}


class Recoverer:
    """Puts the failed paths of one update back (see the module's docstring)."""

    def __init__(
        self,
        *,
        stack: auto.Stack,
        stack_name: str,
        settings: Settings,
        say: Callable[[str], None],
        options: Mapping[str, Any],
    ) -> None:
        self.stack, self.stack_name, self.settings, self.say = stack, stack_name, settings, say
        self.options = dict(options)

    def recover(self, update: events.Update, number: int, results: list[PathResult]) -> Recovery:
        recovery = Recovery()
        by_id = {r.id: r for r in results}
        failed = failed_service_paths(results, services_by_region(self.settings))
        created = {p: r for p, r in failed.items() if by_id.get(p) and by_id[p].created}
        existing = {p: r for p, r in failed.items() if p not in created}
        downs, half_done = self._migrations(results)
        recovery.left.update(half_done)
        if half_done:
            self._clear_failed_jobs(half_done, update, recovery)
        if existing or downs:
            self._roll_back(existing, downs, number, update, by_id, recovery)
        if created:
            self._remove(created, update, recovery)
        return recovery

    def _migrations(self, results: Sequence[PathResult]) -> tuple[dict[str, str], dict[str, str]]:
        """(failed migration paths with a `down`, those without) -> why."""
        with_down, without = {}, {}
        migrations = {m.name: m for m in self.settings.migrations}
        for result in results:
            path = result.path
            if path is None or path.kind != "migration" or not result.failed:
                continue
            migration = migrations.get(path.name)
            reason = result.reason or "its Job failed"
            if migration is not None and migration.down is not None:
                with_down[result.id] = reason
            else:
                without[result.id] = (
                    f"{reason}; it has no `down`, so the schema may be half-changed"
                )
        return with_down, without

    def _roll_back(
        self,
        services: Mapping[str, str],
        downs: Mapping[str, str],
        number: int,
        update: events.Update,
        by_id: Mapping[str, PathResult],
        recovery: Recovery,
    ) -> None:
        """One targeted `up`: each service path pinned to its previous release, each migration
        path running its `down`, on a copy of the stack file."""
        config_now = automation.program_config(self.stack)
        put_back = _PutBack(
            regions=decode(config_now[REGIONS_KEY].value),
            resources=state_names.current_resources(self.stack),
        )
        user = operator_name(os.environ)
        self._pin_services(services, number, update, config_now, put_back, recovery, user)
        for path, reason in downs.items():
            put_back.run_down(path, by_id[path].component if path in by_id else None)
            put_back.done[path] = f"down ran: {reason}"
        if not put_back.done:
            return
        subject = ", ".join(put_back.done)
        self.say(f"Putting back {subject} (the rest keeps its new release)...")
        regions = json.dumps(put_back.regions)
        with automation.update_config_file(self.stack_name, {REGIONS_KEY: regions}) as config_file:
            try:
                self._record().up(
                    message=f"automatic rollback of {subject} after update {number} (by {user})",
                    target=list(dict.fromkeys(put_back.targets)),
                    target_dependents=False,
                    # A step that failed before it read its object back left the state behind
                    # the cluster: read what the targets are now, or "back" may change nothing.
                    refresh=True,
                    config_file=config_file,
                    **self.options,
                )
            except auto.CommandError as error:
                for path in put_back.done:
                    recovery.left[path] = f"the rollback failed: {automation.failure_text(error)}"
                return
        for path, what in put_back.done.items():
            recovery.done[path] = f"{what}, {since_failure(update, path)}"

    def _pin_services(
        self,
        services: Mapping[str, str],
        number: int,
        update: events.Update,
        config_now: Mapping[str, auto.ConfigValue],
        put_back: _PutBack,
        recovery: Recovery,
        user: str,
    ) -> None:
        """Each service path's previous release pinned in `put_back`, the way `ops rollback
        --path` pins it; a path that cannot go back is left, with the reason."""
        history = automation.history(self.stack, show_secrets=True)
        directory = events.events_dir(self.stack_name, events.backend_url(self.stack))
        for path, reason in services.items():
            version = previous_version(path, history, directory, number)
            if version is None:
                recovery.left[path] = f"{reason}; no earlier update landed it to go back to"
                continue
            current = {**config_now, REGIONS_KEY: auto.ConfigValue(json.dumps(put_back.regions))}
            try:
                plan = plan_rollback(
                    stack=self.stack_name,
                    project=automation.project_name(),
                    version=version,
                    paths=[path],
                    force=True,
                    history=history,
                    config_now=current,
                    defaults=project_defaults(automation.PROJECT_DIR),
                    resources=put_back.resources,
                    user=user,
                )
            except UserError as refusal:
                recovery.left[path] = f"{reason}; not rolled back: {refusal}"
                continue
            if REGIONS_KEY in plan.set_values:
                put_back.regions = decode(plan.set_values[REGIONS_KEY].value)
                if failed_on_the_canary_track_only(update, path):
                    canary_track_pinned(put_back.regions, PathIdentity.parse_id(path))
            put_back.targets += plan.targets or []
            put_back.done[path] = f"rolled back: {reason} (back to the release of update {version})"

    def _remove(
        self, created: Mapping[str, str], update: events.Update, recovery: Recovery
    ) -> None:
        """Paths this update created: their resources go, nothing half-made is left."""
        owners = owner_paths(update.steps)
        subject = ", ".join(created)
        self.say(f"Removing {subject}, created by this update and failed...")
        failure = self._destroy(
            sorted(urn for urn, path in owners.items() if path in created),
            f"automatic removal of {subject} (created, then failed)",
        )
        for path, reason in created.items():
            if failure:
                recovery.left[path] = f"the removal failed: {failure}"
            else:
                recovery.done[path] = (
                    f"removed: {reason} (new in this update), {since_failure(update, path)}"
                )

    def _clear_failed_jobs(
        self, migrations: Mapping[str, str], update: events.Update, recovery: Recovery
    ) -> None:
        """A failed migration without a `down` stays failed, but its failed Job goes: the next
        `up` runs the migration again (same name, no clash) instead of finding it failed."""
        owners = owner_paths(update.steps)
        failure = self._destroy(
            sorted(
                u for u, step in update.steps.items() if step.failed and owners.get(u) in migrations
            ),
            f"removal of the failed Job of {', '.join(migrations)}",
        )
        for path in migrations:
            recovery.left[path] += (
                f"; its failed Job stays: {failure}"
                if failure
                else "; its failed Job is removed, so the next up runs it again"
            )

    def _destroy(self, targets: list[str], message: str) -> str | None:
        """A recorded `destroy --target` of exactly `targets`; the failure's reason, if any."""
        if not targets:
            return "nothing of it is in the update's events"
        try:
            self._record().destroy(
                target=targets,
                target_dependents=False,
                message=message,
                on_output=self.options.get("on_output"),
                color="never",
            )
        except auto.CommandError as error:
            return automation.failure_text(error)
        return None

    def _record(self) -> events.UpdateRecorder:
        return events.UpdateRecorder(self.stack, self.stack_name)


@dataclass
class _PutBack:
    """What one recovery `up` deploys: the stack's regions with the pins and `down`s, the URNs
    it targets, and per path what it does."""

    regions: list[dict[str, Any]]
    resources: list[dict[str, Any]]
    targets: list[str] = field(default_factory=list)
    done: dict[str, str] = field(default_factory=dict)

    def run_down(self, path: str, component: str | None) -> None:
        identity = PathIdentity.parse_id(path, kind="migration")
        entry = next(e for e in self.regions if e.get("name") == identity.region)
        entry["down_migrations"] = [identity.name, *entry.get("down_migrations", [])]
        if component:
            self.targets += path_targets(component, self.resources)[0]


def failed_on_the_canary_track_only(update: events.Update, path: str) -> bool:
    """Whether only the path's canary Deployment failed (its stable track landed)."""
    owners = owner_paths(update.steps)
    failed = [s.name for urn, s in update.steps.items() if s.failed and owners.get(urn) == path]
    return bool(failed) and all(name.endswith(CANARY_DEPLOYMENT) for name in failed)


def canary_track_pinned(regions: list[dict[str, Any]], path: PathIdentity) -> list[dict[str, Any]]:
    """`regions` with the path's pinned release cut to its canary track (`strategy`, `canary`):
    the stable track keeps the release that landed."""
    entry = next(e for e in regions if e.get("name") == path.region)
    overrides = dict(entry.get("overrides") or {})
    pinned = {k: v for k, v in (overrides.get(path.name) or {}).items() if k in CANARY_FIELDS}
    if pinned:
        overrides[path.name] = pinned
    else:
        overrides.pop(path.name, None)
    if overrides:
        entry["overrides"] = overrides
    else:
        entry.pop("overrides", None)
    return regions


def since_failure(update: events.Update, path: str) -> str:
    """How long after the path's failure (or its gate's) it was put back, by the wall clock."""
    owners = owner_paths(update.steps)
    failed_at = [
        step.finish
        for urn, step in update.steps.items()
        if step.failed and step.finish is not None and owners.get(urn) == path
    ]
    # A path the gate named failed when the gate did.
    gate = [s.finish for s in update.steps.values() if s.failed and s.finish is not None]
    moments = failed_at or gate
    if not moments:
        return "after the update"
    return f"{time.time() - min(moments):.0f}s after its failure"
