"""`python -m ops up --env E --layout per-region [--max-parallel N]`: deploy an environment's region
stacks (`<env>-<region>`, see docs/region-stacks.md) wave by wave, each stack in its own
`python -m ops up --stack <env>-<region> --yes` process (Automation API), at most N at once.

A wave starts when every stack of the previous one has succeeded; the health gate in front of it
runs inside its own stacks. When a stack fails, the other stacks of its wave run to the end (they
do not depend on it) and no later wave starts. Every line a stack prints is shown prefixed with
its name. Each stack's process runs in a process group of its own: a Ctrl-C (at the terminal or
sent to this command alone) is passed on to every stack's process once, which handles it as a
single stack's `ops up` does (ops/interrupt.py). Exit status: 0 when every stack succeeded, 1 when
one failed, 2 for an operator mistake, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from deploypaths.layout import region_stacks
from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from deploypaths.validation import ConfigError, parse_settings
from ops import UserError, automation
from ops.interrupt import INTERRUPTED
from ops.live import terminal

DEFAULT_MAX_PARALLEL = 4


@dataclass(frozen=True)
class StackRun:
    """How one stack's update ended."""

    stack: str
    ok: bool
    seconds: float
    detail: str = ""


RunStack = Callable[[str], StackRun]


@dataclass
class Rollout:
    """Every stack's run, in the order they finished, and what was never started."""

    runs: list[StackRun] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)
    failed_wave: int | None = None

    @property
    def ok(self) -> bool:
        return self.failed_wave is None


def roll_out(
    waves: Sequence[Sequence[str]],
    run_stack: RunStack,
    *,
    max_parallel: int,
    say: Callable[[str], None],
) -> Rollout:
    """Run each wave's stacks side by side (at most `max_parallel` at once), a wave only after
    every stack of the one before succeeded."""
    rollout = Rollout()
    with ThreadPoolExecutor(max_workers=max_parallel) as pool:
        for index, stacks in enumerate(waves):
            number = index + 1
            say(f"wave {number}/{len(waves)}: starting {', '.join(stacks)}")
            futures = {pool.submit(_guarded, run_stack, stack): stack for stack in stacks}
            failed: list[str] = []
            for future in as_completed(futures):
                run = future.result()
                rollout.runs.append(run)
                outcome = "succeeded" if run.ok else f"FAILED ({run.detail})"
                say(f"{run.stack}: {outcome} after {run.seconds:.1f}s")
                if not run.ok and not failed:
                    running = [s for f, s in futures.items() if not f.done()]
                    say(
                        f"wave {number}: {run.stack} failed; the other stacks of wave {number} "
                        f"are left to finish ({', '.join(running) or 'none still running'}); "
                        "no later wave will start"
                    )
                if not run.ok:
                    failed.append(run.stack)
            if failed:
                rollout.failed_wave = index
                rollout.not_started = [stack for later in waves[number:] for stack in later]
                return rollout
            say(f"wave {number}/{len(waves)}: every stack succeeded")
    return rollout


def _guarded(run_stack: RunStack, stack: str) -> StackRun:
    """A runner that raises has failed its stack, not the rollout."""
    started = time.monotonic()
    try:
        return run_stack(stack)
    except Exception as error:  # noqa: BLE001 - one stack's crash must not hide the others'
        return StackRun(
            stack, False, time.monotonic() - started, f"{type(error).__name__}: {error}"
        )


def summary(rollout: Rollout, waves: Sequence[Sequence[str]]) -> str:
    by_stack = {run.stack: run for run in rollout.runs}
    lines = [f"  {'wave':>4}  {'stack':<40} {'result':<12} {'seconds':>8}"]
    for index, stacks in enumerate(waves):
        for stack in stacks:
            run = by_stack.get(stack)
            result = "not started" if run is None else "succeeded" if run.ok else "failed"
            seconds = "-" if run is None else f"{run.seconds:.1f}"
            lines.append(f"  {index + 1:>4}  {stack:<40} {result:<12} {seconds:>8}")
    if rollout.ok:
        head = f"Every region stack succeeded ({len(rollout.runs)} in {len(waves)} wave(s))."
    else:
        assert rollout.failed_wave is not None
        failed = [run.stack for run in rollout.runs if not run.ok]
        head = (
            f"Wave {rollout.failed_wave + 1} failed ({', '.join(failed)}); its other stacks ran "
            f"to the end; not started: {', '.join(rollout.not_started) or 'nothing'}."
        )
    return "\n".join([head, *lines])


