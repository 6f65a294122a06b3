"""`python -m benchmarks.engine_up`: `pulumi up` of a generated topology on the local clusters
(one per region, kwok nodes, the upstream Kubernetes provider), at the `--parallel` that
`ops up` chooses from the plan and at the engine's old default (4 x CPUs), against the plan's
prediction for the same graph; `--runs` adds others (`1`: one resource at a time, 27 min at the
default size).

Pods become Ready after the delays of local/stages.yaml; local/latency.json is the plan's latency
model for those delays (a Deployment: the pod delay plus its minReadySeconds; a Job: its pod's
start and run delays; a Service: the provider's wait for its endpoints, which settles after about
10 s when no pod is Ready yet, as at `--parallel 1`). Prints, per run: resources, wall seconds of
the update, the engine's critical path (first resource start to last resource finish, in its own
event timestamps), the plan's at that parallelism and the engine's over the plan's with no limit,
the most custom resources the engine had in progress at once, and the runner's cost of the
update: the CPU (% of one core; the peak 0.5 s sample, the peak 5 s mean and the mean) and the
peak RSS of this process and every process it starts (the engine, the language host, the
program, the providers; not the local clusters, which stand in for remote ones), beside how busy
the whole machine was and its load average when the update started. Then the engine's critical
path at the chosen parallelism over the plan's with no limit (the floor: at most 1.1 x), and the
chosen run's CPU and memory peaks over the old default's (at most 1.25 x).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from benchmarks.topology import Size, generate
from deploypaths.mock_run import PROJECT_DIR, run_program
from deploypaths.parallelism import widest
from deploypaths.schedule import Task, schedule
from deploypaths.stack_config import namespace_values
from ops.plan import load_latency, plan_for_config
from ops.up import choose_parallel
from tests.support.sandbox import Sandbox

LATENCY = PROJECT_DIR / "local" / "latency.json"
STACK = "bench"
CRITICAL_PATH_FLOOR = 1.1
RUNNER_COST_FLOOR = 1.25


def local_topology(size: Size) -> dict[str, str]:
    flat = generate(size.regions, size.services, size.migrations, size.waves, seed=0)
    flat["deploypaths:kubernetes"] = json.dumps(
        {"mode": "kubeconfig", "kubeconfig_dir": f".clusters/{STACK}", "namespace": STACK}
    )
    flat["deploypaths:monitoring"] = json.dumps({"mode": "kubernetes"})
    return flat


def default_parallel() -> int:
    """`pulumi up`'s own default for --parallel: 4 x CPUs."""
    return 4 * (os.cpu_count() or 1)


def chosen_parallel(flat: dict[str, str]) -> tuple[int | None, str]:
    """What `ops up --stack bench` chooses for this config, and the line it prints."""
    chosen = choose_parallel(None, plan_for_config(flat, STACK, load_latency(None)))
    return chosen.value, chosen.line()


def plan_tasks(flat: dict[str, str]) -> list[Task]:
    recording = run_program(flat, stack=STACK)
    return [Task(r.urn, r.type, r.waits_for) for r in recording.registrations.values()]


def prediction_minutes(flat: dict[str, str]) -> tuple[float, float, float]:
    """The plan's critical path with no limit and at the engine's default parallelism, and its
    one-resource-at-a-time time, in minutes."""
    model = json.loads(LATENCY.read_text())
    tasks = plan_tasks(flat)
    unlimited = schedule(tasks, model)
    capped = schedule(tasks, model, parallel=default_parallel())
    return unlimited.total_minutes, capped.total_minutes, unlimited.sequential_minutes


