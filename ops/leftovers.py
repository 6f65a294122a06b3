"""What an update cut short leaves behind, found and resolved before the next `ops up` or
`ops rollback` of the stack writes anything.

An engine killed mid-update (SIGKILL, a runner that went away) leaves its lock on the state, the
operations it had in flight recorded as pending, its events recording unfinished, and the
provider plugins it started still running (each plugin runs in its own process group, so a
killed process group does not take them along). A lock held by a process that still runs is
another writer: the command refuses at once, naming it, and never breaks it.

Resolution (`--yes`, or confirmed at a terminal): the killed update's processes are stopped, its
locks cleared (`pulumi cancel`, only once no lock's process runs), then a refresh settles the
pending operations: a pending create of a Kubernetes object is imported under the ID its
metadata gives, so the refresh keeps it if the object was created and drops it if not; other
pending creates are cleared (the update creates them again); pending updates and deletes are what
the refresh reads back.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pulumi import automation as auto

from deploypaths.identity import urn_name
from ops import UserError, automation, events, processes

# Set in the environment of every engine an ops command starts, inherited by the language host,
# the program and the provider plugins: `<project dir>|<stack>|<pid of the ops command>`.
MARKER = "DEPLOYPATHS_UPDATE"
STOP_GRACE_SECONDS = 5.0


class StackBusy(Exception):
    """Another process writes the stack now: the command refuses (exit 1), breaking nothing."""


@dataclass(frozen=True)
class Lock:
    """One lock file of a file backend (`.pulumi/locks/<org>/<project>/<stack>/<id>.json`)."""

    path: Path
    pid: int
    user: str
    host: str
    since: str

    @property
    def holder(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid}) since {self.since}"

    def held(self) -> bool:
        """True while its process may still run: always for another host's lock."""
        return self.host != socket.gethostname() or processes.running(self.pid)


@dataclass(frozen=True)
class Pending:
    """An operation the state records as started and never finished."""

    urn: str
    kind: str  # creating, updating, deleting, reading
    resource: Mapping[str, Any]

    @property
    def line(self) -> str:
        type_ = self.urn.split("::")[-2].rsplit("$", 1)[-1]
        return f"{self.kind} {type_} {urn_name(self.urn)}"

    def kubernetes_id(self) -> str | None:
        """The ID the Kubernetes provider gives the object (`namespace/name`, or `name`), from
        the inputs it was being created with; None for any other resource."""
        if not self.urn.split("::")[-2].rsplit("$", 1)[-1].startswith("kubernetes:"):
            return None
        metadata = (self.resource.get("inputs") or {}).get("metadata") or {}
        name = metadata.get("name")
        if not isinstance(name, str):
            return None
        namespace = metadata.get("namespace")
        return f"{namespace}/{name}" if isinstance(namespace, str) else name


@dataclass(frozen=True)
class Orphan:
    pid: int
    command: str


@dataclass(frozen=True)
class Leftovers:
    locks: list[Lock]
    pending: list[Pending]
    orphans: list[Orphan]

    def __bool__(self) -> bool:
        return bool(self.locks or self.pending or self.orphans)

    def lines(self) -> list[str]:
        return [
            *(f"lock of {lock.holder}: that process no longer runs" for lock in self.locks),
            *(f"pending: {p.line}" for p in self.pending),
            *(f"still running: {o.command} (pid {o.pid})" for o in self.orphans),
        ]


# --- Finding -----------------------------------------------------------------------------------


def marker(stack_name: str) -> str:
    return f"{automation.PROJECT_DIR}|{stack_name}|{os.getpid()}"


def find(stack: auto.Stack, stack_name: str, backend_url: str | None) -> Leftovers:
    """What a cut-short update left on the stack; StackBusy when another writer holds it."""
    locks = stack_locks(backend_url, automation.project_name(), stack_name)
    live = [lock for lock in locks if lock.held()]
    if live:
        raise StackBusy(
            f"stack {stack_name} is being updated by {live[0].holder}; it was not touched: "
            f"wait for that update to end (its lock: {live[0].path})"
        )
    return Leftovers(
        locks=locks,
        pending=pending_operations(stack),
        orphans=orphans(stack_name, processes.carrying(MARKER)),
    )


def stack_locks(backend_url: str | None, project: str, stack_name: str) -> list[Lock]:
    """The stack's lock files in a file backend (other backends keep locks to themselves and
    the engine's own refusal says who holds them)."""
    if not backend_url or not backend_url.startswith("file://"):
        return []
    parsed = urlparse(backend_url)
    root = Path(unquote(parsed.netloc + parsed.path)).expanduser() / ".pulumi" / "locks"
    name = stack_name.rsplit("/", 1)[-1]
    return sorted(
        (lock for path in root.glob(f"*/{project}/{name}/*.json") if (lock := _lock(path))),
        key=lambda lock: lock.since,
    )