class StackProcesses:
    """The stacks' `ops up` processes running now, to pass a Ctrl-C on to."""

    def __init__(self) -> None:
        self.running: set[subprocess.Popen[str]] = set()
        self.interrupted = 0
        self._lock = threading.Lock()

    def add(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self.running.add(process)

    def remove(self, process: subprocess.Popen[str]) -> None:
        with self._lock:
            self.running.discard(process)

    def interrupt(self, signum: int, frame: object) -> None:
        self.interrupted += 1
        with self._lock:
            for process in self.running:
                process.send_signal(signal.SIGINT)


def subprocess_runner(
    options: Sequence[str], show: Callable[[str, str], None], processes: StackProcesses
) -> RunStack:
    """One `python -m ops up --stack S --yes` process per stack, each line it prints shown as
    `show(S, line)`."""

    def run(stack: str) -> StackRun:
        command = [sys.executable, "-m", "ops", "up", "--stack", stack, "--yes", *options]
        started = time.monotonic()
        with subprocess.Popen(
            command,
            cwd=automation.REPO_ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            process_group=0,
        ) as process:
            processes.add(process)
            assert process.stdout is not None
            for line in process.stdout:
                show(stack, line.rstrip())
            code = process.wait()
            processes.remove(process)
        return StackRun(stack, code == 0, time.monotonic() - started, f"exit status {code}")

    return run


def environment_waves(environment: str) -> list[list[str]]:
    """The environment's region stacks, wave by wave, from its stack file."""
    path = automation.PROJECT_DIR / f"Pulumi.{environment}.yaml"
    if not path.is_file():
        raise UserError(f"--env {environment}: there is no stack file {path}")
    try:
        raw = namespace_values(load_stack_file(path, automation.PROJECT_DIR))
        settings = parse_settings(raw, stack=environment)
    except (StackFileError, ConfigError) as error:
        raise UserError(str(error)) from None
    return region_stacks(environment, settings.waves)


def child_options(args: argparse.Namespace) -> list[str]:
    """The `ops up` options each stack's process gets, as the operator gave them."""
    options = []
    if args.parallel is not None:
        options += ["--parallel", str(args.parallel)]
    for flag in ("stop_on_first_error", "refresh", "no_policy"):
        if getattr(args, flag):
            options.append(f"--{flag.replace('_', '-')}")
    if args.on_failure != "rollback":
        options += ["--on-failure", args.on_failure]
    if args.retries != 1:
        options += ["--retries", str(args.retries)]
    if args.message:
        options += ["--message", args.message]
    if args.output != "auto":
        options += ["--output", args.output]
    return options


def run(args: argparse.Namespace, stack_waves: list[list[str]] | None = None) -> int:
    """Deploy `stack_waves` (default: the environment's region stacks) wave by wave."""
    waves = stack_waves or environment_waves(args.env)
    max_parallel = args.max_parallel or DEFAULT_MAX_PARALLEL
    stacks = [stack for wave in waves for stack in wave]
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError("no terminal to confirm on: pass --yes to deploy without asking")
        answer = input(
            f"Deploy {len(stacks)} region stack(s) of {args.env} in {len(waves)} wave(s)? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("Not confirmed; nothing was deployed.")
            return 1
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            print(line, flush=True)

    say(
        f"Deploying {args.env} as {len(stacks)} region stack(s) in {len(waves)} wave(s), at most "
        f"{max_parallel} at once."
    )
    say(
        f"parallel: {args.parallel} in every stack (--parallel {args.parallel})"
        if args.parallel is not None
        else "parallel: each stack's own, the widest step of its part of the environment's plan "
        "(--parallel N sets it for every stack)"
    )
    running = StackProcesses()
    options = child_options(args)
    live = args.output == "live" or (args.output == "auto" and sys.stdout.isatty())
    table = terminal.StacksView() if live else None
    if table is not None:
        # Each stack reports its paths as JSON objects, which the one table shows.
        options = [*options, "--output", "json"]

    def show(stack: str, line: str) -> None:
        if table is not None:
            table.line(stack, line)
        else:
            say(f"[{stack}] {line}")

    previous = signal.signal(signal.SIGINT, running.interrupt)
    try:
        with table or contextlib.nullcontext():
            rollout = roll_out(
                waves,
                subprocess_runner(options, show, running),
                max_parallel=max_parallel,
                say=say if table is None else table.lines.append,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    say(summary(rollout, waves))
    if running.interrupted:
        say("Interrupted: each stack above says which of its paths landed; no later wave started.")
        return INTERRUPTED
    return 0 if rollout.ok else 1
