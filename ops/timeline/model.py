"""What really happened in a recorded update, per deploy path, beside the plan's prediction
for the same update: the model of `ops timeline`. Pure, given the update's events and a
recording of the program (`ops.plan.record`).

The prediction is the plan of the configuration recorded with the update (the engine's prelude
event; the stack file when the update recorded none), with the update's own work: a resource the
update left unchanged (`same`) takes no time, everything it created, updated or replaced takes
its type's latency. Both timelines start at the update's first step. Each path's release starts
at its first Deployment or Job (its first resource for other paths) and ends when its last
resource is done; the actual critical path is followed back from the last resource done, each
time to what it waited for that finished last. The engine stamps its events in whole seconds:
so are the actual times.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploypaths.config.settings import Settings
from deploypaths.identity import (
    MIGRATION_PATH,
    REGION_PATH,
    SERVICE_PATH,
    PathIdentity,
    PathKind,
    current_urns,
    urn_key,
)
from deploypaths.plan import (
    PathTiming,
    Plan,
    build_plan,
    owner_chain,
    owner_paths,
    path_timings,
    row_order,
)
from deploypaths.recording import Recording
from deploypaths.stack_config import (
    StackFileError,
    load_stack_file,
    project_defaults,
)
from deploypaths.validation import ConfigError, parse_settings
from ops import UserError, events
from ops.config_diff import program_values
from ops.plan import DEFAULT_MODEL

# What the measure accepts of a path's predicted finish: 20 % or 30 s.
FINISH_TOLERANCE = 0.20
FINISH_TOLERANCE_MINUTES = 0.5
# Engine timestamps are whole seconds: a resource may start in the second its blocker finished.
TIMESTAMP_SLACK_MINUTES = 1 / 60


@dataclass
class Comparison:
    id: str
    kind: str
    wave: int | None
    predicted: PathTiming | None
    actual: PathTiming | None
    failed: bool = False

    @property
    def finish_error(self) -> float | None:
        """Actual minus predicted finish, in minutes."""
        if self.predicted is None or self.actual is None:
            return None
        return self.actual.finish - self.predicted.finish

    @property
    def within_tolerance(self) -> bool | None:
        error = self.finish_error
        if error is None or self.actual is None:
            return None
        return abs(error) <= max(FINISH_TOLERANCE * self.actual.finish, FINISH_TOLERANCE_MINUTES)


@dataclass
class Timeline:
    stack: str
    number: int
    events_file: Path
    result: str
    config_source: str
    plan: Plan
    rows: list[Comparison]
    actual_critical_path: list[str]
    actual_minutes: float
    # Which latency model the prediction used (`ops.plan.latency_model`).
    latency: str = DEFAULT_MODEL

    @property
    def critical_path_error(self) -> float:
        """(predicted - actual) / actual of the whole update's length."""
        if not self.actual_minutes:
            return 0.0
        return (self.plan.critical_path_minutes - self.actual_minutes) / self.actual_minutes

    @property
    def compared(self) -> list[Comparison]:
        return [row for row in self.rows if row.within_tolerance is not None]

    def as_json(self) -> dict[str, Any]:
        def span(timing: PathTiming | None) -> dict[str, float] | None:
            if timing is None:
                return None
            return {
                "start_minutes": round(timing.start, 3),
                "finish_minutes": round(timing.finish, 3),
                "lead_in_minutes": round(timing.lead_in, 3),
            }

        return {
            "stack": self.stack,
            "update": self.number,
            "events_file": str(self.events_file),
            "result": self.result,
            "prediction_config": self.config_source,
            "paths": [
                {
                    "id": row.id,
                    "kind": row.kind,
                    "wave": row.wave,
                    "predicted": span(row.predicted),
                    "actual": span(row.actual),
                    "failed": row.failed,
                    "finish_error_minutes": _round(row.finish_error),
                    "within_tolerance": row.within_tolerance,
                }
                for row in self.rows
            ],
            "predicted_critical_path": self.plan.critical_path,
            "predicted_minutes": round(self.plan.critical_path_minutes, 3),
            "actual_critical_path": self.actual_critical_path,
            "actual_minutes": round(self.actual_minutes, 3),
            "critical_path_error_percent": round(100 * self.critical_path_error, 1),
            "paths_within_tolerance": sum(1 for row in self.compared if row.within_tolerance),
            "paths_compared": len(self.compared),
            "tolerance": f"{FINISH_TOLERANCE:.0%} or {FINISH_TOLERANCE_MINUTES * 60:.0f} s",
            "latency": self.latency,
            "latency_model_minutes": self.plan.latency_model,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def prediction_configs(
    update: events.Update, stack: str, project_dir: Path
) -> list[tuple[dict[str, str], str]]:
    """The flat configs to plan the update with, best first, each with where it came from: the
    one recorded with the update (its prelude event), then today's stack file (a recorded config
    whose secrets the event log blinds may not validate offline)."""
    candidates = []
    if update.config is not None:
        recorded = {**project_defaults(project_dir), **update.config}
        candidates.append((recorded, "recorded with the update"))
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        with contextlib.suppress(StackFileError):
            candidates.append((load_stack_file(stack_file, project_dir), f"in {stack_file.name}"))
    if not candidates:
        raise UserError(
            f"the update recorded no configuration and there is no readable {stack_file}: "
            "nothing to predict it from"
        )
    return candidates


def keyed_as_today(urns: Iterable[str], recording: Recording) -> dict[str, str]:
    """The update's URNs by the `urn_key` of the resource the recording (today's program) has
    for each: an update recorded before the path components started with their region's name
    named their resources otherwise."""
    return {urn_key(today): urn for urn, today in current_urns(urns, _paths(recording)).items()}


def _paths(recording: Recording) -> list[PathIdentity]:
    """The recording's service and migration paths, each in the region of its parent."""
    regions = {r.urn: r.name for r in recording.of_type(REGION_PATH)}
    kinds: dict[str, PathKind] = {SERVICE_PATH: "service", MIGRATION_PATH: "migration"}
    return [
        PathIdentity(kinds[r.type], r.name.removeprefix(f"{regions[r.parent]}-"), regions[r.parent])
        for r in recording.registrations.values()
        if r.type in kinds and r.parent in regions
    ]


def update_operations(update: events.Update, recording: Recording) -> dict[str, str]:
    """What the update did to each URN of the recording: its step's operation, or `same` for a
    resource it never stepped on in an update that succeeded (outside its targets)."""
    by_key = {
        key: update.steps[urn] for key, urn in keyed_as_today(update.steps, recording).items()
    }
    operations = {}
    for urn in recording.registrations:
        step = by_key.get(urn_key(urn))
        if step is not None:
            operations[urn] = step.operation
        elif update.failed:
            operations[urn] = "create"
    return operations


def actual_times(update: events.Update) -> dict[str, tuple[float, float]]:
    times = {}
    for urn, step in update.steps.items():
        start, finish = update.minutes(step.start), update.minutes(step.finish)
        if start is not None:
            times[urn] = (start, finish if finish is not None else start)
    return times


def actual_critical_path(
    update: events.Update, recording: Recording, owners: Mapping[str, str]
) -> list[str]:
    """The chain of paths that made the update as long as it was: from the custom resource done
    last, back through what each waited for (in the program's graph) that finished last.
    `owners` are the update's (by its own URNs)."""
    times = actual_times(update)
    by_key = keyed_as_today(times, recording)
    registrations = {urn_key(urn): r for urn, r in recording.registrations.items()}
    children: dict[str, list[str]] = {}
    for registration in recording.registrations.values():
        children.setdefault(registration.parent, []).append(registration.urn)

    def custom_of(urn: str) -> list[str]:
        """A dependency on a component is one on every custom resource under it."""
        registration = recording.registrations.get(urn)
        if registration is None or registration.custom:
            return [urn]
        return [leaf for child in children.get(urn, []) for leaf in custom_of(child)]

    done = {
        key: times[urn][1]
        for key, urn in by_key.items()
        if key in registrations and registrations[key].custom
    }
    if not done:
        return []
    current: str | None = max(done, key=lambda key: done[key])
    chain: list[str] = []
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        chain.append(by_key[current])
        start = times[by_key[current]][0]
        waited = {
            urn_key(leaf)
            for dependency in registrations[current].waits_for
            for leaf in custom_of(dependency)
        }
        candidates = [
            key
            for key in waited
            if key in done and key not in seen and done[key] <= start + TIMESTAMP_SLACK_MINUTES
        ]
        current = max(candidates, key=lambda key: done[key]) if candidates else None
    return owner_chain(reversed(chain), owners)


def build_timeline(
    *,
    stack: str,
    number: int,
    events_file: Path,
    update: events.Update,
    recording: Recording,
    config: Mapping[str, str],
    config_source: str,
    model: dict[str, float],
    latency: str = DEFAULT_MODEL,
    parallel: int | None = None,
) -> Timeline:
    try:
        raw = program_values(config, stack=stack)
        settings: Settings = parse_settings(raw, stack=stack)
    except ConfigError as error:
        raise UserError(
            f"the configuration {config_source} does not validate today: {error.problems[0]}"
        ) from None
    operations = update_operations(update, recording)
    plan = build_plan(recording, stack, raw, model, operations=operations, parallel=parallel)
    owners = owner_paths(update.steps)
    actual = path_timings(update.steps, owners, settings, actual_times(update))
    failed = {owners[urn] for urn, step in update.steps.items() if step.failed and urn in owners}
    rows = []
    for predicted in plan.paths:
        rows.append(
            Comparison(
                id=predicted.id,
                kind=predicted.kind,
                wave=predicted.wave,
                predicted=predicted,
                actual=_ran(actual.get(predicted.id)),
                failed=predicted.id in failed,
            )
        )
    known = {p.id for p in plan.paths}
    for timing in sorted(actual.values(), key=row_order):
        if timing.id not in known and _ran(timing):
            rows.append(
                Comparison(timing.id, timing.kind, timing.wave, None, timing, timing.id in failed)
            )
    return Timeline(
        stack=stack,
        number=number,
        events_file=events_file,
        result=update.result,
        config_source=config_source,
        plan=plan,
        rows=rows,
        actual_critical_path=actual_critical_path(update, recording, owners),
        actual_minutes=update.duration_minutes,
        latency=latency,
    )


def _ran(timing: PathTiming | None) -> PathTiming | None:
    """A path whose release never started (no Deployment or Job stepped) did not run."""
    return timing if timing is not None and timing.released else None
