"""One stack per environment against one stack per region (`<env>-<region>`), per stack.

    python -m benchmarks.region_stacks [--size 12x60x9/3] [--mode cloud|render]
                                       [--engine [--deployed]]

Under mocks (always): the single stack, then every region stack in wave order (each reading the
previous wave's exports through its stack references), each in a fresh interpreter warmed up
the same way: resources registered and registration seconds (validation and registration under
the mocks, as benchmarks.registration times them), and each region stack's share of the single
stack (its resources / the single stack's).

With --engine: `pulumi preview` of the same stacks on the real engine, render mode, in a project
copy with its own file backend (tests.support.sandbox; no clusters needed). Floor: each region
stack's preview at most 1.2 x its share of the single stack's preview time. With --deployed,
every stack is then deployed (render mode: files only) and previewed again, unchanged, as a pull
request's preview of a live environment runs. Figures only: the
exit status is 1 only when a measurement failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.child_process import run_child
from benchmarks.registration import MODES
from benchmarks.topology import Size, generate
from deploypaths.layout import region_stacks
from deploypaths.stack_config import namespace_values
from deploypaths.validation import parse_settings

ENVIRONMENT = "bench"
# A one-region, one-service stack: what any preview costs before its resources (engine, language
# host and plugin start-up), paid once by the single stack and once by every region stack.
FIXED_COST_STACK = "fixed"
FLOOR = 1.2
# Per stack: resources the engine counted and seconds of wall time.
Previews = dict[str, tuple[int, float]]
TIMEOUT = 1800


def child(request: dict[str, Any]) -> dict[str, Any]:
    """In a fresh interpreter: warm up, then time one stack's run under the mocks."""
    import gc

    from deploypaths.mock_run import run_program
    from tests.support.mock_stacks import RegionStackRun, StackReferenceMocks, stack_exports

    run_program(request["warmup"], stack=ENVIRONMENT)
    exports = {
        stack: RegionStackRun(stack, 0, None, outputs, tuple(secret), (), 0.0)  # type: ignore[arg-type]
        for stack, (outputs, secret) in request["exports"].items()
    }
    gc.collect()
    started = time.perf_counter()
    recording = run_program(
        request["config"], stack=request["stack"], mocks=StackReferenceMocks(exports)
    )
    seconds = time.perf_counter() - started
    outputs, secret = stack_exports()
    return {
        "resources": len(recording.registrations),
        "seconds": seconds,
        "exports": [outputs, list(secret)],
    }


def measure(request: dict[str, Any]) -> dict[str, Any]:
    try:
        result, _ = run_child(
            ["-m", "benchmarks.region_stacks", "--child"], request, timeout=TIMEOUT
        )
    except RuntimeError as problem:
        raise SystemExit(f"{request['stack']}: measurement failed: {problem}") from None
    return result


def mock_figures(
    config: dict[str, str], waves: list[list[str]], warmup: dict[str, str]
) -> dict[str, Any]:
    single = measure({"stack": ENVIRONMENT, "config": config, "warmup": warmup, "exports": {}})
    print(
        f"  {ENVIRONMENT}: {single['resources']} resources, {single['seconds']:.2f}s",
        file=sys.stderr,
    )
    exports: dict[str, Any] = {}
    stacks: dict[str, dict[str, Any]] = {}
    for wave in waves:
        for stack in wave:
            stacks[stack] = measure(
                {"stack": stack, "config": config, "warmup": warmup, "exports": exports}
            )
            figures = stacks[stack]
            print(
                f"  {stack}: {figures['resources']} resources, {figures['seconds']:.2f}s",
                file=sys.stderr,
            )
        exports.update({stack: stacks[stack]["exports"] for stack in wave})
    return {"single": single, "stacks": stacks}


