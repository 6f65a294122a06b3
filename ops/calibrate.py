"""`python -m ops calibrate --stack S [--out FILE]`: a latency file learnt from the stack's
recorded updates (`ops up` records them), for `ops plan --latency FILE`.

Per resource type, and per resource type and operation (`<type> create`, `<type> update`,
`<type> replace`): the median and 90th percentile of how long a rollout step took, from the
step's resource pre-event to its outputs event, in minutes, and the number of samples. An
operation is one rollout step, except a Deployment's rolling update, which takes one per surge
batch of pods (its replicas and strategy come with the event), so a Deployment of 2 replicas
teaches the plan about one of 8. Left out: steps that failed, unchanged (`same`) and clean-up
steps, component resources (they do no work of their own) and health gates (their time is
`bake_minutes`, which the plan takes from the configuration).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from deploypaths.identity import HEALTH_GATE
from deploypaths.rollout import rollout_steps
from ops import UserError, events, write_output
from ops.timeline import add_common_arguments, stack_events_dir


def durations(updates: Iterable[events.Update]) -> dict[str, list[float]]:
    """Resource type, and `<type> <operation>` -> minutes per rollout step of each of its
    changing steps."""
    samples: dict[str, list[float]] = {}
    for update in updates:
        for step in update.steps.values():
            if (
                not step.custom
                or not step.changed
                or step.failed
                or step.start is None
                or step.finish is None
                or HEALTH_GATE in step.urn
            ):
                continue
            rounds = rollout_steps(step.type, step.inputs, step.operation)
            minutes = (step.finish - step.start) / 60 / rounds
            for key in (step.type, f"{step.type} {step.operation}"):
                samples.setdefault(key, []).append(minutes)
    return samples


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile, interpolated between the two nearest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_file(samples: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {
        type_: {
            "median": round(quantile(values, 0.5), 4),
            "p90": round(quantile(values, 0.9), 4),
            "samples": len(values),
        }
        for type_, values in sorted(samples.items())
    }


def run(args: argparse.Namespace) -> int:
    directory = stack_events_dir(args.stack, args.events)
    recorded = events.recorded_updates(directory)
    if not recorded:
        events.choose_update(directory, args.stack, None)  # says there is nothing recorded
    updates = [
        events.parse_update(events.read_events(path), source=str(path))
        for _, path in sorted(recorded.items())
    ]
    samples = durations(updates)
    if not samples:
        raise UserError(
            f"the {len(updates)} recorded update(s) of stack {args.stack} created, updated or "
            "replaced nothing that finished: nothing to calibrate from"
        )
    document = latency_file(samples)
    out = Path(args.out or f"out/latency-{args.stack.rsplit('/', 1)[-1]}.json")
    write_output(out, json.dumps(document, indent=2) + "\n")
    print(
        f"Latency of stack {args.stack} from {len(updates)} recorded update(s) "
        f"({', '.join(str(n) for n in sorted(recorded))}), minutes:"
    )
    print(f"  {'resource type (operation)':<56} {'median':>8} {'p90':>8} {'samples':>8}")
    for type_, entry in document.items():
        print(f"  {type_:<56} {entry['median']:8.3f} {entry['p90']:8.3f} {entry['samples']:8d}")
    print(f"Written to {out}; plan with it: python -m ops plan --stack S --latency {out}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="derive a latency file for `ops plan` from a stack's recorded updates",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument("--out", help="latency file to write (default: out/latency-<stack>.json)")
    parser.set_defaults(func=run)
