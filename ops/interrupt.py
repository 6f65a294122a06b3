"""Ctrl-C during an update: the steps in flight finish, nothing new starts.

The engine's own answer to SIGINT is to cancel its providers, and the Kubernetes provider answers
a cancel by no longer waiting for the rollouts it applied: every path in flight would end cut
short (pulumi/pulumi#12259). But the engine does wait for its steps in flight when its *program*
ends early, and a path starts only when the program registers it (the SDK registers a resource
once what it depends on is done). So the first Ctrl-C ends the program alone: no path starts any
more, the engine finishes and records the steps it had started, releases its lock and exits, and
the command says which paths landed. The second Ctrl-C reaches the engine, which cancels its
providers (paths in flight end cut short, Kubernetes carries their rollouts on); the third ends it
at once (its own rule).

The engine runs in a process group of its own, so that a Ctrl-C at the terminal reaches this
command alone, which decides what goes where; a SIGINT sent to the command alone (a CI runner's
cancel, `kill -INT`) is handled the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any

from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import create_command_error

from ops import processes

# The exit status of a command stopped by Ctrl-C, as shells report it.
INTERRUPTED = 128 + signal.SIGINT
ENGINE_COMMAND = "pulumi"
# The language host's runner: the program runs in its process (deploypaths' __main__ ends it).
PROGRAM_RUNNER = "pulumi-language-python-exec"

FIRST = (
    "Interrupted: no path starts any more; the steps in flight finish (Ctrl-C again cancels "
    "them, leaving their rollouts unconfirmed)"
)
AGAIN = "Interrupted again: the engine cancels the steps in flight (Ctrl-C again stops it at once)"


class Interrupted:
    """How many times SIGINT arrived while the engine ran."""

    def __init__(self) -> None:
        self.times = 0

    def __bool__(self) -> bool:
        return self.times > 0


class OwnProcessGroup(auto.PulumiCommand):
    """The same engine command, started in a process group of its own (out of reach of the
    terminal's Ctrl-C); otherwise run as the Automation API runs it."""

    def __init__(self, inner: auto.PulumiCommand) -> None:
        # Not super().__init__: the inner command already checked the engine's version.
        self.command, self.version = inner.command, inner.version

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: Callable[[str], Any] | None = None,
        on_error: Callable[[str], Any] | None = None,
    ) -> CommandResult:
        if "--non-interactive" not in args:
            args = ["--non-interactive", *args]
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        if os.path.isabs(self.command):
            env["PATH"] = os.pathsep.join([os.path.dirname(self.command), env["PATH"]])
        with subprocess.Popen(
            [self.command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            encoding="utf-8",
            process_group=0,
        ) as process:
            readers = [
                _Reader(process.stdout, on_output),
                _Reader(process.stderr, on_error),
            ]
            for reader in readers:
                reader.join()
            code = process.wait()
        out, err = ("\n".join(reader.lines) for reader in readers)
        result = CommandResult(stdout=out, stderr=err, code=code)
        if code != 0:
            raise create_command_error(result)
        return result


class _Reader(threading.Thread):
    """Reads one of the engine's streams line by line, passing each on as it comes."""

    def __init__(self, stream: Any, callback: Callable[[str], Any] | None) -> None:
        super().__init__(daemon=True)
        self.stream, self.callback = stream, callback
        self.lines: list[str] = []
        self.start()

    def run(self) -> None:
        for line in iter(self.stream.readline, ""):
            stripped = line.rstrip()
            if self.callback:
                self.callback(stripped)
            self.lines.append(stripped)
        self.stream.close()


@contextlib.contextmanager
def cancel_on_interrupt(stack: auto.Stack) -> Iterator[Interrupted]:
    """While the block runs the stack's engine, SIGINT stops it in the steps described above."""
    interrupted = Interrupted()
    workspace = stack.workspace
    command = workspace.pulumi_command

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        interrupted.times += 1
        engines = processes.children(os.getpid(), ENGINE_COMMAND)
        programs = [pid for engine in engines for pid in _programs(engine)]
        first = interrupted.times == 1 and programs
        _signal(programs if first else engines)
        print(FIRST if first else AGAIN, file=sys.stderr, flush=True)

    workspace.pulumi_command = OwnProcessGroup(command)
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
        workspace.pulumi_command = command


def _programs(engine: int) -> list[int]:
    """The engine's program processes (none before the program starts or once it has ended)."""
    return [
        p.pid
        for p in processes.descendants(engine)
        if any(arg.endswith(PROGRAM_RUNNER) for arg in processes.arguments(p.pid))
    ]


def _signal(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
