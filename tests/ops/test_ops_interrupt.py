"""Ctrl-C during an update: the first ends the engine's program alone (nothing new starts, the
steps in flight finish), the second reaches the engine; the engine runs out of reach of the
terminal's Ctrl-C, in a process group of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from pulumi import automation as auto

from ops.interrupt import PROGRAM_RUNNER, OwnProcessGroup, cancel_on_interrupt


@pytest.fixture
def engine(tmp_path):
    """A stand-in engine named `pulumi` that starts a stand-in program under the language
    host's runner name; each writes its name to `received` on SIGINT."""
    received = tmp_path / "received"
    program = tmp_path / PROGRAM_RUNNER
    # Python, as the program is: a shell's background job could not trap SIGINT.
    program.write_text(
        "import signal, sys, time\n"
        "say = lambda *_: open(sys.argv[1], 'a').write('program\\n')\n"
        "signal.signal(signal.SIGINT, say)\n"
        "while True: time.sleep(0.1)\n"
    )
    engine = tmp_path / "pulumi"
    engine.write_text(
        f"#!/bin/sh\ntrap 'echo engine >> {received}' INT\n"
        f"{sys.executable} {program} {received} &\n"
        "program=$!\n"
        f"while ! grep -qs engine {received}; do sleep 0.1; done\n"
        'kill -9 "$program"\n'
    )
    for script in (program, engine):
        script.chmod(0o755)
    # A group of its own, so that the stand-ins end together whatever the test did.
    child = subprocess.Popen([str(engine)], stdin=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)
    yield child, received
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def test_the_first_interrupt_ends_the_program_and_the_second_reaches_the_engine(engine):
    child, received = engine
    command = SimpleNamespace(command="/opt/engine/bin/pulumi", version=None)
    stack = SimpleNamespace(workspace=SimpleNamespace(pulumi_command=command))
    before = signal.getsignal(signal.SIGINT)
    with cancel_on_interrupt(stack) as interrupted:
        running = stack.workspace.pulumi_command
        assert isinstance(running, OwnProcessGroup) and running.command == command.command
        os.kill(os.getpid(), signal.SIGINT)
        wait_for(lambda: received.exists())
        assert received.read_text() == "program\n", "the first Ctrl-C did not go to the program"
        os.kill(os.getpid(), signal.SIGINT)
        child.wait(timeout=10)
    assert received.read_text() == "program\nengine\n"
    assert interrupted.times == 2
    assert signal.getsignal(signal.SIGINT) is before, "the handler is not restored"
    assert stack.workspace.pulumi_command is command, "the engine command is not restored"


def test_the_engine_runs_in_a_process_group_of_its_own(tmp_path):
    engine = tmp_path / "bin" / "pulumi"
    engine.parent.mkdir()
    engine.write_text('#!/bin/sh\necho "$@"\nps -o pgid= -p $$\necho oops >&2\nexit "$EXIT"\n')
    engine.chmod(0o755)
    command = OwnProcessGroup(SimpleNamespace(command=str(engine), version=None))
    seen: list[str] = []
    result = command.run(["up", "--yes"], str(tmp_path), {"EXIT": "0"}, on_output=seen.append)
    arguments, group = result.stdout.splitlines()
    assert arguments == "--non-interactive up --yes"
    assert int(group) != os.getpgrp(), "the engine shares the command's process group"
    assert seen == [arguments, group] and result.stderr == "oops"
    with pytest.raises(auto.CommandError, match="oops"):
        command.run(["up"], str(tmp_path), {"EXIT": "3"})


def wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
