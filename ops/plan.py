"""`python -m ops plan`: what `pulumi up` would do, offline: paths, edges, critical path, time."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from deploypaths.naming import gate_name
from deploypaths.schedule import DEFAULT_LATENCY_MINUTES, Schedule, Task, schedule
from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from deploypaths.validation import parse_settings
from ops import UserError
from ops.gantt import write_svg
from ops.mock_run import PROJECT_DIR, Recording, run_program

PATH_TYPES = {
    "deploypaths:index:RegionPath": "region",
    "deploypaths:index:ServicePath": "service",
    "deploypaths:index:MigrationPath": "migration",
    "deploypaths:index:HealthGate": "gate",
    "deploypaths:index:FeatureFlags": "flags",
}
BARRIER_SUFFIX = "-services-ready"


@dataclass
class PathTiming:
    id: str
    kind: str
    region: str | None
    wave: int | None
    start: float = 0.0
    finish: float = 0.0
    resources: int = 0
    critical: bool = False
    urns: list[str] = field(default_factory=list)


@dataclass
class Plan:
    stack: str
    environment: str
    waves: list[list[str]]
    paths: list[PathTiming]
    edges: list[tuple[str, str]]
    critical_path: list[str]
    critical_path_minutes: float
    sequential_minutes: float
    resources: int
    latency_model: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "environment": self.environment,
            "resources": self.resources,
            "waves": self.waves,
            "paths": [
                {
                    "id": p.id,
                    "kind": p.kind,
                    "region": p.region,
                    "wave": p.wave,
                    "start_minutes": round(p.start, 2),
                    "finish_minutes": round(p.finish, 2),
                    "resources": p.resources,
                    "critical": p.critical,
                }
                for p in self.paths
            ],
            "edges": [{"from": a, "waits_for": b} for a, b in self.edges],
            "critical_path": self.critical_path,
            "critical_path_minutes": round(self.critical_path_minutes, 2),
            "sequential_minutes": round(self.sequential_minutes, 2),
            "latency_model_minutes": self.latency_model,
        }


def owner_paths(recording: Recording) -> dict[str, str]:
    """URN -> the id of the deploy path it belongs to (`orders@eu-west-1`, `eu-west-1`, ...)."""
    ids: dict[str, str] = {}
    for urn, registration in recording.registrations.items():
        kind = PATH_TYPES.get(registration.type)
        region_urn = registration.parent
        if kind in ("service", "migration"):
            region = recording.registrations[region_urn].name
            ids[urn] = f"{registration.name.removesuffix('-' + region)}@{region}"
        elif kind == "flags":
            ids[urn] = f"flags@{recording.registrations[region_urn].name}"
        elif kind in ("region", "gate"):
            ids[urn] = registration.name
        elif registration.name.endswith(BARRIER_SUFFIX):
            ids[urn] = f"services-ready@{registration.name.removesuffix(BARRIER_SUFFIX)}"
    owners: dict[str, str] = {}
    for urn in recording.registrations:
        cursor = urn
        while cursor and cursor not in ids:
            cursor = (
                recording.registrations[cursor].parent if cursor in recording.registrations else ""
            )
        if cursor:
            owners[urn] = ids[cursor]
    return owners


def build_plan(
    recording: Recording, stack: str, raw: dict[str, Any], model: dict[str, float]
) -> Plan:
    settings = parse_settings(raw, stack=stack)
    owners = owner_paths(recording)
    gate_minutes = float(settings.gate_bake_minutes)
    tasks = [
        Task(
            id=r.urn,
            type=r.type,
            waits_for=r.waits_for,
            minutes=gate_minutes
            if owners.get(r.urn, "").startswith("gate-") and r.custom
            else None,
        )
        for r in recording.registrations.values()
    ]
    timed: Schedule = schedule(tasks, model)
    paths: dict[str, PathTiming] = {}
    for urn, owner in owners.items():
        region = owner.split("@")[-1] if owner.split("@")[-1] in settings.region_names else None
        kind = _kind(owner, recording.registrations[urn].type, settings.region_names)
        timing = paths.setdefault(
            owner,
            PathTiming(
                id=owner,
                kind=kind,
                region=region,
                wave=settings.wave_of(region) + 1 if region else None,
                start=float("inf"),
            ),
        )
        if recording.registrations[urn].custom:
            timing.resources += 1
            timing.urns.append(urn)
            timing.start = min(timing.start, timed.times[urn].start)
            timing.finish = max(timing.finish, timed.times[urn].finish)
    for timing in paths.values():
        if timing.start == float("inf"):
            timing.start = timing.finish
    critical_owners: list[str] = []
    for urn in timed.critical_path:
        owner = owners.get(urn)
        if owner and (not critical_owners or critical_owners[-1] != owner):
            critical_owners.append(owner)
    for owner in critical_owners:
        paths[owner].critical = True
    edges = sorted(
        {
            (owners[r.urn], owners[dep])
            for r in recording.registrations.values()
            for dep in r.waits_for
            if r.custom
            and dep in owners
            and r.urn in owners
            and owners[dep] != owners[r.urn]
            # Every path of a region waits for its infrastructure; listing it adds nothing.
            and not (paths[owners[dep]].kind == "region" and paths[owners[r.urn]].kind != "gate")
        }
    )
    ordered = sorted(paths.values(), key=_row_order)
    return Plan(
        stack=stack,
        environment=settings.environment,
        waves=[list(w) for w in settings.waves],
        paths=ordered,
        edges=edges,
        critical_path=critical_owners,
        critical_path_minutes=timed.total_minutes,
        sequential_minutes=timed.sequential_minutes,
        resources=sum(1 for r in recording.registrations.values() if r.custom),
        latency_model=dict(model),
    )


def _row_order(path: PathTiming) -> tuple:
    """Waves in order, each region's infrastructure first, the gate after its wave."""
    if path.kind == "gate":
        return (int(path.id.rsplit("-", 1)[-1]) + 0.5, "", False, path.start, path.id)
    return (path.wave or 0, path.region or "", path.kind != "region", path.start, path.id)


