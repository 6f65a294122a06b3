"""What became of each deploy path in an update, read from its engine events: changed,
unchanged, removed, failed (with the engine's reason), held (waiting for a failed path, named
through the plan's edges), and, once `ops.recovery` has run, rolled back or removed again.

One model of an update's events for `ops up`'s summary and the failure handling after it."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from deploypaths.identity import (
    COMPONENT_KINDS,
    PATH_KINDS,
    PathIdentity,
    is_barrier_id,
    path_id,
)
from deploypaths.plan import GATED_TYPES, Plan, owner_paths
from ops import events

# How a health gate names what failed it (deploypaths/cluster_health.py).
GATE_NAMES = re.compile(
    r"(?P<region>[a-z0-9-]+): (?:Deployment|pod \S+ of Deployment) (?P<name>\S+)"
)
# How a provider's step ends when the engine cancels it.
CANCELLED = "context canceled"
# The tracks a service's Deployments are named after (components/service_path.py).
TRACKS = ("canary", "blue", "green")


@dataclass
class PathResult:
    id: str
    kind: str
    ops: dict[str, int] = field(default_factory=dict)
    lead_in: float | None = None
    start: float | None = None
    finish: float | None = None
    failed: bool = False
    released: bool = False
    # The component's URN (a service or migration path), for targeting it afterwards.
    component: str | None = None
    # Why it failed: the engine's message for its first failed resource.
    reason: str | None = None
    # The failed path it waits for, when it never got its turn.
    held_by: str | None = None
    # What the failure handling did to it afterwards (`rolled back`, `removed`, `down ran`, ...).
    recovered: str | None = None
    # Ctrl-C stopped the update before this path finished.
    interrupted: bool = False

    @property
    def path(self) -> PathIdentity | None:
        """The deploy path this is; None for a gate, a region's flags or its barrier."""
        if self.kind == "region":
            return PathIdentity.of_region(self.id)
        if self.kind in ("service", "migration"):
            return PathIdentity.parse_id(
                self.id, kind="service" if self.kind == "service" else "migration"
            )
        return None

    @property
    def created(self) -> bool:
        """Whether this update created the path: nothing of it existed before."""
        return bool(self.ops) and set(self.ops) <= {"create"}

    @property
    def result(self) -> str:
        if self.recovered:
            return self.recovered
        if self.failed:
            return "failed"
        if self.held_by:
            return "held"
        if self.interrupted:
            return "interrupted"
        if self.ops and all(op in events.CLEANUP_OPS for op in self.ops):
            return "removed"
        if not self.released:
            return "not reached"
        return "changed" if any(op in events.CHANGE_OPS for op in self.ops) else "unchanged"


def path_results(update: events.Update) -> list[PathResult]:
    """Each path's ops, release start (its first Deployment or Job, else its first resource),
    finish and failure, from an update's steps; in order of release start."""
    owners = owner_paths(update.steps)
    kinds = {
        owner: COMPONENT_KINDS.get(update.steps[urn].type, "")
        for urn, owner in owners.items()
        if update.steps[urn].type in COMPONENT_KINDS
    }
    results: dict[str, PathResult] = {}
    for urn, owner in owners.items():
        step = update.steps[urn]
        kind = "barrier" if is_barrier_id(owner) else kinds.get(owner, "")
        result = results.setdefault(owner, PathResult(id=owner, kind=kind))
        if step.type in PATH_KINDS and kind in ("service", "migration"):
            result.component = urn
        if not step.custom:
            continue
        for op in step.ops:
            result.ops[op] = result.ops.get(op, 0) + 1
        if step.failed and not result.failed:
            result.reason = update.reasons.get(urn)
        result.failed = result.failed or step.failed
        start, finish = update.minutes(step.start), update.minutes(step.finish)
        if start is not None:
            result.lead_in = start if result.lead_in is None else min(result.lead_in, start)
            if step.type in GATED_TYPES.get(kind, ()):
                result.start = start if result.start is None else min(result.start, start)
                result.released = True
            elif kind not in GATED_TYPES:
                result.released = True
        if finish is not None:
            result.finish = finish if result.finish is None else max(result.finish, finish)
    for result in results.values():
        if result.start is None and result.released:
            result.start = result.lead_in
    listed = [r for r in results.values() if r.ops]
    return sorted(listed, key=lambda r: (r.start if r.start is not None else 1e9, r.id))


