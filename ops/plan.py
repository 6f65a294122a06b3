"""`python -m ops plan`: what `pulumi up` would do, offline: paths, edges, critical path, time.

A path's bar is its release: from when the first of its gated resources (a service's
Deployments, a migration's Job, a region's flag deployments) may start to when the path is done.
What a path creates before that, waiting for nothing of the release (a Service, a disruption
budget, alarms), is its lead-in.

The latency model: `--latency FILE` when given; else the stack's own, the file `ops calibrate`
learnt from its recorded updates (out/latency-<stack>.json) or else the one its stack file names
(`deploypaths:latency`, a path in the project: the local stack names local/latency.json); else
the default model. The output says which.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

import pulumi

from deploypaths.gantt import render_svg
from deploypaths.identity import gate_name
from deploypaths.mock_run import PROJECT_DIR, run_program
from deploypaths.plan import PathTiming, Plan, build_plan
from deploypaths.recording import Recording
from deploypaths.schedule import DEFAULT_LATENCY_MINUTES
from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from deploypaths.validation import NAMESPACE
from ops import UserError, write_output

LATENCY_QUANTILES = ("median", "p90")
# The stack file's key naming the stack's latency file, relative to the project.
LATENCY_KEY = f"{NAMESPACE}:latency"
DEFAULT_MODEL = "the default latency model"


def rows_by_wave(plan: Plan) -> list[tuple[str, list[PathTiming]]]:
    """(heading, paths) per wave, each gate after the wave it follows: the text layout."""
    by_wave: dict[int | None, list[PathTiming]] = {}
    for path in plan.paths:
        by_wave.setdefault(path.wave, []).append(path)
    sections = []
    for number, regions in enumerate(plan.waves, start=1):
        rows = [p for region in regions for p in by_wave.get(number, []) if p.region == region] + [
            p for p in by_wave.get(None, []) if p.id == gate_name(number)
        ]
        sections.append((f"Wave {number}: {', '.join(regions)}", rows))
    return sections


def render_text(plan: Plan, picture: Path | None, *, latency: str | None = None) -> str:
    lines = [
        f"deploypaths plan: stack {plan.stack} (environment {plan.environment}), "
        f"{plan.resources} resources, {sum(len(w) for w in plan.waves)} region(s) in "
        f"{len(plan.waves)} wave(s)",
        "Each path: its release (first Deployment or Job to done); lead-in: what it creates "
        "before that.",
        "",
    ]
    for heading, rows in rows_by_wave(plan):
        lines.append(heading)
        for path in rows:
            mark = "*" if path.critical else " "
            label = f"{path.kind} {path.id}" + (f" ({path.owner})" if path.owner else "")
            line = f"  {mark} {label:<52} {path.start:7.1f} -> {path.finish:7.1f} min"
            if path.kind != "gate":
                line += f"  ({path.resources} resources"
                if path.lead_in < path.start:
                    line += f"; lead-in from {path.lead_in:.1f}"
                line += ")"
            lines.append(line)
    lines += ["", f"Synchronization edges ({len(plan.edges)}; A waits for B):"]
    waits: dict[str, list[str]] = {}
    for waiter, waited in plan.edges:
        waits.setdefault(waiter, []).append(waited)
    lines += [f"  {waiter} <- {', '.join(waited)}" for waiter, waited in waits.items()]
    lines += [
        "",
        f"Critical path ({plan.critical_path_minutes:.1f} min, marked *):",
        "  " + " -> ".join(plan.critical_path),
        "",
        f"Estimated deploy time: {plan.critical_path_minutes:.1f} min in parallel paths. "
        "Baselines, the same latency model:",
    ]
    if latency:
        lines.insert(-1, f"Latency model: {latency}.")
    lines += [f"  {b.minutes:7.1f} min ({plan.speedup(b):.1f}x)  {b.label}" for b in plan.baselines]
    if picture:
        lines.append(f"Picture: {picture}")
    return "\n".join(lines)


def calibrated_file(stack: str, project_dir: Path) -> Path:
    """Where `ops calibrate --stack S` writes by default, run from the project."""
    return project_dir / "out" / f"latency-{stack.rsplit('/', 1)[-1]}.json"


def stack_latency(
    stack: str, config: Mapping[str, str] | None, project_dir: Path
) -> tuple[Path | None, str]:
    """The stack's own latency file and where it comes from: the one `ops calibrate` learnt from
    the stack's recorded updates, else the one the stack file names (`deploypaths:latency`,
    relative to the project), else none (the default model)."""
    calibrated = calibrated_file(stack, project_dir)
    if calibrated.is_file():
        return calibrated, f"{_shown(calibrated, project_dir)} (calibrated: ops calibrate)"
    named = (config or {}).get(LATENCY_KEY)
    if named:
        return project_dir / named, f"{named} ({LATENCY_KEY})"
    return None, DEFAULT_MODEL


def _shown(path: Path, project_dir: Path) -> str:
    return str(path.relative_to(project_dir)) if path.is_relative_to(project_dir) else str(path)


def latency_model(
    given: str | None,
    quantile: str,
    *,
    stack: str,
    config: Mapping[str, str] | None,
    project_dir: Path,
) -> tuple[dict[str, float], str]:
    """The model a command predicts with and what it is: `--latency FILE` when given, else the
    stack's own (`stack_latency`)."""
    if given:
        return load_latency(given, quantile), f"{given} (--latency)"
    path, source = stack_latency(stack, config, project_dir)
    if path is None:
        return load_latency(None), source
    return load_latency(str(path), quantile, what=source), source


