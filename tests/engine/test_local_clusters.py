"""`python -m ops local`: idempotent `up`, a `down` that leaves no process, a `delete` that leaves
no cluster, and every component on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.engine import stack_config

STACK = "lifecycle"


def recorded_pids(project) -> list[int]:
    folder = project.root / ".clusters" / "kwok" / "clusters"
    return [int(path.read_text()) for path in folder.glob(f"{STACK}-*/pids/*.pid")]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()[:80]


def listening_addresses(pids: list[int]) -> set[str]:
    """Local addresses of the listening TCP sockets the processes own (from /proc)."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.add(fields[1].split(":")[0])
    return addresses


@pytest.fixture(scope="module")
def lifecycle(project):
    project.write_config(STACK, stack_config(STACK))
    yield project
    project.ops("local", "delete", "--stack", STACK)


def test_up_twice_then_down_then_up_then_delete(lifecycle):
    project = lifecycle
    first = project.ops("local", "up", "--stack", STACK)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count(": created") == 3, first.stdout
    pids = recorded_pids(project)
    assert pids and all(alive(pid) for pid in pids)
    # 127.0.0.1 is 0100007F in /proc/net/tcp: nothing listens anywhere else.
    assert listening_addresses(pids) == {"0100007F"}

    again = project.ops("local", "up", "--stack", STACK)
    assert again.returncode == 0 and again.stdout.count(": already running") == 3, again.stdout

    stopped = project.ops("local", "down", "--stack", STACK)
    assert stopped.returncode == 0, stopped.stderr
    assert not [pid for pid in pids if alive(pid)], "down left processes behind"

    restarted = project.ops("local", "up", "--stack", STACK)
    assert restarted.returncode == 0 and restarted.stdout.count(": restarted") == 3, restarted

    pids = recorded_pids(project)
    deleted = project.ops("local", "delete", "--stack", STACK)
    assert deleted.returncode == 0, deleted.stderr
    assert not [pid for pid in pids if alive(pid)], "delete left processes behind"
    status = project.ops("local", "status", "--stack", STACK)
    assert status.stdout.count(": absent") == 3, status.stdout
