"""`python -m ops timeline --stack S [--update N] [--json] [--picture F]`: what really happened
in a recorded update (`ops up` records them), per deploy path, beside the plan's prediction for
the same update.

The prediction is the plan (`ops plan`) of the configuration recorded with the update (the
engine's prelude event; the stack file when the update recorded none), with the update's own
work: a resource the update left unchanged (`same`) takes no time, everything it created,
updated or replaced takes its type's latency: `--latency FILE`, else the stack's own model (as
`ops plan`: the file `ops calibrate` wrote for it, else the one its stack file names in
`deploypaths:latency`), else the default model. Both timelines start at the update's first step.
Each path's release starts at its first Deployment or Job (its first resource for other paths)
and ends when its last resource is done; the actual critical path is followed back from the
last resource done, each time to what it waited for that finished last. The engine stamps its
events in whole seconds: so are the actual times.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from deploypaths.stack_config import StackFileError, load_stack_file
from ops import UserError, automation, events, write_output
from ops.plan import LATENCY_QUANTILES, latency_model, record
from ops.timeline.model import Timeline, build_timeline, prediction_configs
from ops.timeline.rendering import render_svg, render_text


def stack_events_dir(stack: str, directory: str | None) -> Path:
    """Where the stack's updates were recorded: --events, else beside the state."""
    if directory:
        return Path(directory)
    return events.events_dir(stack, os.environ.get("PULUMI_BACKEND_URL") or events.logged_in_url())


def load_update(
    stack: str, number: int | str | None, directory: str | None
) -> tuple[int, Path, events.Update]:
    chosen, path = events.choose_update(stack_events_dir(stack, directory), stack, number)
    return chosen, path, events.parse_update(events.read_events(path), source=str(path))


def timeline_of(args: argparse.Namespace) -> Timeline:
    number, path, update = load_update(args.stack, args.update, args.events)
    name = args.stack.rsplit("/", 1)[-1]
    model, latency = latency_model(
        args.latency,
        args.quantile,
        stack=name,
        config=_stack_file_config(name),
        project_dir=automation.PROJECT_DIR,
    )
    refused = None
    for config, source in prediction_configs(update, name, automation.PROJECT_DIR):
        if refused:
            source += f" (the recorded one does not validate offline: {refused})"
        try:
            return build_timeline(
                stack=name,
                number=number,
                events_file=path,
                update=update,
                recording=record(config, name),
                config=config,
                config_source=source,
                model=model,
                latency=latency,
                parallel=args.parallel,
            )
        except UserError as error:
            refused = str(error).splitlines()[-1].strip(" -")
    raise UserError(f"cannot plan update {number} of stack {args.stack}: {refused}")


def _stack_file_config(stack: str) -> dict[str, str] | None:
    """Today's stack file, for the latency file it names; None when there is none to read."""
    try:
        return load_stack_file(
            automation.PROJECT_DIR / f"Pulumi.{stack}.yaml", automation.PROJECT_DIR
        )
    except StackFileError:
        return None


def run(args: argparse.Namespace) -> int:
    if args.update is not None and args.update.isdigit():
        args.update = int(args.update)
    if args.update is not None and (args.update == 0 or str(args.update).startswith("-")):
        raise UserError(f"--update is an update number from 1, not {args.update}")
    if args.parallel is not None and args.parallel < 1:
        raise UserError(f"--parallel {args.parallel}: allowed 1 or more")
    timeline = timeline_of(args)
    picture = Path(args.picture or f"out/timeline-{timeline.stack}-{timeline.number}.svg")
    write_output(picture, render_svg(timeline))
    if args.json:
        print(json.dumps({**timeline.as_json(), "picture": str(picture)}, indent=2))
    else:
        print(render_text(timeline, picture))
    return 0


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True)
    parser.add_argument(
        "--events",
        metavar="DIR",
        help="the folder of the stack's recorded updates (default: beside its state)",
    )


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "timeline",
        help="what really happened in a recorded update, beside the plan's prediction",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--update",
        metavar="N",
        help="default: the newest recorded; or a cut-short update's recording as `ops history` "
        "lists it (N-interrupted-PID)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--picture", help="SVG to write (default: out/timeline-<stack>-<update>.svg)"
    )
    parser.add_argument(
        "--latency",
        help="latency file to predict with (as `ops plan --latency`; default: the stack's own, "
        "as `ops plan` finds it)",
    )
    parser.add_argument("--quantile", choices=LATENCY_QUANTILES, default="median")
    parser.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="predict with at most N operations at once, as the update ran (default: no limit)",
    )
    parser.set_defaults(func=run)