class ProcessTree:
    """Samples the CPU and RSS of this process and all its descendants from /proc."""

    def __init__(self, interval: float = 0.5) -> None:
        self.root = os.getpid()
        self.interval = interval
        # CPU % of one core over each interval.
        self.cpu: list[float] = []
        self.rss_peak = 0
        self.seconds = 0.0
        # CPU % of one core over each interval, by what each process runs (`command_of`).
        self.by_command: list[dict[str, float]] = []
        # (pid, start time) -> CPU ticks when last seen, and what the process runs.
        self._ticks: dict[tuple[int, int], int] = {}
        self._commands: dict[tuple[int, int], str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0
        self._cpu_before = 0.0
        self._cpu_seconds = 0.0

    def _read(self) -> dict[int, tuple[int, int, int, int]]:
        """pid -> (parent, start time, CPU ticks, RSS bytes) of every readable process."""
        page = os.sysconf("SC_PAGE_SIZE")
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            # After the name: state, ppid (index 1), ..., utime 11, stime 12, starttime 19, rss 21.
            found[int(entry)] = (
                int(fields[1]),
                int(fields[19]),
                int(fields[11]) + int(fields[12]),
                int(fields[21]) * page,
            )
        return found

    def _tree(self, found: dict[int, tuple[int, int, int, int]]) -> list[int]:
        children: dict[int, list[int]] = {}
        for pid, (parent, *_) in found.items():
            children.setdefault(parent, []).append(pid)
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += children.get(pid, [])
        return [pid for pid in tree if pid in found]

    def _sample(self) -> tuple[dict[str, int], int]:
        """Ticks the tree used since the last sample, by command, and its RSS now."""
        found = self._read()
        used: dict[str, int] = {}
        rss = 0
        for pid in self._tree(found):
            _, start, ticks, resident = found[pid]
            key = (pid, start)
            if key not in self._commands:
                self._commands[key] = command_of(pid)
            command = self._commands[key]
            used[command] = used.get(command, 0) + ticks - self._ticks.get(key, ticks)
            self._ticks[key] = ticks
            rss += resident
        return used, rss

    def _run(self) -> None:
        hertz = os.sysconf("SC_CLK_TCK")
        before = time.monotonic()
        while not self._stop.wait(self.interval):
            used, rss = self._sample()
            now = time.monotonic()
            scale = 100.0 / hertz / (now - before)
            self.cpu.append(scale * sum(used.values()))
            self.by_command.append({command: scale * ticks for command, ticks in used.items()})
            self.rss_peak = max(self.rss_peak, rss)
            before = now

    def __enter__(self) -> ProcessTree:
        self._sample()  # what the processes already had counts as before
        self._started = time.monotonic()
        self._cpu_before = _cpu_seconds()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.seconds = time.monotonic() - self._started
        self._cpu_seconds = _cpu_seconds() - self._cpu_before

    def _peak_window(self, seconds: float) -> slice:
        """The `seconds` in a row with the highest mean CPU %."""
        size = max(1, round(seconds / self.interval))
        if len(self.cpu) < size:
            return slice(0, len(self.cpu))
        start = max(range(len(self.cpu) - size + 1), key=lambda i: sum(self.cpu[i : i + size]))
        return slice(start, start + size)

    def _windowed_peak(self, seconds: float) -> float:
        """The highest mean CPU % over `seconds` in a row."""
        size = max(1, round(seconds / self.interval))
        return sum(self.cpu[self._peak_window(seconds)]) / size

    def _peak_by_command(self, seconds: float, top: int = 5) -> dict[str, float]:
        """What the highest `seconds` of CPU went to: the busiest commands' mean CPU % then."""
        size = max(1, round(seconds / self.interval))
        totals: dict[str, float] = {}
        for sample in self.by_command[self._peak_window(seconds)]:
            for command, percent in sample.items():
                totals[command] = totals.get(command, 0.0) + percent / size
        busiest = sorted(totals.items(), key=lambda item: -item[1])[:top]
        return {command: round(percent, 1) for command, percent in busiest}

    def result(self) -> dict[str, Any]:
        return {
            "cpu_peak_percent": round(max(self.cpu, default=0.0), 1),
            "cpu_peak_at_seconds": round(self.cpu.index(max(self.cpu)) * self.interval, 1)
            if self.cpu
            else 0.0,
            "cpu_peak_5s_percent": round(self._windowed_peak(5.0), 1),
            "cpu_peak_5s_by_command": self._peak_by_command(5.0),
            "cpu_mean_percent": round(100.0 * self._cpu_seconds / self.seconds, 1),
            "rss_peak_mb": round(self.rss_peak / 2**20, 1),
        }


def command_of(pid: int) -> str:
    """What a process runs, short: its program's name, and for an interpreter the script or
    module it runs (the language host's program, the dynamic provider, this benchmark)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [word.decode(errors="replace") for word in raw if word]
    if not words:
        return "?"
    name = Path(words[0]).name
    if not name.startswith("python"):
        return name
    rest = [word for word in words[1:] if not word.startswith("-") or word in ("-m", "-c")]
    if rest[:1] == ["-c"]:
        return f"{name} -c"
    if rest[:1] == ["-m"] and len(rest) > 1:
        return f"{name} -m {rest[1]}"
    return f"{name} {Path(rest[0]).name}" if rest else name


def _cpu_seconds() -> float:
    """CPU seconds of this process and of every descendant that has ended and been waited for
    (the engine waits for its plugins): the whole update's, once it has returned, which the
    samples miss for a process's last moments."""
    own, ended = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


def machine_busy() -> Iterator[float]:
    """The whole machine's CPU busy % (of all cores) since the previous value."""
    previous = None
    while True:
        numbers = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle, total = numbers[3] + numbers[4], sum(numbers[:8])
        if previous is not None:
            spent = total - previous[1]
            yield round(100.0 * (spent - (idle - previous[0])) / spent, 1) if spent else 0.0
        previous = (idle, total)


def engine_run(handle: auto.Stack, parallel: int | None) -> dict[str, Any]:
    events: list[auto.EngineEvent] = []
    busy = machine_busy()
    next(busy, None)
    load = os.getloadavg()[0]
    with ProcessTree() as tree:
        result = handle.up(parallel=parallel, on_event=events.append)
    wall = tree.seconds
    stamps = [e.timestamp for e in events if e.resource_pre_event or e.res_outputs_event]
    spans: dict[str, list[float]] = {}
    for event in events:
        step = event.resource_pre_event or event.res_outputs_event
        # A component's outputs come after all its children's: only custom resources hold a slot.
        if step is not None and step.metadata.provider:
            spans.setdefault(step.metadata.urn, []).append(event.timestamp)
    resources = sum((result.summary.resource_changes or {}).values())
    row: dict[str, Any] = {
        "resources": resources,
        "wall_seconds": round(wall, 1),
        "resources_per_second": round(resources / wall, 2),
        "engine_critical_path_seconds": max(stamps) - min(stamps),
        # The most custom resources between their step's start and finish at once (whole seconds).
        "engine_widest": widest((min(times), max(times)) for times in spans.values()),
        **tree.result(),
        "machine_busy_percent": next(busy),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    handle.destroy()
    return row


def runs_wanted(names: list[str], chosen: int | None) -> list[tuple[str, int | None]]:
    """(label, --parallel) per run asked for: `chosen`, `default` or a number."""
    runs = []
    for name in names:
        if name == "chosen":
            runs.append((f"chosen {chosen or 'default'}", chosen))
        elif name == "default":
            runs.append((f"default {default_parallel()}", default_parallel()))
        else:
            runs.append((name, int(name)))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_up", description=__doc__)
    parser.add_argument("--size", default="3x20x4/2", help="regions x services x migrations/waves")
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["chosen", "default"],
        metavar="RUN",
        help="the updates to run, in order: chosen (what `ops up` chooses from the plan), "
        "default (the engine's 4 x CPUs) or a number (default: chosen default)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    bad = [r for r in args.runs if r not in ("chosen", "default") and not r.isdigit()]
    if bad:
        parser.error(f"--runs: chosen, default or a number, not {', '.join(bad)}")
    flat = local_topology(Size.parse(args.size))
    chosen, chosen_line = chosen_parallel(flat)
    model = json.loads(LATENCY.read_text())
    tasks = plan_tasks(flat)
    unlimited = schedule(tasks, model)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        sandbox = Sandbox(Path(directory))
        sandbox.write_config(STACK, namespace_values(flat))
        with sandbox.clusters(STACK):
            handle = sandbox.stack(STACK)
            for label, parallel in runs_wanted(args.runs, chosen):
                planned = schedule(tasks, model, parallel=parallel).total_minutes * 60
                row = engine_run(handle, parallel)
                row.update(parallel=label, plan_critical_path_seconds=round(planned, 1))
                row["over_unlimited_plan"] = round(
                    row["engine_critical_path_seconds"] / (unlimited.total_minutes * 60), 2
                )
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    by_run = dict(zip(args.runs, rows, strict=True))
    summary: dict[str, Any] = {
        "topology": args.size,
        "chosen": chosen_line,
        "rows": rows,
        "plan_sequential_seconds": round(unlimited.sequential_minutes * 60, 1),
        "plan_unlimited_critical_path_seconds": round(unlimited.total_minutes * 60, 1),
        "default_parallel": default_parallel(),
    }
    if "chosen" in by_run:
        summary["critical_path_over_unlimited_plan"] = by_run["chosen"]["over_unlimited_plan"]
    if "chosen" in by_run and "default" in by_run:
        for key in ("cpu_peak_percent", "cpu_peak_5s_percent", "rss_peak_mb"):
            summary[f"{key}_over_default"] = round(
                by_run["chosen"][key] / by_run["default"][key], 2
            )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"topology {args.size} on the local clusters; ops up would print: {chosen_line}")
    columns = {
        "parallel": "parallel",
        "resources": "resources",
        "wall_seconds": "wall s",
        "engine_critical_path_seconds": "engine path s",
        "plan_critical_path_seconds": "plan path s",
        "over_unlimited_plan": "x plan inf",
        "engine_widest": "widest",
        "cpu_peak_percent": "cpu peak %",
        "cpu_peak_5s_percent": "cpu 5s %",
        "cpu_mean_percent": "cpu mean %",
        "rss_peak_mb": "rss MB",
        "machine_busy_percent": "machine %",
        "load_before": "load",
    }
    print(" ".join(f"{title:>{len(title)}}" for title in columns.values()))
    for row in rows:
        print(" ".join(f"{row[key]!s:>{len(title)}}" for key, title in columns.items()))
    for row in rows:
        shares = ", ".join(f"{name} {pct}" for name, pct in row["cpu_peak_5s_by_command"].items())
        print(f"cpu 5s peak at {row['parallel']}, % of one core by command: {shares}")
    print(
        f"plan: {summary['plan_sequential_seconds']} s one at a time; critical path "
        f"{summary['plan_unlimited_critical_path_seconds']} s with no limit"
    )
    if "critical_path_over_unlimited_plan" in summary:
        print(
            f"engine critical path at the chosen parallelism = "
            f"{summary['critical_path_over_unlimited_plan']} x the plan's with no limit "
            f"(floor: at most {CRITICAL_PATH_FLOOR} x)"
        )
    if "cpu_peak_percent_over_default" in summary:
        print(
            f"runner at the chosen parallelism: CPU peak {summary['cpu_peak_percent_over_default']}"
            f" x (over 5 s: {summary['cpu_peak_5s_percent_over_default']} x), RSS peak "
            f"{summary['rss_peak_mb_over_default']} x the old default's (floor: at most "
            f"{RUNNER_COST_FLOOR} x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
