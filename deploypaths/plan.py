"""The plan of an update: the program's registrations as deploy paths, scheduled by the latency
model (`deploypaths.schedule`): each path's release and lead-in, the edges between paths, the
critical path and the baselines. Pure: it reads a recording, it runs nothing.

A path's bar is its release: from when the first of its gated resources (a service's
Deployments and its verification Job, a migration's Job or its `down` Job, a region's flag
deployments) may start to when the path is done: a service path is done once its verification
passed, which is what the services after it and its wave's gate wait for.
What a path creates before that, waiting for nothing of the release (a Service, a disruption
budget, alarms), is its lead-in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from deploypaths.config.settings import Settings
from deploypaths.identity import (
    COMPONENT_KINDS,
    PATH_KINDS,
    PathIdentity,
    barrier_id,
    flags_id,
    gate_wave,
    id_region,
    is_barrier_id,
    is_flags_id,
    is_gate,
)
from deploypaths.recording import Recording
from deploypaths.rollout import rollout_steps
from deploypaths.schedule import Schedule, Task, grouped_minutes, schedule
from deploypaths.validation import parse_settings

# The resources whose start is a path's release: what the path exists to roll out. A path kind
# not listed starts with its first resource.
GATED_TYPES: dict[str, tuple[str, ...]] = {
    # The verification Job (`verify`) starts after the Deployments: a step of the release.
    "service": ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"),
    "migration": ("kubernetes:batch/v1:Job",),
    "flags": ("aws:appconfig/deployment:Deployment",),
}


class Node(Protocol):
    """What path ownership needs of a resource: a recorded registration or an engine event."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def parent(self) -> str: ...
    @property
    def custom(self) -> bool: ...


@dataclass
class PathTiming:
    id: str
    kind: str
    region: str | None
    wave: int | None
    # The release: from the first gated resource's start to the last resource's finish.
    start: float = 0.0
    finish: float = 0.0
    # When the path's first resource starts (equal to `start` for a path with no lead-in).
    lead_in: float = 0.0
    resources: int = 0
    critical: bool = False
    urns: list[str] = field(default_factory=list)
    # Whether a gated resource (any resource, for a kind with none) has times: a path whose
    # update stopped before its Deployments or Job has a lead-in at most.
    released: bool = False
    # The team that owns a service or migration path (its `owner`), if it has one.
    owner: str | None = None


@dataclass(frozen=True)
class Baseline:
    key: str
    label: str
    minutes: float


BASELINES = {
    "one_resource_at_a_time": "one resource at a time (pulumi up --parallel 1)",
    "paths_one_after_another": (
        "paths one after another (a pipeline step per path: region, each migration, each service)"
    ),
    "regions_one_at_a_time": (
        "regions one at a time, paths parallel inside a region (StackSets sequential mode)"
    ),
}


@dataclass
class Plan:
    stack: str
    environment: str
    waves: list[list[str]]
    paths: list[PathTiming]
    edges: list[tuple[str, str]]
    critical_path: list[str]
    critical_path_minutes: float
    sequential_minutes: float
    resources: int
    latency_model: dict[str, float]
    baselines: list[Baseline] = field(default_factory=list)
    # Every resource's scheduled (start, finish), by URN.
    resource_times: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def path(self, path_id: str) -> PathTiming:
        return next(p for p in self.paths if p.id == path_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "environment": self.environment,
            "resources": self.resources,
            "waves": self.waves,
            "paths": [
                {
                    "id": p.id,
                    "kind": p.kind,
                    "region": p.region,
                    "wave": p.wave,
                    "start_minutes": round(p.start, 2),
                    "finish_minutes": round(p.finish, 2),
                    "lead_in_minutes": round(p.lead_in, 2),
                    "resources": p.resources,
                    "critical": p.critical,
                    "owner": p.owner,
                }
                for p in self.paths
            ],
            "edges": [{"from": a, "waits_for": b} for a, b in self.edges],
            "critical_path": self.critical_path,
            "critical_path_minutes": round(self.critical_path_minutes, 2),
            "sequential_minutes": round(self.sequential_minutes, 2),
            "baselines": {
                b.key: {
                    "minutes": round(b.minutes, 2),
                    "description": b.label,
                    "times_the_critical_path": round(self.speedup(b), 2),
                }
                for b in self.baselines
            },
            "latency_model_minutes": self.latency_model,
        }

    def speedup(self, baseline: Baseline) -> float:
        return baseline.minutes / self.critical_path_minutes if self.critical_path_minutes else 1.0