def load_latency(
    path: str | None, quantile: str = "median", *, what: str | None = None
) -> dict[str, float]:
    """The default model with a latency file over it: resource type (or `<type> <operation>`)
    -> minutes per rollout step, or -> an object of quantiles as `ops calibrate` writes
    (`{"median": m, "p90": p, ...}`; `quantile` picks). `what` names the file in a refusal
    (default: `--latency PATH`)."""
    model = dict(DEFAULT_LATENCY_MINUTES)
    if not path:
        return model
    what = what or f"--latency {path}"
    try:
        overrides = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{what}: {error}") from None
    expected = "expected a JSON object of resource type -> minutes >= 0"
    if not isinstance(overrides, dict):
        raise UserError(f"{what}: {expected}, not a JSON {type(overrides).__name__}")
    bad = []
    for type_, value in overrides.items():
        minutes = value.get(quantile) if isinstance(value, dict) else value
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes < 0:
            bad.append(type_)
        else:
            model[type_] = float(minutes)
    if bad:
        raise UserError(
            f"{what}: {expected} (or -> quantiles with a {quantile!r} key, as "
            f"`ops calibrate` writes); bad entries: {', '.join(bad)}"
        )
    return model


def make_plan(
    stack: str, stack_file: Path, model: dict[str, float], *, parallel: int | None = None
) -> Plan:
    return plan_for_config(read_stack_file(stack_file), stack, model, parallel=parallel)


def read_stack_file(stack_file: Path) -> dict[str, str]:
    try:
        return load_stack_file(stack_file, PROJECT_DIR)
    except StackFileError as error:
        raise UserError(str(error)) from None


def plan_for_config(
    config: Mapping[str, str],
    stack: str,
    model: dict[str, float],
    *,
    parallel: int | None = None,
) -> Plan:
    """The plan of a flat stack config, every resource created."""
    return build_plan(
        record(config, stack), stack, namespace_values(config), model, parallel=parallel
    )


def record(config: Mapping[str, str], stack: str) -> Recording:
    try:
        return run_program(config, stack=stack)
    except pulumi.RunError as error:
        raise UserError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    stack_file = (
        Path(args.stack_file) if args.stack_file else PROJECT_DIR / f"Pulumi.{args.stack}.yaml"
    )
    if not stack_file.exists():
        raise UserError(f"no stack file {stack_file} (pass --stack NAME or --stack-file PATH)")
    if args.parallel is not None and args.parallel < 1:
        raise UserError(f"--parallel {args.parallel}: allowed 1 or more")
    config = read_stack_file(stack_file)
    model, latency = latency_model(
        args.latency, args.quantile, stack=args.stack, config=config, project_dir=PROJECT_DIR
    )
    plan = plan_for_config(config, args.stack, model, parallel=args.parallel)
    picture = Path(args.picture or f"out/plan-{args.stack}.svg")
    write_output(picture, render_svg(plan))
    if args.json:
        print(json.dumps({**plan.as_json(), "latency": latency, "picture": str(picture)}, indent=2))
    else:
        print(render_text(plan, picture, latency=latency))
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show what `pulumi up` would do, offline (mock runtime, no cloud, no CLI)",
        description=__doc__,
    )
    parser.add_argument("--stack", default="prod", help="stack name (default: prod)")
    parser.add_argument("--stack-file", help="stack file to read (default: Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="at most N resource operations at once, as `pulumi up --parallel N` "
        "(default: no limit; the CLI's own default is 4 x CPUs)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--picture", help="SVG Gantt chart to write (default: out/plan-<stack>.svg)"
    )
    parser.add_argument(
        "--latency",
        help="JSON file of resource type -> minutes (or the quantiles `ops calibrate` writes), "
        "over the default latency model (default: the stack's own: out/latency-<stack>.json "
        "from `ops calibrate`, else the file its `deploypaths:latency` names)",
    )
    parser.add_argument(
        "--quantile",
        choices=LATENCY_QUANTILES,
        default="median",
        help="which quantile of a calibrated latency file to plan with (default: median)",
    )
    parser.set_defaults(func=run)
