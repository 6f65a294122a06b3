"""Estimated deploy time: a latency per resource type, scheduled as the engine would run it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Minutes a create typically takes, per resource type (the exact type, else the longest matching
# package prefix). Figures are typical AWS/Kubernetes create times; override with --latency.
DEFAULT_LATENCY_MINUTES: dict[str, float] = {
    "aws:eks/cluster:Cluster": 12.0,
    "aws:eks/nodeGroup:NodeGroup": 4.0,
    "aws:eks/addon:Addon": 2.0,
    "aws:rds/cluster:Cluster": 8.0,
    "aws:rds/clusterInstance:ClusterInstance": 10.0,
    "aws:ec2/natGateway:NatGateway": 2.0,
    "kubernetes:apps/v1:Deployment": 3.0,
    "kubernetes:batch/v1:Job": 2.0,
    "pulumi:providers:": 0.0,
    "pulumi-python:dynamic:": 0.0,
    "deploypaths:": 0.0,
    "aws:": 0.2,
    "kubernetes:": 0.1,
}


@dataclass(frozen=True)
class Task:
    id: str
    type: str
    waits_for: tuple[str, ...]
    # Set for tasks whose duration is not their type's, such as a gate's bake time.
    minutes: float | None = None


@dataclass(frozen=True)
class Scheduled:
    start: float
    finish: float


@dataclass(frozen=True)
class Schedule:
    times: dict[str, Scheduled]
    critical_path: list[str]
    total_minutes: float
    sequential_minutes: float


def latency(type_: str, model: Mapping[str, float]) -> float:
    if type_ in model:
        return model[type_]
    prefixes = [p for p in model if p.endswith(":") and type_.startswith(p)]
    return model[max(prefixes, key=len)] if prefixes else 0.0


def schedule(
    tasks: Iterable[Task], model: Mapping[str, float] = DEFAULT_LATENCY_MINUTES
) -> Schedule:
    """Earliest start for every task given unlimited parallelism; tasks come in an order where
    each follows everything it waits for (registration order is such an order)."""
    times: dict[str, Scheduled] = {}
    blocker: dict[str, str | None] = {}
    sequential = 0.0
    for task in tasks:
        known = [t for t in task.waits_for if t in times]
        start = max((times[t].finish for t in known), default=0.0)
        blocker[task.id] = max(known, key=lambda t: times[t].finish) if known else None
        duration = task.minutes if task.minutes is not None else latency(task.type, model)
        times[task.id] = Scheduled(start, start + duration)
        sequential += duration
    if not times:
        return Schedule({}, [], 0.0, 0.0)
    last: str | None = max(times, key=lambda t: times[t].finish)
    critical = []
    while last is not None:
        critical.append(last)
        last = blocker[last]
    return Schedule(times, critical[::-1], times[critical[0]].finish, sequential)
