"""How many resource operations an update runs at once (`pulumi up --parallel`): the plan's
widest moment, capped.

Rollouts wait on clusters, not on the machine that runs the engine, so the engine's own default
(4 x CPUs: 8 on a 2-core runner) holds a wide graph back for nothing; the plan knows how many
operations it has in progress at once, and more slots than that cannot help.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Past this, each slot costs the engine, the providers and the language host (which runs 4 threads
# per slot) more than the few operations still queued would save.
CAP = 64

OVERRIDE = "--parallel N overrides"


@dataclass(frozen=True)
class Parallelism:
    """The `--parallel` an update runs with (None: the engine's default) and why."""

    value: int | None
    reason: str

    def line(self) -> str:
        shown = "the engine's default (4 x CPUs)" if self.value is None else str(self.value)
        return f"parallel: {shown} ({self.reason})"


def widest(times: Iterable[tuple[float, float]]) -> int:
    """The most operations in progress at one moment of a schedule of (start, finish) pairs. An
    operation that takes no time (a component, a provider) holds no slot for any time, and one
    that finishes as another starts does not overlap it."""
    edges = sorted(
        (moment, step)
        for start, finish in times
        if finish > start
        for moment, step in ((start, 1), (finish, -1))
    )
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def choose(
    given: int | None,
    times: Iterable[tuple[float, float]] | None,
    *,
    source: str = "the plan",
    cap: int = CAP,
) -> Parallelism:
    """`given` (the operator's `--parallel N`) wins; else the widest moment of `times` (the
    scheduled operations of `source`), at most `cap`; with no times, or none that take time,
    the engine's default."""
    if given is not None:
        return Parallelism(given, f"--parallel {given}")
    if times is None:
        return Parallelism(None, f"{source}; {OVERRIDE}")
    width = widest(times)
    if width == 0:
        return Parallelism(None, f"{source} times no operation; {OVERRIDE}")
    if width > cap:
        return Parallelism(
            cap, f"the widest step of {source}, {width}, capped at {cap}; {OVERRIDE}"
        )
    return Parallelism(width, f"the widest step of {source}; {OVERRIDE}")
