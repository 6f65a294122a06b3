"""This machine's processes, read from /proc: whether one still runs, which a command started,
which carry an environment variable. Linux only, as the local clusters are."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# The kernel cuts a process's name (/proc/PID/stat, comm) to this many characters.
COMM_LENGTH = 15


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    command: str


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie has ended; only its parent has not collected it yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    process = _read(PROC / str(pid))
    return process is not None and process[1] != "Z"


def processes() -> Iterator[Process]:
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (read := _read(entry)):
            yield read[0]


def children(parent: int, command: str) -> list[int]:
    return [p.pid for p in processes() if p.ppid == parent and p.command == command]


def descendants(ancestor: int) -> list[Process]:
    """The processes `ancestor` started, and theirs, and so on."""
    every, found, parents = list(processes()), [], {ancestor}
    while parents:
        born = [p for p in every if p.ppid in parents]
        found += born
        parents = {p.pid for p in born}
    return found


def arguments(pid: int) -> list[str]:
    """The command line `pid` was started with (empty once it has ended)."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def carrying(variable: str) -> list[tuple[Process, str]]:
    """Every readable process whose environment sets `variable`, with its value."""
    needle = f"{variable}=".encode()
    found = []
    for process in processes():
        try:
            environ = (PROC / str(process.pid) / "environ").read_bytes()
        except OSError:
            continue  # ended since listed, or not ours to read
        for entry in environ.split(b"\0"):
            if entry.startswith(needle):
                found.append((process, entry[len(needle) :].decode(errors="replace")))
    return found


def _read(entry: Path) -> tuple[Process, str] | None:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    # The name sits in parentheses and may hold spaces; the fields after it are fixed.
    command = stat[stat.index("(") + 1 : stat.rindex(")")]
    state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
    if len(command) == COMM_LENGTH:
        command = _program(entry) or command
    return Process(pid=int(entry.name), ppid=int(ppid), command=command), state


def _program(entry: Path) -> str | None:
    """The file name the process was started from (argv[0])."""
    argv = arguments(int(entry.name))
    return Path(argv[0]).name if argv else None