def _kind(owner: str, type_: str, regions: tuple[str, ...]) -> str:
    if owner.startswith("services-ready@"):
        return "barrier"
    if owner.startswith("gate-"):
        return "gate"
    if owner.startswith("flags@"):
        return "flags"
    if owner in regions:
        return "region"
    return PATH_TYPES.get(type_, "service")


def render_text(plan: Plan, picture: Path | None) -> str:
    lines = [
        f"deploypaths plan: stack {plan.stack} (environment {plan.environment}), "
        f"{plan.resources} resources, {sum(len(w) for w in plan.waves)} region(s) in "
        f"{len(plan.waves)} wave(s)",
        "",
    ]
    by_wave: dict[int | None, list[PathTiming]] = {}
    for path in plan.paths:
        by_wave.setdefault(path.wave, []).append(path)
    for number, regions in enumerate(plan.waves, start=1):
        lines.append(f"Wave {number}: {', '.join(regions)}")
        for region in regions:
            for path in (p for p in by_wave.get(number, []) if p.region == region):
                mark = "*" if path.critical else " "
                label = f"{path.kind} {path.id}"
                lines.append(
                    f"  {mark} {label:<44} {path.start:7.1f} -> {path.finish:7.1f} min"
                    f"  ({path.resources} resources)"
                )
        for gate in (p for p in by_wave.get(None, []) if p.id == gate_name(number)):
            mark = "*" if gate.critical else " "
            lines.append(f"  {mark} gate {gate.id:<39} {gate.start:7.1f} -> {gate.finish:7.1f} min")
    lines += ["", f"Synchronization edges ({len(plan.edges)}; A waits for B):"]
    waits: dict[str, list[str]] = {}
    for waiter, waited in plan.edges:
        waits.setdefault(waiter, []).append(waited)
    lines += [f"  {waiter} <- {', '.join(waited)}" for waiter, waited in waits.items()]
    speedup = (
        plan.sequential_minutes / plan.critical_path_minutes if plan.critical_path_minutes else 1
    )
    lines += [
        "",
        f"Critical path ({plan.critical_path_minutes:.1f} min, marked *):",
        "  " + " -> ".join(plan.critical_path),
        "",
        f"Estimated deploy time: {plan.critical_path_minutes:.1f} min in parallel paths; "
        f"{plan.sequential_minutes:.1f} min one resource at a time ({speedup:.1f}x).",
    ]
    if picture:
        lines.append(f"Picture: {picture}")
    return "\n".join(lines)


def load_latency(path: str | None) -> dict[str, float]:
    model = dict(DEFAULT_LATENCY_MINUTES)
    if path:
        try:
            overrides = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise UserError(f"--latency {path}: {error}") from None
        expected = "expected a JSON object of resource type -> minutes >= 0"
        if not isinstance(overrides, dict):
            raise UserError(f"--latency {path}: {expected}, not a JSON {type(overrides).__name__}")
        bad = [k for k, v in overrides.items() if not isinstance(v, int | float) or v < 0]
        if bad:
            raise UserError(f"--latency {path}: {expected}; bad entries: {', '.join(bad)}")
        model.update(overrides)
    return model


def make_plan(stack: str, stack_file: Path, model: dict[str, float]) -> Plan:
    try:
        config = load_stack_file(stack_file, PROJECT_DIR)
    except StackFileError as error:
        raise UserError(str(error)) from None
    raw = namespace_values(config)
    try:
        recording = run_program(config, stack=stack)
    except pulumi.RunError as error:
        raise UserError(str(error)) from None
    return build_plan(recording, stack, raw, model)


def run(args: argparse.Namespace) -> int:
    stack_file = (
        Path(args.stack_file) if args.stack_file else PROJECT_DIR / f"Pulumi.{args.stack}.yaml"
    )
    if not stack_file.exists():
        raise UserError(f"no stack file {stack_file} (pass --stack NAME or --stack-file PATH)")
    plan = make_plan(args.stack, stack_file, load_latency(args.latency))
    picture = Path(args.picture or f"out/plan-{args.stack}.svg")
    picture.parent.mkdir(parents=True, exist_ok=True)
    write_svg(plan, picture)
    if args.json:
        print(json.dumps({**plan.as_json(), "picture": str(picture)}, indent=2))
    else:
        print(render_text(plan, picture))
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show what `pulumi up` would do, offline (mock runtime, no cloud, no CLI)",
        description=__doc__,
    )
    parser.add_argument("--stack", default="prod", help="stack name (default: prod)")
    parser.add_argument("--stack-file", help="stack file to read (default: Pulumi.<stack>.yaml)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--picture", help="SVG Gantt chart to write (default: out/plan-<stack>.svg)"
    )
    parser.add_argument(
        "--latency", help="JSON file of resource type -> minutes, over the default latency model"
    )
    parser.set_defaults(func=run)
