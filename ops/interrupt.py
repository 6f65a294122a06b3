"""Ctrl-C during an update asks the engine to cancel instead of killing the command under it.

Left to Python, SIGINT raises KeyboardInterrupt in the command, which closes the engine's output
pipes: the engine dies on its next write, mid-step, leaving its lock and pending operations.
Instead the command keeps running and the engine gets the signal once: it starts nothing new,
lets the provider calls in flight return, records them, releases its lock and exits; the command
then says which paths landed. The Kubernetes provider answers a cancel by no longer waiting for
the rollouts it had applied (Kubernetes itself carries them on): those paths are reported as
interrupted, and the next `up` confirms them. A second Ctrl-C reaches the engine again, which
then stops at once (its own rule).

At a terminal, Ctrl-C already reaches the engine (it runs in the command's process group); a
SIGINT sent to the command alone (a CI runner, `kill -INT`) is passed on to it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType

from ops import processes

ENGINE_COMMAND = "pulumi"


class Interrupted:
    """Whether SIGINT arrived while the engine ran."""

    def __init__(self) -> None:
        self.received = False

    def __bool__(self) -> bool:
        return self.received


@contextlib.contextmanager
def cancel_on_interrupt() -> Iterator[Interrupted]:
    interrupted = Interrupted()

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        interrupted.received = True
        if not _terminal_sent_it():
            for pid in processes.children(os.getpid(), ENGINE_COMMAND):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)
        print(
            "Interrupted: the engine starts nothing new and ends the steps in flight "
            "(Ctrl-C again stops it at once, leaving them pending)",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _terminal_sent_it() -> bool:
    """Whether this command is the foreground of its terminal, where Ctrl-C signals the whole
    process group, the engine included."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError):
        return False
