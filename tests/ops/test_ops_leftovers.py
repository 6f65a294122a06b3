"""What a cut-short update leaves (locks, pending operations, orphaned engine processes, an
unfinished events recording) is found, refused when another writer still runs, and resolved
only when allowed; the engine's own refusals and provider crashes are named in one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from ops import UserError, automation, events, leftovers, processes
from tests.support.ops_fixtures import FakeStack

DEPLOYMENT_URN = (
    "urn:pulumi:local::deploypaths::deploypaths:index:RegionPath$deploypaths:index:ServicePath"
    "$kubernetes:apps/v1:Deployment::local-us-east-1-orders-deployment"
)
JOB_GATE_URN = "urn:pulumi:local::deploypaths::pulumi-python:dynamic:Resource::local-gate-wave-2"


def dead_pid() -> int:
    """The pid of a process that has ended (and been collected)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def write_lock(state: Path, stack: str, *, pid: int, host: str | None = None) -> Path:
    folder = state / ".pulumi" / "locks" / "organization" / automation.project_name() / stack
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"lock-{pid}.json"
    lock = {
        "pid": pid,
        "username": "ci",
        "hostname": host or socket.gethostname(),
        "timestamp": "2026-12-05T01:20:37.78Z",
    }
    path.write_text(json.dumps(lock))
    return path


def pending(urn: str, kind: str = "creating", **inputs: object) -> dict[str, object]:
    return {"resource": {"urn": urn, "inputs": inputs}, "type": kind}


def test_a_lock_whose_process_runs_refuses_naming_its_holder(file_backend):
    write_lock(file_backend, "local", pid=os.getpid())
    with pytest.raises(leftovers.StackBusy) as refused:
        leftovers.find(FakeStack(), "local", f"file://{file_backend}")
    message = str(refused.value)
    assert f"ci@{socket.gethostname()} (pid {os.getpid()}) since 2026-12-05 01:20:37" in message


def test_another_hosts_lock_is_never_taken_for_dead():
    lock = leftovers.Lock(Path("x.json"), pid=dead_pid(), user="ci", host="elsewhere", since="t")
    assert lock.held()


def test_a_dead_writers_lock_and_pending_operations_are_listed(file_backend):
    pid = dead_pid()
    write_lock(file_backend, "local", pid=pid)
    stack = FakeStack(
        pending_operations=[
            pending(DEPLOYMENT_URN, metadata={"name": "orders", "namespace": "shop"}),
            pending(JOB_GATE_URN, kind="updating"),
        ]
    )
    found = leftovers.find(stack, "local", f"file://{file_backend}")
    assert found.lines() == [
        f"lock of ci@{socket.gethostname()} (pid {pid}) since 2026-12-05 01:20:37: that process "
        "no longer runs",
        "pending: creating kubernetes:apps/v1:Deployment local-us-east-1-orders-deployment",
        "pending: updating pulumi-python:dynamic:Resource local-gate-wave-2",
    ]
    assert [p.kubernetes_id() for p in found.pending] == ["shop/orders", None]


def test_nothing_left_is_nothing_said(file_backend):
    said: list[str] = []
    leftovers.settle(FakeStack(), "local", yes=False, ask=lambda q: False, say=said.append)
    assert said == []


def test_leftovers_are_not_resolved_without_yes(file_backend):
    write_lock(file_backend, "local", pid=dead_pid())
    stack = FakeStack()
    with pytest.raises(UserError, match="pass --yes"):
        leftovers.settle(stack, "local", yes=False, ask=lambda q: False, say=lambda line: None)
    assert stack.called("cancel") == []


def test_with_yes_a_dead_lock_is_cleared_and_orphans_stopped(file_backend):
    owner = dead_pid()
    write_lock(file_backend, "local", pid=owner)
    environment = {**os.environ, leftovers.MARKER: f"{automation.PROJECT_DIR}|local|{owner}"}
    orphan = subprocess.Popen(["sleep", "60"], env=environment)
    try:
        said: list[str] = []
        stack = FakeStack()
        leftovers.settle(stack, "local", yes=True, ask=lambda q: False, say=said.append)
        orphan.wait(timeout=10)
    finally:
        orphan.kill()
    assert stack.called("cancel") == [None]
    text = "\n".join(said)
    assert f"stopped sleep (pid {orphan.pid})" in text
    assert f"cleared the lock of ci@{socket.gethostname()} (pid {owner})" in text


def test_processes_of_a_running_command_or_another_stack_are_no_orphans():
    dead = dead_pid()
    marked = [
        (
            processes.Process(1001, 1, "pulumi-resource-kubernetes"),
            f"{automation.PROJECT_DIR}|local|{dead}",
        ),
        (
            processes.Process(1002, 1, "pulumi-resource-kubernetes"),
            f"{automation.PROJECT_DIR}|local|{os.getppid()}",
        ),
        (
            processes.Process(1003, 1, "pulumi-resource-kubernetes"),
            f"{automation.PROJECT_DIR}|prod|{dead}",
        ),
        (processes.Process(1004, 1, "pulumi-resource-kubernetes"), f"/elsewhere|local|{dead}"),
    ]
    assert [o.pid for o in leftovers.orphans("local", marked)] == [1001]


def test_the_engines_lock_refusal_names_the_holder():
    text = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other "
        "process(es) to end or delete the lock file with `pulumi cancel`.\n  file:///s/.pulumi/"
        "locks/organization/deploypaths/local/f7.json: created by root@vm (pid 19177) at "
        "2026-12-05T01:20:37Z"
    )
    assert automation.lock_holder(text) == "root@vm (pid 19177) since 2026-12-05 01:20:37"
    assert automation.lock_holder("error: update failed") is None


def test_a_provider_that_died_is_named():
    line = (
        "kubernetes:apps/v1:Deployment (orders): error: rpc error: code = Unavailable desc = "
        "error reading from server: EOF"
    )
    crash = automation.provider_crash(["error: update failed", line])
    assert crash and crash.startswith("the kubernetes provider exited during the update")
    assert automation.provider_crash(["error: update failed"]) is None


def test_a_died_provider_is_named_by_whichever_line_names_it():
    # The drill's update: its resources' errors come last and name no provider.
    eof = "error: error reading from server: EOF"
    detected = (
        "    error: Detected that /root/.cache/deploypaths/engine/home/plugins/"
        "resource-kubernetes-v4.25.0/pulumi-resource-kubernetes exited prematurely."
    )
    crash = automation.provider_crash([f"{eof}; {eof}", eof, detected])
    assert crash == f"the kubernetes provider exited during the update: {detected.strip()}"
    assert automation.provider_crash([eof]) == f"a provider exited during the update: {eof}"


def test_a_killed_commands_recording_is_kept_and_a_running_ones_left(tmp_path):
    killed = tmp_path / f"4.{dead_pid()}.jsonl.partial"
    running = tmp_path / f"4.{os.getpid()}.jsonl.partial"
    for path in (killed, running):
        path.write_text('{"sequence": 1, "timestamp": 1}\n')
    kept = events.keep_interrupted(tmp_path)
    assert [p.name for p in kept] == [f"4-interrupted-{killed.name.split('.')[1]}.jsonl"]
    assert running.exists() and not killed.exists()
    assert events.interrupted_recordings(tmp_path) == kept