def _lock(path: Path) -> Lock | None:
    try:
        document = json.loads(path.read_text())
        return Lock(
            path=path,
            pid=int(document["pid"]),
            user=str(document.get("username", "?")),
            host=str(document.get("hostname", "?")),
            since=str(document.get("timestamp", "?"))[:19].replace("T", " "),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # gone since listed, or not a lock the engine wrote


def pending_operations(stack: auto.Stack) -> list[Pending]:
    deployment = stack.export_stack().deployment or {}
    return [
        Pending(urn=op["resource"]["urn"], kind=op.get("type", "?"), resource=op["resource"])
        for op in deployment.get("pending_operations") or []
    ]


def orphans(stack_name: str, marked: Iterable[tuple[processes.Process, str]]) -> list[Orphan]:
    """Processes an earlier ops command of this stack started whose command no longer runs:
    `marked` are the processes that carry MARKER, with its value."""
    prefix = f"{automation.PROJECT_DIR}|{stack_name}|"
    found = []
    for process, value in marked:
        if not value.startswith(prefix):
            continue
        owner = int(value.rsplit("|", 1)[1])
        if owner != os.getpid() and not processes.running(owner):
            found.append(Orphan(pid=process.pid, command=process.command))
    return found


# --- Resolving ---------------------------------------------------------------------------------


def writable(stack_name: str, *, yes: bool) -> auto.Stack:
    """The stack a command is about to write: the engines the command starts marked as its own,
    and what a cut-short update left settled (asked about at a terminal unless `yes`). Raises
    StackBusy while another writer holds it, UserError when it cannot ask and `yes` is not
    given."""
    stack = automation.select(stack_name)
    os.environ[MARKER] = marker(stack_name)
    settle(stack, stack_name, yes=yes, ask=_ask, say=print)
    if not yes and not sys.stdin.isatty():
        raise UserError("no terminal to confirm on: pass --yes to deploy without asking")
    return stack


def _ask(question: str) -> bool:
    return sys.stdin.isatty() and input(question).strip().lower() in ("y", "yes")


def settle(
    stack: auto.Stack,
    stack_name: str,
    *,
    yes: bool,
    ask: Callable[[str], bool],
    say: Callable[[str], None],
) -> None:
    """Finds what a cut-short update left and, once allowed, resolves it; nothing found,
    nothing said. Raises StackBusy (another writer) or UserError (not allowed to resolve)."""
    leftovers = find(stack, stack_name, events.backend_url(stack))
    if not leftovers:
        return
    say(f"Stack {stack_name} holds what an update cut short left behind:")
    for line in leftovers.lines():
        say(f"  {line}")
    if not yes and not ask("Resolve them before deploying? [y/N] "):
        raise UserError(
            f"stack {stack_name} was left by an update cut short (above): pass --yes to resolve "
            "it first, or resolve it by hand (`pulumi cancel`, `pulumi refresh`)"
        )
    resolve(stack, stack_name, leftovers, say)


def resolve(
    stack: auto.Stack, stack_name: str, leftovers: Leftovers, say: Callable[[str], None]
) -> None:
    for orphan in leftovers.orphans:
        stop(orphan.pid)
        say(f"  stopped {orphan.command} (pid {orphan.pid}) of the cut-short update")
    if leftovers.locks:
        stack.cancel()
        for lock in leftovers.locks:
            say(f"  cleared the lock of {lock.holder}: that process no longer runs")
    if leftovers.pending:
        imports = {p.urn: p.kubernetes_id() for p in leftovers.pending if p.kind == "creating"}
        refresh_settling(stack, {urn: id_ for urn, id_ in imports.items() if id_})
        left = pending_operations(stack)
        if left:
            raise UserError(
                f"stack {stack_name} still holds pending operations after a refresh: "
                + "; ".join(p.line for p in left)
            )
        say(
            f"  refreshed: the {len(leftovers.pending)} pending operation(s) settled "
            "(created objects kept, absent ones dropped)"
        )


def refresh_settling(stack: auto.Stack, imports: Mapping[str, str]) -> None:
    """`pulumi refresh` that imports the listed pending creates by ID and clears the others."""
    arguments = ["refresh", "--yes", "--skip-preview", "--clear-pending-creates"]
    for urn, id_ in imports.items():
        arguments += ["--import-pending-creates", urn, "--import-pending-creates", id_]
    workspace = stack.workspace
    workspace.pulumi_command.run(
        [*arguments, "--stack", stack.name],
        cwd=workspace.work_dir,
        additional_env=dict(workspace.env_vars or {}),
    )


def stop(pid: int) -> None:
    """SIGTERM, then SIGKILL after a grace period; gone already is done."""
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and processes.running(pid):
            time.sleep(0.1)
        if processes.running(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
