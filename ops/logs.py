"""`python -m ops logs --stack S --path orders@us-east-1 [--update N]`: one path's story in a
recorded update (default: the newest), in time order: each of its resources' steps, the engine's
and providers' messages about them, and the Kubernetes Events of its objects (the ReplicaSets
and Pods they own included), as `ops up` kept them beside the update's engine events.

Exit status: 0, or 2 for an update or path that is not recorded."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from deploypaths.identity import PathIdentity, urn_name
from deploypaths.plan import owner_paths
from ops import UserError, events, kube_events
from ops.timeline import add_common_arguments, stack_events_dir

KUBERNETES = "kubernetes:"
# The engine's own trace of what the program registers: not the path's story.
QUIET = frozenset({"debug"})


def path_lines(
    recorded: list[dict[str, Any]], kube: Iterable[Mapping[str, Any]], path: str
) -> list[str]:
    """The path's entries, each `+seconds  what`, seconds from the update's first step."""
    update = events.parse_update(recorded)
    owners = owner_paths(update.steps)
    known = sorted(set(owners.values()))
    if path not in known:
        raise UserError(f"--path {path}: no such path in it (its paths: {', '.join(known)})")
    mine = {urn for urn, owner in owners.items() if owner == path}
    entries: list[tuple[float, str]] = []
    for urn in mine:
        step = update.steps[urn]
        if step.custom and step.start is not None:
            ops = ", ".join(step.ops)
            took = f", {step.finish - step.start:.1f} s" if step.finish is not None else ""
            result = "failed" if step.failed else "done" if step.finish is not None else "cut"
            entries.append(
                (step.start, f"{step.name} ({_short(step.type)}): {ops}, {result}{took}")
            )
    said = ""
    for event in recorded:
        diagnostic = event.get("diagnosticEvent") or {}
        message = str(diagnostic.get("message", "")).strip()
        if diagnostic.get("urn") not in mine or not message or diagnostic.get("severity") in QUIET:
            continue
        if message == said:
            continue  # a provider repeats its progress line while it waits
        said = message
        name = urn_name(diagnostic["urn"])
        entries.append((event["timestamp"], f"{name}: {diagnostic.get('severity')}: {message}"))
    names, region = _object_names(recorded, mine), PathIdentity.parse_id(path).region
    for item in kube:
        if item.get("region") == region and kube_events.belongs_to(item, names):
            times = f" (x{item['count']})" if item.get("count", 1) > 1 else ""
            entries.append(
                (
                    item["time"],
                    f"{item['kind']}/{item['name']} in {item['region']}: {item['type']} "
                    f"{item['reason']}: {item['message']}{times}",
                )
            )
    origin = update.origin
    return [f"{when - origin:+8.1f}s  {text}" for when, text in sorted(entries)]


def _object_names(recorded: list[dict[str, Any]], urns: set[str]) -> set[str]:
    """The Kubernetes names of the path's objects, from their recorded outputs."""
    names = set()
    for event in recorded:
        metadata = (event.get("resOutputsEvent") or {}).get("metadata") or {}
        if metadata.get("urn") in urns and str(metadata.get("type", "")).startswith(KUBERNETES):
            outputs = (metadata.get("new") or {}).get("outputs") or {}
            name = (outputs.get("metadata") or {}).get("name")
            if name:
                names.add(str(name))
    return names


def _short(token: str) -> str:
    return token.rsplit(":", 1)[-1]


def run(args: argparse.Namespace) -> int:
    if args.update is not None and args.update.isdigit():
        args.update = int(args.update)
    directory = stack_events_dir(args.stack, args.events)
    number, path = events.choose_update(directory, args.stack, args.update)
    recorded = events.read_events(path)
    try:
        lines = path_lines(recorded, kube_events.read(path), args.path)
    except UserError as error:
        raise UserError(f"update {number} of stack {args.stack}: {error}") from None
    print(f"{args.path} in update {number} of stack {args.stack} (seconds from its first step):")
    print("\n".join(lines) if lines else "  nothing recorded for it")
    if not kube_events.path_for(path).is_file():
        print("(no Kubernetes events were kept for this update)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="one path's steps, engine messages and Kubernetes events in a recorded update",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument("--path", required=True, help="a path id: orders@us-east-1, us-east-1")
    parser.add_argument("--update", metavar="N", help="default: the newest recorded")
    parser.set_defaults(func=run)
