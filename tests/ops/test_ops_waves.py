"""`ops up --env E --layout per-region`: waves of region stacks, with fake stack runners."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deploypaths.mock_run import PROJECT_DIR
from ops import region_stacks, waves
from ops.__main__ import main
from ops.waves import StackRun, roll_out

WAVES = [["env-us-east-1"], ["env-eu-west-1", "env-ap-southeast-2", "env-us-west-2"], ["env-x-1"]]


class Recorder:
    """A fake stack runner: records starts and ends, fails the stacks it is told to."""

    def __init__(
        self, failing: tuple[str, ...] = (), hold: dict[str, threading.Event] | None = None
    ):
        self.lock = threading.Lock()
        self.log: list[tuple[str, str]] = []
        self.active = self.most_active = 0
        self.failing, self.hold = failing, hold or {}

    def __call__(self, stack: str) -> StackRun:
        with self.lock:
            self.log.append(("start", stack))
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        if stack in self.hold:
            assert self.hold[stack].wait(timeout=10), f"{stack} was never released"
        with self.lock:
            self.active -= 1
            self.log.append(("end", stack))
        return StackRun(stack, stack not in self.failing, 1.0, "exit status 1")


def test_a_wave_starts_only_after_every_stack_of_the_previous_one_finished():
    recorder, said = Recorder(), []
    rollout = roll_out(WAVES, recorder, max_parallel=4, say=said.append)
    assert rollout.ok and rollout.not_started == []
    position = {event: index for index, event in enumerate(recorder.log)}
    for earlier, later in zip(WAVES, WAVES[1:], strict=False):
        last_end = max(position[("end", stack)] for stack in earlier)
        first_start = min(position[("start", stack)] for stack in later)
        assert last_end < first_start, f"{later} started before {earlier} had finished"
    assert "wave 2/3: starting env-eu-west-1, env-ap-southeast-2, env-us-west-2" in said
    assert "env-us-east-1: succeeded after 1.0s" in said


def test_the_stacks_of_a_wave_run_side_by_side_up_to_max_parallel():
    # Three stacks that can only all pass the barrier together: they must run at once.
    together = threading.Barrier(3, timeout=10)

    def meet(stack: str) -> StackRun:
        together.wait()
        return StackRun(stack, True, 0.0)

    assert roll_out([WAVES[1]], meet, max_parallel=3, say=lambda _: None).ok
    recorder = Recorder()
    roll_out(WAVES, recorder, max_parallel=2, say=lambda _: None)
    assert recorder.most_active <= 2
    serial = Recorder()
    roll_out(WAVES, serial, max_parallel=1, say=lambda _: None)
    assert serial.most_active == 1


def test_a_failed_stack_stops_later_waves_and_lets_its_wave_finish():
    # env-ap-southeast-2 is held until env-eu-west-1 has failed: it must still run to its end.
    release = threading.Event()
    recorder = Recorder(failing=("env-eu-west-1",), hold={"env-ap-southeast-2": release})
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        if line.startswith("env-eu-west-1: FAILED"):
            release.set()

    rollout = roll_out(WAVES, recorder, max_parallel=4, say=say)
    assert not rollout.ok and rollout.failed_wave == 1
    assert rollout.not_started == ["env-x-1"]
    assert ("start", "env-x-1") not in recorder.log
    assert ("end", "env-ap-southeast-2") in recorder.log and (
        "end",
        "env-us-west-2",
    ) in recorder.log
    notice = next(line for line in said if "the other stacks of wave 2 are left to finish" in line)
    assert notice.startswith("wave 2: env-eu-west-1 failed;") and "env-ap-southeast-2" in notice
    assert notice.endswith("no later wave will start")
    text = waves.summary(rollout, WAVES)
    assert text.splitlines()[0] == (
        "Wave 2 failed (env-eu-west-1); its other stacks ran to the end; not started: env-x-1."
    )
    assert "env-x-1" in text.splitlines()[-1] and "not started" in text.splitlines()[-1]


def test_a_runner_that_raises_fails_its_stack_not_the_rollout():
    def crash(stack: str) -> StackRun:
        raise RuntimeError(f"no engine for {stack}")

    said: list[str] = []
    rollout = roll_out(
        [["env-us-east-1"], ["env-eu-west-1"]], crash, max_parallel=2, say=said.append
    )
    assert rollout.failed_wave == 0 and rollout.not_started == ["env-eu-west-1"]
    assert any("FAILED (RuntimeError: no engine for env-us-east-1)" in line for line in said)


def test_ops_up_per_region_runs_the_environments_region_stacks(monkeypatch, capsys):
    started: list[tuple[str, tuple[str, ...]]] = []

    def fake_runner(options, say, processes):
        def run(stack: str) -> StackRun:
            started.append((stack, tuple(options)))
            say(stack, "updating")
            return StackRun(stack, True, 0.5)

        return run

    monkeypatch.setattr(waves, "subprocess_runner", fake_runner)
    argv = ["up", "--env", "local", "--layout", "per-region", "--yes", "--max-parallel", "2"]
    assert main([*argv, "--no-policy", "--parallel", "8"]) == 0
    assert started[0] == ("local-us-east-1", ("--parallel", "8", "--no-policy"))
    assert sorted(stack for stack, _ in started[1:]) == ["local-ap-southeast-2", "local-eu-west-1"]
    out = capsys.readouterr().out
    assert "Deploying local as 3 region stack(s) in 2 wave(s), at most 2 at once." in out
    assert "[local-eu-west-1] updating" in out
    assert "Every region stack succeeded (3 in 2 wave(s))." in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "pass --stack S, or --env E --layout per-region|per-service"),
        (
            ["--env", "local", "--stack", "local", "--max-parallel", "0"],
            "pass --stack S (one stack) or --env E (its region stacks), not both; --env needs "
            "--layout per-region or per-service (one stack is --stack local); --max-parallel is "
            "for --layout per-region or per-service; --max-parallel must be at least 1, not 0",
        ),
        (
            ["--stack", "local", "--layout", "per-service"],
            "--layout per-service deploys an environment: pass --env, not --stack",
        ),
        (
            ["--env", "local", "--layout", "per-service", "--yes"],
            "--env local: its layout is single, not per-service",
        ),
        (
            ["--stack", "local", "--layout", "per-region"],
            "--layout per-region deploys an environment: pass --env, not --stack",
        ),
        (
            ["--env", "nope", "--layout", "per-region", "--yes"],
            "--env nope: there is no stack file",
        ),
    ],
)
def test_layout_mistakes_are_one_message_and_exit_2(capsys, argv, message):
    assert main(["up", *argv]) == 2
    assert capsys.readouterr().err.strip().startswith(f"error: {message}")


def test_a_region_stacks_file_is_generated_from_its_environments(tmp_path: Path):
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    source = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    (tmp_path / "Pulumi.prod.yaml").write_text(source)
    assert region_stacks.sync_stack_file("prod-eu-west-1", tmp_path) == "prod"
    generated = (tmp_path / "Pulumi.prod-eu-west-1.yaml").read_text()
    assert generated.startswith("# Generated from Pulumi.prod.yaml by `python -m ops`")
    assert generated.endswith(source)  # secure values and the encryption salt included
    for stack in ("prod", "prod-us-west-2", "dev-eu-west-1"):
        assert region_stacks.sync_stack_file(stack, tmp_path) is None, stack
    assert sorted(p.name for p in tmp_path.glob("Pulumi.*.yaml")) == [
        "Pulumi.prod-eu-west-1.yaml",
        "Pulumi.prod.yaml",
    ]


def test_an_interrupt_reaches_each_running_stack_once_and_no_later_wave_starts(monkeypatch, capsys):
    interrupted_stack = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, lambda *_: sys.exit(130))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )

    def fake_runner(options, say, processes):
        def run(stack: str) -> StackRun:
            child = subprocess.Popen(
                [sys.executable, "-c", interrupted_stack],
                stdout=subprocess.PIPE,
                text=True,
                process_group=0,
            )
            processes.add(child)
            child.stdout.readline()
            os.kill(os.getpid(), signal.SIGINT)
            code = child.wait(timeout=20)
            processes.remove(child)
            return StackRun(stack, code == 0, 0.1, f"exit status {code}")

        return run

    monkeypatch.setattr(waves, "subprocess_runner", fake_runner)
    assert main(["up", "--env", "local", "--layout", "per-region", "--yes"]) == 130
    out = capsys.readouterr().out
    assert "local-us-east-1: FAILED (exit status 130)" in out
    assert "not started: local-eu-west-1, local-ap-southeast-2" in out
    assert "Interrupted: each stack above says which of its paths landed" in out