def gate_named_paths(reason: str, services: Mapping[str, Iterable[str]]) -> list[str]:
    """The service paths a failed gate's message names (`us-east-1: Deployment auth ...`), given
    each region's service names."""
    named = []
    for match in GATE_NAMES.finditer(reason):
        region, deployment = match["region"], match["name"]
        for service in sorted(services.get(region, ()), key=len, reverse=True):
            if deployment == service or deployment in (f"{service}-{t}" for t in TRACKS):
                named.append(path_id(service, region))
                break
    return list(dict.fromkeys(named))


def failed_service_paths(
    results: Sequence[PathResult], services: Mapping[str, Iterable[str]]
) -> dict[str, str]:
    """Each failed service path -> why: its own failure, or the gate that named it."""
    failed = {r.id: r.reason or "failed" for r in results if r.failed and r.kind == "service"}
    for result in results:
        if result.failed and result.kind == "gate":
            for path in gate_named_paths(result.reason or "", services):
                failed.setdefault(path, f"{result.id}: {result.reason}")
    return failed


def path_waits(plan: Plan) -> dict[str, list[str]]:
    """The paths each path waits for, through the plan's edges."""
    waits: dict[str, list[str]] = {}
    # The plan leaves out that every path of a region waits for the region's infrastructure.
    inside = [(p.id, p.region) for p in plan.paths if p.region and p.id != p.region]
    for path, waits_for in [*plan.edges, *inside]:
        waits.setdefault(path, []).append(waits_for)
    return waits


def mark_held(results: list[PathResult], plan: Plan) -> None:
    """Name, for every path that did not finish its release, the failed path it waits for (the
    nearest through the plan's edges); paths the events never reached are added as held."""
    waits = path_waits(plan)
    paths = [p.id for p in plan.paths]
    by_id = {r.id: r for r in results}
    failed = {r.id for r in results if r.failed}
    if not failed:
        return
    for path in paths:
        result = by_id.get(path)
        if result is not None and (result.failed or (result.released and result.finish)):
            continue
        blocker = _nearest(path, waits, failed)
        if blocker is None:
            continue
        if result is None:
            result = by_id[path] = PathResult(id=path, kind="")
            results.append(result)
        result.held_by = blocker


def mark_interrupted(results: list[PathResult], plan: Plan) -> None:
    """Marks every path of the plan that did not finish its release as cut short (those the
    events never reached are added), and each path whose step the cancel itself ended: its
    change was applied and the engine stopped waiting for it, a cut, not a failure."""
    by_id = {r.id: r for r in results}
    for path in plan.paths:
        result = by_id.get(path.id)
        if result is None:
            result = by_id[path.id] = PathResult(id=path.id, kind=path.kind)
            results.append(result)
        if result.failed and CANCELLED in (result.reason or ""):
            result.failed, result.reason = False, None
        elif result.failed or (result.released and result.finish is not None):
            continue
        result.interrupted = True


def _nearest(path: str, waits: Mapping[str, list[str]], failed: set[str]) -> str | None:
    seen, queue = {path}, deque(waits.get(path, []))
    while queue:
        node = queue.popleft()
        if node in failed:
            return node
        if node not in seen:
            seen.add(node)
            queue.extend(waits.get(node, []))
    return None


def _minutes(value: float | None) -> str:
    return f"{'-':>6}" if value is None else f"{value:6.2f}"


def _detail(result: PathResult) -> str:
    if result.held_by:
        return f"held: waits for {result.held_by}"
    if result.interrupted and any(op in events.CHANGE_OPS for op in result.ops):
        return "interrupted: what it applied stays, the next up finishes and confirms it"
    if result.interrupted:
        return "not deployed: the update was interrupted before its change started"
    if result.reason and (result.failed or result.recovered):
        return " ".join(line.strip() for line in result.reason.splitlines())
    return ", ".join(f"{n} {op}" for op, n in sorted(result.ops.items()))


def render_summary(update: events.Update, results: Sequence[PathResult], title: str) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.result] = counts.get(result.result, 0) + 1
    tally = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    lines = [
        f"{title}: {update.result} after {update.duration_minutes:.2f} min; "
        f"{len(results)} path(s): {tally}. Release start and finish in minutes from the "
        "update's first step:",
        f"  {'path':<44} {'result':<11} {'start':>6} {'finish':>6}  steps, or why",
    ]
    for result in results:
        lines.append(
            f"  {result.id:<44} {result.result:<11} {_minutes(result.start)} "
            f"{_minutes(result.finish)}  {_detail(result)}"
        )
    failed = [r.id for r in results if r.failed]
    if failed:
        lines.append(
            f"Failed: {', '.join(failed)}. Every path that does not wait for a failed one was "
            "deployed; held paths keep their previous release."
        )
    return "\n".join(lines)
