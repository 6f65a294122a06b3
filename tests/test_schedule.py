"""The scheduler under a parallelism cap, as `pulumi up --parallel N` runs a graph."""

from __future__ import annotations

from deploypaths.schedule import Task, duration, schedule


def tasks() -> list[Task]:
    # a -> c; b and d independent; every task takes one minute.
    return [
        Task("a", "t", (), 1.0),
        Task("b", "t", (), 1.0),
        Task("c", "t", ("a",), 1.0),
        Task("d", "t", (), 1.0),
    ]


def test_no_cap_is_the_longest_chain():
    planned = schedule(tasks())
    assert (planned.total_minutes, planned.critical_path) == (2.0, ["a", "c"])


def test_a_cap_of_one_is_one_at_a_time():
    planned = schedule(tasks(), parallel=1)
    assert planned.total_minutes == planned.sequential_minutes == 4.0
    assert [planned.times[t].start for t in "abcd"] == [0.0, 1.0, 2.0, 3.0]


def test_a_cap_starts_the_earliest_registered_ready_task_first():
    planned = schedule(tasks(), parallel=2)
    # a and b start; when they finish, c (ready, registered before d) and d start.
    assert [planned.times[t].start for t in "abcd"] == [0.0, 0.0, 1.0, 1.0]
    assert planned.total_minutes == 2.0 and planned.critical_path == ["a", "c"]


def test_a_cap_lengthens_a_wide_graph():
    wide = [Task(str(n), "t", (), 1.0) for n in range(10)]
    assert schedule(wide).total_minutes == 1.0
    assert schedule(wide, parallel=4).total_minutes == 3.0


def test_an_operation_of_its_own_beats_the_type_and_each_rollout_step_takes_it():
    model = {"k:Deployment": 1.0, "k:Deployment update": 0.5, "k:": 0.1}
    created = Task("a", "k:Deployment", ())
    updated = Task("b", "k:Deployment", (), operation="update", steps=3)
    replaced = Task("c", "k:Deployment", (), operation="replace")
    other = Task("d", "k:Service", (), operation="update")
    assert [duration(t, model) for t in (created, updated, replaced, other)] == [1.0, 1.5, 1.0, 0.1]
