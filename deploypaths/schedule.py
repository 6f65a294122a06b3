"""Estimated deploy time: a latency per resource type, scheduled as the engine would run it.

The latency model: every resource's operation takes a fixed time per rollout step for its type
and operation (`<type> <operation>`, else the type, else the longest matching package prefix; a
health gate takes its bake time). An operation is one step, except a Deployment's rolling
update, which waits for its pods a surge batch at a time (`deploypaths.rollout.rollout_steps`).
A resource starts as soon as everything it waits for (dependencies and provider) has finished
and, under `parallel`, a slot is free. The baselines schedule the same tasks in groups that run
one after another, each group's tasks in parallel: one task per group is `--parallel 1`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
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
    operation: str = "create"
    steps: int = 1


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


def latency(type_: str, model: Mapping[str, float], operation: str = "create") -> float:
    for key in (f"{type_} {operation}", type_):
        if key in model:
            return model[key]
    prefixes = [p for p in model if p.endswith(":") and type_.startswith(p)]
    return model[max(prefixes, key=len)] if prefixes else 0.0


def duration(task: Task, model: Mapping[str, float]) -> float:
    if task.minutes is not None:
        return task.minutes
    return latency(task.type, model, task.operation) * task.steps


def schedule(
    tasks: Iterable[Task],
    model: Mapping[str, float] = DEFAULT_LATENCY_MINUTES,
    *,
    parallel: int | None = None,
) -> Schedule:
    """Earliest start for every task given unlimited parallelism, or at most `parallel` at once
    (`pulumi up --parallel`); tasks come in an order where each follows everything it waits for
    (registration order is such an order). What a task waits for outside `tasks` counts as
    already done."""
    if parallel is not None:
        return _capped(list(tasks), model, parallel)
    times: dict[str, Scheduled] = {}
    blocker: dict[str, str | None] = {}
    sequential = 0.0
    for task in tasks:
        known = [t for t in task.waits_for if t in times]
        start = max((times[t].finish for t in known), default=0.0)
        blocker[task.id] = max(known, key=lambda t: times[t].finish) if known else None
        minutes = duration(task, model)
        times[task.id] = Scheduled(start, start + minutes)
        sequential += minutes
    return _with_critical_path(times, blocker, sequential)


def _capped(tasks: list[Task], model: Mapping[str, float], parallel: int) -> Schedule:
    """The engine's way under a cap: whenever a slot is free, the earliest-registered task whose
    dependencies are done starts."""
    index = {task.id: position for position, task in enumerate(tasks)}
    waits = {t.id: [w for w in t.waits_for if w in index] for t in tasks}
    waiting = {t.id: len(set(waits[t.id])) for t in tasks}
    waiters: dict[str, list[str]] = {}
    for task in tasks:
        for other in set(waits[task.id]):
            waiters.setdefault(other, []).append(task.id)
    ready = [index[t.id] for t in tasks if not waiting[t.id]]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    times: dict[str, Scheduled] = {}
    blocker: dict[str, str | None] = {}
    now, freed_by, sequential = 0.0, None, 0.0
    while ready or running:
        while ready and len(running) < parallel:
            task = tasks[heapq.heappop(ready)]
            minutes = duration(task, model)
            sequential += minutes
            times[task.id] = Scheduled(now, now + minutes)
            done = [w for w in waits[task.id] if times[w].finish == now]
            blocker[task.id] = done[0] if done else freed_by
            heapq.heappush(running, (now + minutes, index[task.id]))
        now, position = heapq.heappop(running)
        finished = tasks[position].id
        freed_by = finished
        for waiter in waiters.get(finished, []):
            waiting[waiter] -= 1
            if not waiting[waiter]:
                heapq.heappush(ready, index[waiter])
    return _with_critical_path(times, blocker, sequential)


def _with_critical_path(
    times: dict[str, Scheduled], blocker: dict[str, str | None], sequential: float
) -> Schedule:
    """The schedule with its critical path, followed back from the last task to finish."""
    if not times:
        return Schedule({}, [], 0.0, 0.0)
    last: str | None = max(times, key=lambda t: times[t].finish)
    critical = []
    while last is not None:
        critical.append(last)
        last = blocker[last]
    return Schedule(times, critical[::-1], times[critical[0]].finish, sequential)


def grouped_minutes(
    tasks: Iterable[Task],
    model: Mapping[str, float],
    group_of: Callable[[Task], str],
) -> float:
    """Wall time when the groups run one after another, in the order the ordering allows, and
    the tasks inside a group in parallel: the sum of each group's own critical path (what a
    group waits for in another group has finished before it starts)."""
    groups: dict[str, list[Task]] = {}
    for task in tasks:
        groups.setdefault(group_of(task), []).append(task)
    return sum(schedule(members, model).total_minutes for members in groups.values())