def owner_paths(nodes: Mapping[str, Node]) -> dict[str, str]:
    """URN -> the id of the deploy path it belongs to (`orders@eu-west-1`, `eu-west-1`, ...)."""
    ids: dict[str, str] = {}
    for urn, node in nodes.items():
        kind = COMPONENT_KINDS.get(node.type)
        path_kind = PATH_KINDS.get(node.type)
        region = nodes[node.parent].name if node.parent in nodes else None
        barrier = barrier_id(node.name)
        if path_kind is not None and path_kind != "region" and region:
            ids[urn] = PathIdentity.of_component(node.name, path_kind, region).id
        elif kind == "flags" and region:
            ids[urn] = flags_id(region)
        elif kind in ("region", "gate"):
            ids[urn] = node.name
        elif barrier:
            ids[urn] = barrier
    owners: dict[str, str] = {}
    for urn in nodes:
        cursor = urn
        while cursor and cursor not in ids:
            cursor = nodes[cursor].parent if cursor in nodes else ""
        if cursor:
            owners[urn] = ids[cursor]
    return owners


def path_timings(
    nodes: Mapping[str, Node],
    owners: Mapping[str, str],
    settings: Settings,
    times: Mapping[str, tuple[float, float]],
) -> dict[str, PathTiming]:
    """Each path's release and lead-in from its custom resources' (start, finish) times; a
    resource without times (not reached) does not count."""
    paths: dict[str, PathTiming] = {}
    # A path's component is the one node of the path whose type is a path type.
    component_types = {
        owner: nodes[urn].type
        for urn, owner in owners.items()
        if nodes[urn].type in COMPONENT_KINDS
    }
    for urn, owner in owners.items():
        node = nodes[urn]
        region = id_region(owner, settings.region_names)
        kind = _kind(owner, component_types.get(owner, ""), settings.region_names)
        timing = paths.setdefault(
            owner,
            PathTiming(
                id=owner,
                kind=kind,
                region=region,
                wave=settings.wave_of(region) + 1 if region else None,
                start=math.inf,
                lead_in=math.inf,
                owner=_team(settings, owner, kind),
            ),
        )
        if not node.custom or urn not in times:
            continue
        start, finish = times[urn]
        timing.resources += 1
        timing.urns.append(urn)
        timing.lead_in = min(timing.lead_in, start)
        timing.finish = max(timing.finish, finish)
        if node.type in GATED_TYPES.get(kind, ()):
            timing.start = min(timing.start, start)
            timing.released = True
        elif kind not in GATED_TYPES:
            timing.released = True
    for timing in paths.values():
        if timing.lead_in == math.inf:
            timing.lead_in = timing.finish
        if timing.start == math.inf:
            timing.start = timing.lead_in
    return paths


def owner_chain(urns: Iterable[str], owners: Mapping[str, str]) -> list[str]:
    """A chain of resources as the chain of paths it runs through."""
    chain: list[str] = []
    for urn in urns:
        owner = owners.get(urn)
        if owner and (not chain or chain[-1] != owner):
            chain.append(owner)
    return chain