def engine_previews(
    config: dict[str, str], waves: list[list[str]], *, deployed: bool
) -> dict[str, Previews]:
    """Resources and seconds of `pulumi preview` per stack, render mode, on a project copy: of
    new stacks ("preview"), and with `deployed` also of the same stacks once they are up, as a
    pull request's preview runs ("deployed preview"; every resource unchanged)."""
    import tempfile

    import yaml

    from ops.region_stacks import sync_stack_file
    from tests.support.sandbox import Sandbox

    previews: dict[str, Previews] = {"preview": {}}
    with tempfile.TemporaryDirectory(prefix="deploypaths-regions-") as scratch:
        box = Sandbox(Path(scratch))
        tiny = generate(1, 1, 0, 1, **MODES["render"])
        for name, flat in ((ENVIRONMENT, config), (FIXED_COST_STACK, tiny)):
            document = {"config": {key: _decoded(value) for key, value in flat.items()}}
            box.stack_file(name).write_text(yaml.safe_dump(document, sort_keys=False))
        stacks = [FIXED_COST_STACK, ENVIRONMENT, *(stack for wave in waves for stack in wave)]
        handles = {}
        for stack in stacks:
            sync_stack_file(stack, box.root)
            handles[stack] = box.stack(stack)
            previews["preview"][stack] = _timed_preview(handles[stack], "preview")
        if deployed:
            for stack in stacks:  # Wave by wave: a region stack reads the wave before it.
                started = time.perf_counter()
                # Render mode writes files only; skipping the checkpoint after every step keeps
                # the single stack's up from being quadratic in its resources.
                workspace = handles[stack].workspace
                env_vars = workspace.env_vars
                workspace.env_vars = {**env_vars, "PULUMI_SKIP_CHECKPOINTS": "true"}
                handles[stack].up(color="never")
                workspace.env_vars = env_vars
                print(f"  up {stack}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
            previews["deployed preview"] = {
                stack: _timed_preview(handles[stack], "deployed preview", unchanged=True)
                for stack in stacks
            }
    return previews


def _timed_preview(handle: Any, kind: str, *, unchanged: bool = False) -> tuple[int, float]:
    started = time.perf_counter()
    preview = handle.preview(color="never")
    elapsed = time.perf_counter() - started
    changes = preview.change_summary
    if unchanged and set(changes) != {"same"}:
        raise SystemExit(f"{handle.name}: the deployed stack previews changes: {changes}")
    figures = (sum(changes.values()), elapsed)
    print(f"  {kind} {handle.name}: {figures}", file=sys.stderr)
    return figures


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def report(figures: dict[str, Any], previews: dict[str, Previews]) -> list[str]:
    single = figures["single"]
    header = f"{'stack':<28} {'resources':>9} {'share':>6} {'register s':>10} {'vs share':>8}"
    first = (
        f"{ENVIRONMENT:<28} {single['resources']:>9} {1:>6.3f} {single['seconds']:>10.2f} {'':>8}"
    )
    for kind, seconds in previews.items():
        header += f" {kind + ' s':>{len(kind) + 2}} {'vs share':>8}"
        first += f" {seconds[ENVIRONMENT][1]:>{len(kind) + 2}.1f} {'':>8}"
    lines, missed = [header, first], []
    for stack, run in figures["stacks"].items():
        share = run["resources"] / single["resources"]
        line = (
            f"{stack:<28} {run['resources']:>9} {share:>6.3f} {run['seconds']:>10.2f} "
            f"{run['seconds'] / (share * single['seconds']):>8.2f}"
        )
        for kind, seconds in previews.items():
            # The engine previews render mode: its own resource counts give the share.
            (resources, elapsed), (single_resources, single_elapsed) = (
                seconds[stack],
                seconds[ENVIRONMENT],
            )
            ratio = elapsed / (resources / single_resources * single_elapsed)
            line += f" {elapsed:>{len(kind) + 2}.1f} {ratio:>8.2f}"
            if ratio > FLOOR:
                missed.append(f"{stack}: {kind} {ratio:.2f}x its share (floor {FLOOR}x)")
        lines.append(line)
    total = sum(run["resources"] for run in figures["stacks"].values())
    slowest = max(run["seconds"] for run in figures["stacks"].values())
    lines.append(
        f"region stacks together: {total} resources (the single stack: {single['resources']}); "
        f"registration {sum(r['seconds'] for r in figures['stacks'].values()):.2f}s in all, the "
        f"slowest stack {slowest:.2f}s"
    )
    for kind, seconds in previews.items():
        resources, fixed = seconds[FIXED_COST_STACK]
        lines.append(
            f"{kind}: a one-region one-service stack ({resources} resources) takes {fixed:.1f}s "
            f"(the fixed cost); the region stacks add up to "
            f"{sum(seconds[s][1] for s in figures['stacks']):.1f}s, the single stack "
            f"{seconds[ENVIRONMENT][1]:.1f}s"
        )
    lines.extend(f"missed: {note}" for note in missed)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.region_stacks", description=__doc__)
    parser.add_argument("--size", default="12x60x9/3", metavar="RxSxM/W")
    parser.add_argument("--mode", default="cloud", choices=list(MODES))
    parser.add_argument("--engine", action="store_true", help="also preview on the engine")
    parser.add_argument(
        "--deployed",
        action="store_true",
        help="with --engine: also deploy every stack (render mode) and preview it again",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(sys.stdin.read()))))
        return 0
    size = Size.parse(args.size)
    config = generate(
        size.regions, size.services, size.migrations, size.waves, seed=args.seed, **MODES[args.mode]
    )
    warmup = generate(1, 1, 1, 1, seed=args.seed, **MODES[args.mode])
    settings = parse_settings(namespace_values(config), stack=ENVIRONMENT)
    waves = region_stacks(ENVIRONMENT, settings.waves)
    print(
        f"{size} {args.mode}: the single stack, then {sum(map(len, waves))} region stacks",
        file=sys.stderr,
    )
    figures = mock_figures(config, waves, warmup)
    previews: dict[str, Previews] = {}
    if args.engine:
        render = generate(
            size.regions,
            size.services,
            size.migrations,
            size.waves,
            seed=args.seed,
            **MODES["render"],
        )
        previews = engine_previews(render, waves, deployed=args.deployed)
    print("\n".join(report(figures, previews)))
    print(
        "share: the stack's resources / the single stack's. vs share: its seconds / (share x the "
        "single stack's seconds). register s: validation and registration under the mocks, in a "
        "fresh interpreter after a one-region warm-up. preview s: `pulumi preview` wall time of a "
        "new stack, render mode, file backend (engine start and plugin load included); deployed "
        "preview s: the same once the stack is up (every resource unchanged)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
