"""The `--parallel` an update runs with: the most operations the plan has in progress at once."""

from __future__ import annotations

import pytest

from deploypaths.parallelism import CAP, choose, widest
from deploypaths.schedule import Task, schedule


def spans(tasks: list[Task]) -> list[tuple[float, float]]:
    planned = schedule(tasks)
    return [(t.start, t.finish) for t in planned.times.values()]


def diamond() -> list[Task]:
    # a -> (b, c) -> d: b and c run side by side.
    return [
        Task("a", "t", (), 1.0),
        Task("b", "t", ("a",), 2.0),
        Task("c", "t", ("a",), 3.0),
        Task("d", "t", ("b", "c"), 1.0),
    ]


def chain(length: int) -> list[Task]:
    return [Task(f"t{i}", "t", (f"t{i - 1}",) if i else (), 1.0) for i in range(length)]


def fan(width: int) -> list[Task]:
    """A root and `width` leaves waiting for it, of different lengths."""
    leaves = [Task(f"leaf{i}", "t", ("root",), 1.0 + i % 3) for i in range(width)]
    return [Task("root", "t", (), 1.0), *leaves]


@pytest.mark.parametrize(
    ("name", "tasks", "expected"),
    [
        ("diamond", diamond(), 2),
        ("chain", chain(5), 1),
        ("fan of 10", fan(10), 10),
        ("nothing", [], 0),
    ],
)
def test_widest_is_the_most_operations_in_progress_at_once(name, tasks, expected):
    assert widest(spans(tasks)) == expected, name


def test_an_operation_finishing_as_another_starts_does_not_overlap_it():
    assert widest([(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]) == 1
    assert widest([(0.0, 1.0), (0.5, 2.0), (1.0, 3.0)]) == 2


def test_operations_that_take_no_time_hold_no_slot():
    # Components and providers: a zero-length span at every moment of a long operation.
    assert widest([(0.0, 5.0), *[(float(m), float(m)) for m in range(6)]]) == 1


@pytest.mark.parametrize(
    "tasks", [diamond(), chain(4), fan(10), fan(30)], ids=["diamond", "chain", "fan", "wide fan"]
)
def test_at_the_widest_the_capped_schedule_is_the_unbounded_one(tasks):
    """As many slots as the widest step lose nothing against no bound."""
    width = widest(spans(tasks))
    assert schedule(tasks, parallel=width).total_minutes == schedule(tasks).total_minutes


def test_the_choice_is_the_widest_step_and_says_so():
    chosen = choose(None, spans(diamond()))
    assert chosen.value == 2
    assert chosen.line() == "parallel: 2 (the widest step of the plan; --parallel N overrides)"


def test_a_wide_fan_is_capped():
    chosen = choose(None, spans(fan(CAP + 36)))
    assert chosen.value == CAP
    assert chosen.line() == (
        f"parallel: {CAP} (the widest step of the plan, {CAP + 36}, capped at {CAP}; "
        "--parallel N overrides)"
    )
    assert choose(None, spans(fan(10)), cap=4).value == 4


def test_the_operators_parallel_wins():
    chosen = choose(3, spans(fan(CAP + 36)))
    assert (chosen.value, chosen.line()) == (3, "parallel: 3 (--parallel 3)")


def test_without_a_plan_or_a_timed_operation_the_engine_default_is_kept_and_said():
    without = choose(None, None, source="no offline plan of the stack")
    assert without.value is None
    assert without.line() == (
        "parallel: the engine's default (4 x CPUs) (no offline plan of the stack; "
        "--parallel N overrides)"
    )
    untimed = choose(None, [(0.0, 0.0), (1.0, 1.0)])
    assert untimed.value is None
    assert "the plan times no operation" in untimed.line()
