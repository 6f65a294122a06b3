"""`python -m ops history --stack prod`: every update of a stack, newest first, with its version,
time, result, message and git commit, and which deploy paths' configuration it changed against
the update before it (images, replicas, strategy, canary weight, active colour, flags, the
migration list), and which migrations it ran up (a name: in every region) and which it ran down
(`name@region`: the region runs the migration's `down` instead). The whole history is paged
through, not only the CLI's default page.

Secret config values are neither fetched nor shown. `--from-json FILE` reads a saved
`pulumi stack history --json` instead of asking the backend.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pulumi.automation import UpdateSummary

from ops import UserError, automation, events
from ops.report_history import (
    DEFAULT_PAGE_SIZE,
    history_entries,
    render_history,
    summary_from_json,
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "history",
        help="list a stack's updates and the paths each one changed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument(
        "--page-size",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        help=f"updates fetched per request (default {DEFAULT_PAGE_SIZE})",
    )
    parser.add_argument(
        "--from-json",
        metavar="FILE",
        type=Path,
        help="read a saved `pulumi stack history --json` instead of the backend",
    )
    parser.set_defaults(func=run)


def load_saved(path: Path) -> list[UpdateSummary]:
    try:
        document = json.loads(path.read_text())
        return [summary_from_json(entry) for entry in document]
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(
            f"{path} is not a `pulumi stack history --json` document: {error}"
        ) from None


def run(args: argparse.Namespace) -> int:
    if args.page_size < 1:
        raise UserError("--page-size must be at least 1")
    if args.from_json:
        summaries = load_saved(args.from_json)
    else:
        stack = automation.select(args.stack)
        summaries = automation.history(stack, page_size=args.page_size, show_secrets=False)
    sys.stdout.write(render_history(history_entries(summaries, stack=args.stack), stack=args.stack))
    if not args.from_json:
        sys.stdout.write(
            render_interrupted(args.stack, events.events_dir(args.stack, events.backend_url(stack)))
        )
    return 0


def render_interrupted(stack: str, directory: Path) -> str:
    """The updates whose command was killed before the backend recorded them, with the events
    kept up to the cut."""
    kept = events.interrupted_recordings(directory)
    if not kept:
        return ""
    lines = ["", f"Cut short before the backend recorded them ({len(kept)}), events kept:"]
    for path in kept:
        number, _, pid = path.stem.partition(events.INTERRUPTED)
        lines.append(
            f"  update {number}, interrupted (its command, pid {pid}, was killed): "
            f"python -m ops timeline --stack {stack} --update {path.stem}"
        )
    return "\n".join(lines) + "\n"
