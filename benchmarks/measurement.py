"""One measurement in a fresh interpreter: `python -m benchmarks.measurement < request.json`.

The registration benchmark starts one of these per figure, so the heap, the garbage collector's
generations and the peak RSS of one measurement never leak into the next. The request is a JSON
object on stdin; the result is one JSON object on the last line of stdout.

Kinds: "program" (the deploy-path program for a config), "floor" (as many bare resources, no
inputs, no logic) and "replay" (the program's registrations, replayed with their inputs and
dependencies but no logic: the payload floor). Every kind warms up the same way before the
clock starts: a one-region run of the program in the same modes (which imports pulumi_aws and
pulumi_kubernetes and loads their lazy submodules) and a small floor run. The process type is
therefore the same; only the measured run differs. Every kind runs with the garbage collector
off, as the program's own __main__.py runs: the ratios compare registration work, not collector
settings.
"""

from __future__ import annotations

import cProfile
import gc
import json
import resource
import sys
import time
import traceback
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deploypaths.mock_run import PROJECT_DIR, run_program
from deploypaths.recording import Recording

FLOOR_PROGRAM_DIR = Path(__file__).resolve().parent / "floor"
REPLAY_PROGRAM_DIR = Path(__file__).resolve().parent / "replay"
STACK = "bench"


def floor_config(custom: int, components: int) -> dict[str, str]:
    return {"floor:custom_resources": str(custom), "floor:component_resources": str(components)}


def measure(request: Mapping[str, Any]) -> dict[str, Any]:
    """Warm up, then time one run of the program, the floor or the replay."""
    secret_keys = tuple(request.get("secret_keys", ()))
    run_program(request["warmup"], stack=STACK, secret_keys=secret_keys)
    run_program(floor_config(10, 2), stack=STACK, project_dir=FLOOR_PROGRAM_DIR)
    project_dir = None
    if request["kind"] == "program":
        config = request["config"]
    elif request["kind"] == "replay":
        config = {"replay:file": request["replay_file"]}
        project_dir, secret_keys = REPLAY_PROGRAM_DIR, ()
    else:
        config = floor_config(request["custom"], request["components"])
        project_dir, secret_keys = FLOOR_PROGRAM_DIR, ()
    gc.collect()
    gc.disable()
    profiler = cProfile.Profile() if request.get("profile") else None
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    recording, error = Recording(), None
    cpu_start, start = time.process_time(), time.perf_counter()
    try:
        if profiler:
            profiler.enable()
        recording = run_program(
            config, stack=STACK, secret_keys=secret_keys, project_dir=project_dir or PROJECT_DIR
        )
    except RecursionError as problem:
        error = f"RecursionError: {problem}\n{_innermost_frames(problem)}"
    # Broad on purpose: the measured program may fail in any way, and its failure is the
    # measurement's result (reported to the benchmark, not raised).
    except Exception as problem:  # noqa: BLE001
        error = f"{type(problem).__name__}: {problem}"
    finally:
        if profiler:
            profiler.disable()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if profiler:
        profiler.dump_stats(request["profile"])
    if request.get("record_to") and not error:
        Path(request["record_to"]).write_text(json.dumps(replay_entries(recording)))
    return {
        "kind": request["kind"],
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        # Linux reports ru_maxrss in KiB.
        "peak_rss_mib": peak_kib / 1024,
        "peak_rss_growth_mib": (peak_kib - baseline_kib) / 1024,
        "error": error,
        **graph_figures(recording),
    }


def failed(kind: str, error: str) -> dict[str, Any]:
    """The result of a measurement that produced no figures."""
    return {
        "kind": kind,
        "seconds": 0.0,
        "cpu_seconds": 0.0,
        "peak_rss_mib": 0.0,
        "peak_rss_growth_mib": 0.0,
        "error": error,
        **graph_figures(Recording()),
    }


def graph_figures(recording: Recording) -> dict[str, Any]:
    """Counts of the registered graph: resources, dependency edges, provider references."""
    registrations = list(recording.registrations.values())
    dependencies = Counter[str]()
    for registration in registrations:
        dependencies[registration.type] += len(registration.dependencies)
    return {
        "resources": len(registrations),
        "custom": sum(1 for r in registrations if r.custom),
        "components": sum(1 for r in registrations if not r.custom),
        "dependencies": sum(dependencies.values()),
        "provider_refs": sum(1 for r in registrations if r.provider),
        "max_dependencies": max((len(r.dependencies) for r in registrations), default=0),
        "longest_chain": longest_chain(recording),
        "dependencies_by_type": dict(dependencies.most_common()),
    }


def replay_entries(recording: Recording) -> list[dict[str, Any]]:
    """The registrations in order, each dependency as the index of an earlier entry."""
    registrations = list(recording.registrations.values())
    index = {registration.urn: position for position, registration in enumerate(registrations)}
    return [
        {
            "type": registration.type,
            "custom": registration.custom,
            "inputs": registration.plain_inputs if registration.custom else None,
            "dependencies": [index[urn] for urn in registration.dependencies if urn in index],
        }
        for registration in registrations
    ]


def longest_chain(recording: Recording) -> int:
    """Resources on the longest path of dependency and provider edges (what a recursive walk of
    the graph would nest). Registration order is a topological order: a resource is registered
    only once every URN it depends on is known."""
    depth: dict[str, int] = {}
    for urn, registration in recording.registrations.items():
        depth[urn] = 1 + max((depth.get(d, 0) for d in registration.waits_for), default=0)
    return max(depth.values(), default=0)


def _innermost_frames(problem: BaseException, count: int = 6) -> str:
    """Where the recursion was: the SDK re-raises a task's exception from wait_for_rpcs, with
    the task's own traceback on the cause."""
    frames = traceback.extract_tb((problem.__cause__ or problem).__traceback__)
    return "".join(traceback.format_list(frames[-count:]))


def main() -> int:
    request = json.load(sys.stdin)
    try:
        result = measure(request)
    # Broad on purpose: this worker's only output is its result line, so whatever the warm-up
    # raised becomes a failed result the parent can read instead of a traceback it cannot.
    except Exception as problem:  # noqa: BLE001
        result = failed(request["kind"], f"warm-up failed: {type(problem).__name__}: {problem}")
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
