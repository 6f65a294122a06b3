"""What each deploy path is doing now, folded from the engine's events as they come: waiting
(for which paths), rolling out (n/m replicas), verifying, migrating, baking, done, unchanged,
failed (with the engine's reason), held or not started; with its elapsed time against the plan.

The one live model of an update: `ops up`'s terminal view, `ops dashboard` and `ops logs` read it
(ops/path_results.py says what became of each path once the update has ended)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from deploypaths.identity import urn_name
from deploypaths.plan import GATED_TYPES, Plan, owner_paths
from ops import events
from ops.path_results import path_waits

# What a path is doing, in the order a release goes through them; the last ones are ends.
WAITING, APPLYING, ROLLING_OUT, MIGRATING, VERIFYING, BAKING = (
    "waiting", "applying", "rolling out", "migrating", "verifying", "baking",
)  # fmt: skip
DONE, UNCHANGED, FAILED, HELD = "done", "unchanged", "failed", "held"
# The update ended with the path's steps in flight, or before the path started.
INTERRUPTED, NOT_STARTED = "interrupted", "not started"
ENDS = frozenset({DONE, UNCHANGED, FAILED, HELD, INTERRUPTED, NOT_STARTED})
# The state a step on a resource of this type puts its path in (others: applying).
STEP_STATES = {
    "kubernetes:apps/v1:Deployment": ROLLING_OUT,
    "pulumi-python:dynamic:Resource": BAKING,
}
JOB = "kubernetes:batch/v1:Job"
# The Kubernetes provider's progress lines for a Deployment: its own await's "(2/3 Pods
# available)", and those of the `pulumi.com/waitFor` conditions the program sets
# ("Waiting for {.status.availableReplicas}=3 (found "2")", "Found {.status.readyReplicas}=3").
PODS_AVAILABLE = re.compile(r"\((?P<have>\d+)/(?P<want>\d+) Pods? available\)")
WAIT_FOR = re.compile(
    r"\{\.status\.(?:updated|ready|available)Replicas\}=(?P<want>\d+)"
    r"(?: \(found \"(?P<have>\d+)\"\))?"
)


@dataclass
class PathState:
    id: str
    kind: str
    region: str | None
    wave: int | None
    state: str = WAITING
    # The paths it waits for that have not ended yet (while waiting).
    waiting_for: list[str] = field(default_factory=list)
    # Seconds (engine clock) its first step began and its last step ended.
    started: float | None = None
    finished: float | None = None
    estimate_seconds: float = 0.0
    replicas: tuple[int, int] | None = None
    # Its latest message from the engine: a provider's progress line, or the failure's reason.
    message: str = ""
    changed: bool = False
    # The team that owns the path (a service's or migration's `owner`).
    owner: str | None = None

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.finished if self.finished is not None else now) - self.started

    @property
    def ended(self) -> bool:
        return self.state in ENDS

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "replicas": list(self.replicas) if self.replicas else None}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> PathState:
        """A path's state as `as_json` wrote it (another process's `ops up --output json`)."""
        known = {f.name for f in fields(cls)}
        state = cls(**{key: value for key, value in record.items() if key in known})
        state.replicas = tuple(state.replicas) if state.replicas else None  # type: ignore[assignment]
        return state


@dataclass
class _Resource:
    type: str
    name: str
    parent: str
    custom: bool


class PathStates:
    """Every path of the plan, updated event by event (`apply`)."""

    def __init__(self, plan: Plan) -> None:
        self.paths: dict[str, PathState] = {
            p.id: PathState(
                id=p.id,
                kind=p.kind,
                region=p.region,
                wave=p.wave,
                estimate_seconds=max(0.0, p.finish - p.lead_in) * 60,
                owner=p.owner,
            )
            for p in plan.paths
        }
        self.waits = path_waits(plan)
        # How many custom resources each path has: it has ended when each has.
        self._expected = {p.id: p.resources for p in plan.paths}
        self._resources: dict[str, _Resource] = {}
        self._owners: dict[str, str] = {}
        self._in_flight: dict[str, set[str]] = {}
        self._finished: dict[str, int] = {}
        self.started: float | None = None
        # The engine's clock: the latest event's time.
        self.latest = 0.0
        self.ended = False
        self.failed = False
        # The paths any event touched (state, replicas, message, what they wait for) since the
        # reader last took them (`take_touched`): a page sends those, not every path.
        self.touched: set[str] = set()
        # Each path the event being applied touched, with its state before it.
        self._before: dict[str, str] = {}
        for path in self.paths.values():
            path.waiting_for = self._open_waits(path.id)

    def ordered(self) -> list[PathState]:
        """Wave by wave; in a wave, region by region, the region's infrastructure first."""
        return sorted(
            self.paths.values(),
            key=lambda p: (p.wave or 0, p.region or "", p.id != p.region, p.kind, p.id),
        )

    def apply(self, event: Mapping[str, Any]) -> list[PathState]:
        """Folds one engine event (the recorded JSON shape) in; returns the paths whose state
        changed (not merely their replicas or message)."""
        when = float(event.get("timestamp") or 0)
        self.latest = max(self.latest, when)
        self._before = {}
        for key in ("resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
            body = event.get(key)
            if body and not body.get("planning"):
                self._step(key, body["metadata"], when)
        if "diagnosticEvent" in event:
            self._diagnostic(event["diagnosticEvent"])
        if "summaryEvent" in event or "cancelEvent" in event:
            self.finish()
        changed = [
            self.paths[i] for i, state in self._before.items() if self.paths[i].state != state
        ]
        if changed:
            self._refresh_waits()
        return changed

    def finish(self, failed: bool | None = None) -> list[PathState]:
        """The update has ended: the paths that never started are held (by the failed path
        they wait for) or not started."""
        self.ended = True
        if failed is not None:
            self.failed = failed
        changed = []
        for path in self.paths.values():
            if path.ended:
                continue
            self._touch(path)
            if self._in_flight.get(path.id):
                path.state = INTERRUPTED
            elif path.started is None:
                blocker = next((w for w in self._all_waits(path.id) if self._failed(w)), None)
                path.state = HELD if blocker else NOT_STARTED
                path.waiting_for = [blocker] if blocker else []
            else:
                path.state = DONE if path.changed else UNCHANGED
            changed.append(path)
        return changed

    def _touch(self, path: PathState) -> None:
        self._before.setdefault(path.id, path.state)
        self.touched.add(path.id)

    def take_touched(self) -> list[PathState]:
        """The paths touched since the last call."""
        touched, self.touched = self.touched, set()
        return [self.paths[path_id] for path_id in sorted(touched)]

    # --- events --------------------------------------------------------------------------

    def _step(self, key: str, metadata: Mapping[str, Any], when: float) -> None:
        urn, op = metadata["urn"], str(metadata.get("op", ""))
        if op in events.UNTIMED_OPS:
            return
        resource = self._register(urn, metadata)
        owner = self._owner(urn)
        path = self.paths.get(owner) if owner else None
        if path is None or not resource.custom:
            return
        self._touch(path)
        self.started = when if self.started is None else min(self.started, when)
        flying = self._in_flight.setdefault(path.id, set())
        if key == "resourcePreEvent":
            if op in events.CHANGE_OPS:
                path.changed = True
                flying.add(urn)
            if path.started is None and not _releases(path.kind, resource.type):
                return  # its lead-in (config, service, policies): the path still waits
            path.started = when if path.started is None else path.started
            path.waiting_for = []
            if op in events.CHANGE_OPS:
                path.state = self._step_state(path, resource)
            elif path.state == WAITING:
                path.state = APPLYING
            return
        flying.discard(urn)
        self._finished[path.id] = self._finished.get(path.id, 0) + 1
        if key == "resOpFailedEvent":
            path.state, path.finished = FAILED, when
            self.failed = True
        elif path.started is not None and path.state != FAILED and not flying:
            path.finished = when
            if self._finished[path.id] >= self._expected.get(path.id, 0):
                path.state = DONE if path.changed else UNCHANGED
            elif path.changed:
                path.state = APPLYING

    def _diagnostic(self, diagnostic: Mapping[str, Any]) -> None:
        owner = self._owner(str(diagnostic.get("urn") or ""))
        path = self.paths.get(owner) if owner else None
        message = str(diagnostic.get("message") or "").strip()
        if path is None or not message:
            return
        self._touch(path)
        if diagnostic.get("severity") == "error":
            path.message = events.reason_line(message)
            return
        if path.state == FAILED:
            return
        path.message = message.splitlines()[-1].strip()
        replicas = PODS_AVAILABLE.search(message) or WAIT_FOR.search(message)
        if replicas:
            want = int(replicas["want"])
            path.replicas = (int(replicas["have"] or want), want)

    def _step_state(self, path: PathState, resource: _Resource) -> str:
        if resource.type == JOB:
            return MIGRATING if path.kind == "migration" else VERIFYING
        return STEP_STATES.get(resource.type, APPLYING)

    # --- who owns what -------------------------------------------------------------------

    def _register(self, urn: str, metadata: Mapping[str, Any]) -> _Resource:
        resource = self._resources.get(urn)
        if resource is None:
            state = metadata.get("new") or metadata.get("old") or {}
            resource = self._resources[urn] = _Resource(
                type=str(metadata.get("type") or state.get("type", "")),
                name=urn_name(urn),
                parent=str(state.get("parent") or ""),
                custom=bool(state.get("custom")),
            )
        return resource

    def _owner(self, urn: str) -> str | None:
        """The path `urn` belongs to: its own, or its nearest ancestor's (parents come first)."""
        if urn in self._owners:
            return self._owners[urn]
        resource = self._resources.get(urn)
        if resource is None:
            return None
        parent = self._resources.get(resource.parent)
        nodes = {urn: resource, **({resource.parent: parent} if parent else {})}
        owner = owner_paths(nodes).get(urn)
        if owner is None and parent is not None:
            owner = self._owner(resource.parent)
        if owner is not None:
            self._owners[urn] = owner
        return owner

    # --- waiting -------------------------------------------------------------------------

    def _failed(self, path_id: str) -> bool:
        path = self.paths.get(path_id)
        return path is not None and path.state == FAILED

    def _open_waits(self, path_id: str) -> list[str]:
        return [
            w for w in self.waits.get(path_id, []) if w in self.paths and not self.paths[w].ended
        ]

    def _all_waits(self, path_id: str) -> Iterable[str]:
        seen, queue = {path_id}, list(self.waits.get(path_id, []))
        while queue:
            node = queue.pop(0)
            if node not in seen:
                seen.add(node)
                yield node
                queue.extend(self.waits.get(node, []))

    def _refresh_waits(self) -> None:
        for path in self.paths.values():
            if path.state == WAITING:
                waits = self._open_waits(path.id)
                if waits != path.waiting_for:
                    path.waiting_for = waits
                    self.touched.add(path.id)


def _releases(kind: str, resource_type: str) -> bool:
    """Whether a step on this resource starts the path's release (its Deployments or Job; any
    resource, for a kind without such)."""
    return kind not in GATED_TYPES or resource_type in GATED_TYPES[kind]
