"""Registration cost of the whole program under mocks, against the SDK floor measured alongside.

    python -m benchmarks.registration [--sizes 2x15x3/2 4x30x6/3 8x60x9/3] [--modes render cloud]
                                      [--large 12x110x9/3] [--repeat 1] [--json]

For every size and mode the program runs once in its own interpreter (benchmarks.measurement),
then two floors run, each in another interpreter, under the same mocks and RecordingMonitor and
warmed up the same way:

- the SDK floor: as many bare resources as the program registered (the same split of custom and
  component resources), no inputs, no options, parented to the stack;
- the payload floor ("replay"): the program's own registrations replayed with their types,
  inputs and dependencies, but no logic (no typed args, Outputs, components or providers).

program / SDK floor is the issue's target; program / replay is the part of it the program's own
code (components/, __main__.py) can change. A last size with at least 10,000 resources checks
that registration does not hit Python's recursion limit.

Figures, not a test: the exit status is 0 whenever every measurement ran (even when a target is
missed) and 1 when one failed (a RecursionError included).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from benchmarks.child_process import run_child
from benchmarks.measurement import failed
from benchmarks.topology import SECRET_KEYS, Size, generate

LADDER = ("2x15x3/2", "4x30x6/3", "8x60x9/3")


class Modes(TypedDict):
    """The mode arguments of `topology.generate`."""

    kubernetes_mode: str
    database_mode: str
    monitoring_mode: str


MODES: dict[str, Modes] = {
    "render": {"kubernetes_mode": "render", "database_mode": "none", "monitoring_mode": "none"},
    "cloud": {"kubernetes_mode": "eks", "database_mode": "aurora", "monitoring_mode": "cloudwatch"},
}
# In cloud mode a service path registers about nine resources, so this is about 11,000.
LARGE = "12x110x9/3"
LARGE_MODE = "cloud"
LARGE_TARGET = 10_000
# The targets.
RATIO_TARGET = 1.5
EDGES_TARGET = 3.0
MEASUREMENT_TIMEOUT = 900


@dataclass(frozen=True)
class Row:
    label: str
    mode: str
    size: str
    program: dict[str, Any]
    floor: dict[str, Any] | None
    replay: dict[str, Any] | None

    def _ratio(self, other: dict[str, Any] | None, key: str) -> float | None:
        if not other or self.program["error"] or other["error"]:
            return None
        return float(self.program[key] / other[key])

    @property
    def ratio(self) -> float | None:
        return self._ratio(self.floor, "seconds")

    @property
    def cpu_ratio(self) -> float | None:
        return self._ratio(self.floor, "cpu_seconds")

    @property
    def replay_ratio(self) -> float | None:
        return self._ratio(self.replay, "seconds")

    @property
    def replay_cpu_ratio(self) -> float | None:
        return self._ratio(self.replay, "cpu_seconds")

    def as_json(self) -> dict[str, Any]:
        resources = max(self.program["resources"], 1)
        return {
            "label": self.label,
            "mode": self.mode,
            "size": self.size,
            "program": self.program,
            "floor": self.floor,
            "replay": self.replay,
            "edges_per_resource": self.program["dependencies"] / resources,
            "edges_with_providers_per_resource": (
                self.program["dependencies"] + self.program["provider_refs"]
            )
            / resources,
            "ratio_to_floor": self.ratio,
            "cpu_ratio_to_floor": self.cpu_ratio,
            "ratio_to_replay": self.replay_ratio,
            "cpu_ratio_to_replay": self.replay_cpu_ratio,
        }


def run_measurement(request: dict[str, Any]) -> dict[str, Any]:
    """One measurement in a fresh interpreter (benchmarks.measurement)."""
    try:
        result, stderr = run_child(
            ["-m", "benchmarks.measurement"], request, timeout=MEASUREMENT_TIMEOUT
        )
    except RuntimeError as problem:
        return failed(request["kind"], str(problem))
    # A RecursionError inside an asyncio callback is logged, not raised: look for it too.
    if not result["error"] and "RecursionError" in stderr:
        lines = [line for line in stderr.splitlines() if "RecursionError" in line]
        result["error"] = f"RecursionError logged on stderr ({len(lines)}x): {lines[0]}"
    return result


def measure_row(
    label: str, mode: str, size: Size, *, seed: int, repeat: int, profile: Path | None
) -> Row:
    """The program at this size and mode, then its two floors; with repeat > 1 each is run that
    many times (interleaved) and the fastest run of each is kept."""
    modes = MODES[mode]
    config = generate(size.regions, size.services, size.migrations, size.waves, seed=seed, **modes)
    common = {
        "warmup": generate(1, 1, 1, 1, seed=seed, **modes),
        "secret_keys": [key for key in SECRET_KEYS if key in config],
    }
    programs: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    replays: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="deploypaths-bench-") as scratch:
        registrations = str(Path(scratch) / "registrations.json")
        for attempt in range(repeat):
            program = run_measurement(
                {"kind": "program", "config": config, "record_to": registrations, **common}
            )
            programs.append(program)
            if program["error"]:
                break
            counts = {"custom": program["custom"], "components": program["components"]}
            floors.append(run_measurement({"kind": "floor", **counts, **common}))
            replays.append(
                run_measurement({"kind": "replay", "replay_file": registrations, **common})
            )
            print(
                f"  {label} {mode} {size} run {attempt + 1}/{repeat}: "
                f"{program['resources']} resources, {program['seconds']:.2f}s, "
                f"floor {floors[-1]['seconds']:.2f}s, replay {replays[-1]['seconds']:.2f}s",
                file=sys.stderr,
            )
    if profile is not None and not programs[-1]["error"]:
        stem = f"{mode}-{str(size).replace('/', 'w')}"
        with tempfile.TemporaryDirectory(prefix="deploypaths-bench-") as scratch:
            registrations = str(Path(scratch) / "registrations.json")
            kinds = {
                "program": {"config": config, "record_to": registrations},
                "floor": {key: programs[-1][key] for key in ("custom", "components")},
                "replay": {"replay_file": registrations},
            }
            for kind, request in kinds.items():
                path = profile / f"{stem}-{kind}.prof"
                run_measurement({"kind": kind, "profile": str(path), **request, **common})
                print(f"  profile written to {path} (cProfile, main thread)", file=sys.stderr)
    fastest = _fastest(programs)
    assert fastest is not None  # the loop above runs at least once
    return Row(label, mode, str(size), fastest, _fastest(floors), _fastest(replays))


def _fastest(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    return min(results, key=lambda r: (r["error"] is not None, r["seconds"])) if results else None


def table(rows: list[Row]) -> str:
    header = (
        f"{'size':<12} {'mode':<6} {'resources':>9} {'edges':>6} {'edges/res':>9} "
        f"{'+prov/res':>9} {'seconds':>7} {'floor s':>7} {'ratio':>5} {'cpu':>5} "
        f"{'replay s':>8} {'vs replay':>9} {'peak MiB':>8} {'chain':>5}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        data = row.as_json()
        program = row.program
        if program["error"]:
            lines.append(f"{row.size:<12} {row.mode:<6} ERROR {program['error'].splitlines()[0]}")
            continue
        lines.append(
            f"{row.size:<12} {row.mode:<6} {program['resources']:>9} "
            f"{program['dependencies']:>6} {data['edges_per_resource']:>9.2f} "
            f"{data['edges_with_providers_per_resource']:>9.2f} {program['seconds']:>7.2f} "
            f"{_seconds(row.floor):>7} {_times(row.ratio):>5} {_times(row.cpu_ratio):>5} "
            f"{_seconds(row.replay):>8} {_times(row.replay_ratio):>9} "
            f"{program['peak_rss_mib']:>8.0f} {program['longest_chain']:>5}"
        )
    return "\n".join(lines)


def _seconds(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    return "error" if result["error"] else f"{result['seconds']:.2f}"


def _times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


LEGEND = (
    "seconds: wall time of run_program (validation and registration of the whole program under"
    " mocks), best of --repeat runs. floor s: the SDK floor, as many bare resources. ratio ="
    " seconds / floor s; cpu: the same ratio in process CPU time (steadier on a busy machine)."
    " replay s: the payload floor, the same registrations (types, inputs, dependencies) with no"
    " logic; vs replay = seconds / replay s. Every run has the garbage collector off, as the"
    " program's __main__.py does. edges: sum of len(dependencies) over registrations;"
    " +prov/res also counts each custom resource's provider reference. peak MiB: ru_maxrss of"
    " the measuring subprocess, imports and warm-up included. chain: resources on the longest"
    " path of dependency and provider edges."
)


def verdicts(rows: list[Row]) -> list[str]:
    """One line per missed target, naming the row and the figure."""
    notes = []
    for row in rows:
        if row.program["error"]:
            notes.append(f"{row.size} {row.mode}: registration failed: {row.program['error']}")
            continue
        data = row.as_json()
        if row.ratio is not None and row.ratio > RATIO_TARGET:
            notes.append(
                f"{row.size} {row.mode}: registration {row.ratio:.2f}x the SDK floor "
                f"(target <= {RATIO_TARGET}x)"
            )
        if data["edges_per_resource"] > EDGES_TARGET:
            notes.append(
                f"{row.size} {row.mode}: {data['edges_per_resource']:.2f} dependency edges per "
                f"resource (target <= {EDGES_TARGET})"
            )
    return notes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.registration",
        description="Registration time, edges and memory of generated topologies vs the SDK floor.",
    )
    parser.add_argument("--sizes", nargs="+", default=list(LADDER), metavar="RxSxM/W")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument(
        "--large",
        default=LARGE,
        metavar="RxSxM/W",
        help=f"the size that must reach {LARGE_TARGET:,} resources ('none' to skip)",
    )
    parser.add_argument("--large-mode", default=LARGE_MODE, choices=list(MODES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure; the best is kept")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="also profile the program, floor and replay of each size (extra runs) into DIR",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        args.sizes = [Size.parse(text) for text in args.sizes]
        args.large = None if args.large == "none" else Size.parse(args.large)
    except ValueError as error:
        parser.error(str(error))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = {
        "seed": args.seed,
        "repeat": args.repeat,
        "profile": args.profile,
    }
    rows = [
        measure_row("ladder", mode, size, **options) for mode in args.modes for size in args.sizes
    ]
    large = None
    if args.large is not None:
        large = measure_row("large", args.large_mode, args.large, **options)
        rows.append(large)
    if args.json:
        print(json.dumps({"rows": [row.as_json() for row in rows]}, indent=2))
    else:
        print(table(rows))
        print()
        print(textwrap.fill(LEGEND, width=100))
        for note in verdicts(rows):
            print(f"missed: {note}")
        if large is not None and not large.program["error"]:
            count = large.program["resources"]
            status = "ok" if count >= LARGE_TARGET else f"below the {LARGE_TARGET:,} target"
            print(
                f"large: {args.large} {args.large_mode}: {count:,} resources registered, "
                f"no RecursionError ({status})"
            )
    return 1 if any(row.program["error"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