def plan_tasks(
    recording: Recording,
    owners: Mapping[str, str],
    settings: Settings,
    operations: Mapping[str, str] | None = None,
) -> list[Task]:
    """The engine's work: a task per registration, in registration order, each doing what
    `operations` says (URN -> create, update, replace, same; by default everything is created).
    A gate takes its bake time; a resource left `same` takes no time."""
    gate_minutes = float(settings.gate_bake_minutes)
    tasks = []
    for r in recording.registrations.values():
        operation = operations.get(r.urn, "same") if operations is not None else "create"
        minutes = None
        if operation == "same":
            minutes = 0.0
        elif is_gate(owners.get(r.urn, "")) and r.custom:
            minutes = gate_minutes
        steps = rollout_steps(r.type, r.inputs, operation)
        tasks.append(Task(r.urn, r.type, r.waits_for, minutes, operation, steps))
    return tasks


def baselines(
    tasks: list[Task],
    model: Mapping[str, float],
    owners: Mapping[str, str],
    paths: Mapping[str, PathTiming],
    sequential: float,
) -> list[Baseline]:
    def path_of(task: Task) -> str:
        return owners.get(task.id, "")

    def region_of(task: Task) -> str:
        owner = owners.get(task.id, "")
        timing = paths.get(owner)
        return (timing.region if timing else None) or owner

    return [
        Baseline("one_resource_at_a_time", BASELINES["one_resource_at_a_time"], sequential),
        Baseline(
            "paths_one_after_another",
            BASELINES["paths_one_after_another"],
            grouped_minutes(tasks, model, path_of),
        ),
        Baseline(
            "regions_one_at_a_time",
            BASELINES["regions_one_at_a_time"],
            grouped_minutes(tasks, model, region_of),
        ),
    ]


def build_plan(
    recording: Recording,
    stack: str,
    raw: dict[str, Any],
    model: dict[str, float],
    *,
    operations: Mapping[str, str] | None = None,
    parallel: int | None = None,
) -> Plan:
    settings = parse_settings(raw, stack=stack)
    nodes = recording.registrations
    owners = owner_paths(nodes)
    tasks = plan_tasks(recording, owners, settings, operations)
    timed: Schedule = schedule(tasks, model, parallel=parallel)
    times = {urn: (t.start, t.finish) for urn, t in timed.times.items()}
    paths = path_timings(nodes, owners, settings, times)
    critical_owners = owner_chain(timed.critical_path, owners)
    for owner in critical_owners:
        paths[owner].critical = True
    edges = sorted(
        {
            (owners[r.urn], owners[dep])
            for r in nodes.values()
            for dep in r.waits_for
            if r.custom
            and dep in owners
            and r.urn in owners
            and owners[dep] != owners[r.urn]
            # Every path of a region waits for its infrastructure; listing it adds nothing.
            and not (paths[owners[dep]].kind == "region" and paths[owners[r.urn]].kind != "gate")
        }
    )
    return Plan(
        stack=stack,
        environment=settings.environment,
        waves=[list(w) for w in settings.waves],
        paths=sorted(paths.values(), key=row_order),
        edges=edges,
        critical_path=critical_owners,
        critical_path_minutes=timed.total_minutes,
        sequential_minutes=timed.sequential_minutes,
        resources=sum(1 for r in nodes.values() if r.custom),
        latency_model=dict(model),
        baselines=baselines(tasks, model, owners, paths, timed.sequential_minutes),
        resource_times=times,
    )


def row_order(path: PathTiming) -> tuple[float, str, bool, float, str]:
    """Waves in order, each region's infrastructure first, the gate after its wave."""
    if path.kind == "gate":
        return (gate_wave(path.id) + 0.5, "", False, path.start, path.id)
    return (path.wave or 0, path.region or "", path.kind != "region", path.start, path.id)


def _team(settings: Settings, path: str, kind: str) -> str | None:
    """The team owning a service or migration path (None for other kinds, or no owner)."""
    owner = settings.owner_of(kind, PathIdentity.parse_id(path).name)
    return owner.team if owner else None


def _kind(owner: str, type_: str, regions: tuple[str, ...]) -> str:
    if is_barrier_id(owner):
        return "barrier"
    if is_gate(owner):
        return "gate"
    if is_flags_id(owner):
        return "flags"
    if owner in regions:
        return "region"
    return COMPONENT_KINDS.get(type_, "service")
