"""`python -m ops up --stack S [--parallel N] [--continue-on-error] [--refresh] [--yes]`: deploy
the stack's configuration with `pulumi up` (Automation API), the policy pack attached, and
record every engine event of the update beside the stack's state (see `ops.events`), for
`ops timeline` and `ops calibrate`.

Without `--yes` it previews first, prints the report by deploy path and asks. Afterwards it
prints each path's result: changed, unchanged, failed, with when it started and finished.

Exit status: 0 when the update succeeded, 1 when it failed or the preview says it must not
ship, 2 for an operator mistake.

`python -m ops up --env E --layout per-region [--max-parallel N] [--yes]` deploys the
environment's region stacks wave by wave instead (see ops/waves.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from deploypaths.identity import COMPONENT_KINDS, is_barrier_id
from deploypaths.plan import GATED_TYPES, owner_paths
from ops import UserError, automation, events, waves
from ops.preview.command import preview_report
from ops.preview.markdown import render


@dataclass
class PathResult:
    id: str
    kind: str
    ops: dict[str, int] = field(default_factory=dict)
    lead_in: float | None = None
    start: float | None = None
    finish: float | None = None
    failed: bool = False
    released: bool = False

    @property
    def result(self) -> str:
        if self.failed:
            return "failed"
        if self.ops and all(op in events.CLEANUP_OPS for op in self.ops):
            return "removed"
        if not self.released:
            return "not reached"
        return "changed" if any(op in events.CHANGE_OPS for op in self.ops) else "unchanged"


def path_results(update: events.Update) -> list[PathResult]:
    """Each path's ops, release start (its first Deployment or Job, else its first resource),
    finish and failure, from an update's steps; in order of release start."""
    owners = owner_paths(update.steps)
    kinds = {
        owner: COMPONENT_KINDS.get(update.steps[urn].type, "")
        for urn, owner in owners.items()
        if update.steps[urn].type in COMPONENT_KINDS
    }
    results: dict[str, PathResult] = {}
    for urn, owner in owners.items():
        step = update.steps[urn]
        kind = "barrier" if is_barrier_id(owner) else kinds.get(owner, "")
        result = results.setdefault(owner, PathResult(id=owner, kind=kind))
        if not step.custom:
            continue
        for op in step.ops:
            result.ops[op] = result.ops.get(op, 0) + 1
        result.failed = result.failed or step.failed
        start, finish = update.minutes(step.start), update.minutes(step.finish)
        if start is not None:
            result.lead_in = start if result.lead_in is None else min(result.lead_in, start)
            if step.type in GATED_TYPES.get(kind, ()):
                result.start = start if result.start is None else min(result.start, start)
                result.released = True
            elif kind not in GATED_TYPES:
                result.released = True
        if finish is not None:
            result.finish = finish if result.finish is None else max(result.finish, finish)
    for result in results.values():
        if result.start is None and result.released:
            result.start = result.lead_in
    listed = [r for r in results.values() if r.ops]
    return sorted(listed, key=lambda r: (r.start if r.start is not None else 1e9, r.id))


def _minutes(value: float | None) -> str:
    return f"{'-':>6}" if value is None else f"{value:6.2f}"


def render_summary(update: events.Update, results: Sequence[PathResult], title: str) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.result] = counts.get(result.result, 0) + 1
    tally = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    lines = [
        f"{title}: {update.result} after {update.duration_minutes:.2f} min; "
        f"{len(results)} path(s): {tally}. Release start and finish in minutes from the "
        "update's first step:",
        f"  {'path':<44} {'result':<11} {'start':>6} {'finish':>6}  steps",
    ]
    for result in results:
        steps = ", ".join(f"{n} {op}" for op, n in sorted(result.ops.items()))
        lines.append(
            f"  {result.id:<44} {result.result:<11} {_minutes(result.start)} "
            f"{_minutes(result.finish)}  {steps}"
        )
    failed = [r.id for r in results if r.failed]
    if failed:
        lines.append(
            f"Failed: {', '.join(failed)}. Paths that wait for a failed one were not deployed "
            "(not reached, or not listed)."
        )
    return "\n".join(lines)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "up",
        help="deploy a stack and record the update's engine events",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack")
    parser.add_argument("--env", help="with --layout per-region: the environment to deploy")
    parser.add_argument(
        "--layout",
        choices=("single", "per-region"),
        default="single",
        help="per-region: the environment's region stacks, wave by wave (default: single)",
    )
    parser.add_argument(
        "--max-parallel",
        type=int,
        metavar="N",
        help=f"per-region: at most N stacks at once (default: {waves.DEFAULT_MAX_PARALLEL})",
    )
    parser.add_argument(
        "--parallel", type=int, metavar="N", help="at most N resource operations at once"
    )
    parser.add_argument(
        "--continue-on-error",
        action="store_true",
        help="keep deploying every path that does not wait for a failed one",
    )
    parser.add_argument("--refresh", action="store_true", help="refresh the state first")
    parser.add_argument("--yes", action="store_true", help="deploy without previewing and asking")
    parser.add_argument("--message", help="the update's message (default: none)")
    parser.add_argument("--no-policy", action="store_true", help="deploy without the policy pack")
    parser.set_defaults(func=run)


def _confirm(stack: str) -> bool:
    answer = input(f"Deploy stack {stack}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def layout_problems(args: argparse.Namespace) -> list[str]:
    """Every mistake in how the stack or environment and the layout were given."""
    per_region = args.layout == "per-region"
    problems = []
    if args.stack and args.env:
        problems.append("pass --stack S (one stack) or --env E (its region stacks), not both")
    if not args.stack and not args.env:
        problems.append("pass --stack S, or --env E --layout per-region")
    if args.env and not per_region:
        problems.append(f"--env needs --layout per-region (one stack is --stack {args.env})")
    if args.stack and per_region:
        problems.append("--layout per-region deploys an environment: pass --env, not --stack")
    if args.max_parallel is not None and not per_region:
        problems.append("--max-parallel is for --layout per-region")
    if args.max_parallel is not None and args.max_parallel < 1:
        problems.append(f"--max-parallel must be at least 1, not {args.max_parallel}")
    return problems


def run(args: argparse.Namespace) -> int:
    problems = layout_problems(args)
    if args.parallel is not None and args.parallel < 1:
        problems.append(f"--parallel must be at least 1, not {args.parallel}")
    if problems:
        raise UserError("; ".join(problems))
    if args.layout == "per-region":
        return waves.run(args)
    if not args.yes and not sys.stdin.isatty():
        raise UserError("no terminal to confirm on: pass --yes to deploy without asking")
    stack = automation.select(args.stack)
    policy = {} if args.no_policy else automation.policy_options(args.stack)
    if not args.yes:
        report = preview_report(stack, stack=args.stack, **policy)
        print(render(report))
        if report.blocks_ship:
            print("The preview says this update must not ship; nothing was deployed.")
            return 1
        if not _confirm(args.stack):
            print("Not confirmed; nothing was deployed.")
            return 1
    options = {
        key: value
        for key, value in {
            "parallel": args.parallel,
            "continue_on_error": args.continue_on_error or None,
            "refresh": args.refresh or None,
            "message": args.message,
        }.items()
        if value is not None
    }
    recorder = events.UpdateRecorder(stack, args.stack)
    failure = None
    try:
        recorder.up(on_output=print, color="never", **options, **policy)
    except UserError:
        raise
    except Exception as error:  # noqa: BLE001 - the operator needs the reason, not a trace
        failure = automation.failure_text(error)
    update = None
    if recorder.events:
        try:
            update = events.parse_update(
                [events.event_json(e) for e in recorder.events], source="this update"
            )
        except UserError:
            update = None  # the engine stopped before any resource step: the failure says why
    if update is not None:
        title = f"Update {recorder.number} of stack {args.stack}"
        print(render_summary(update, path_results(update), title))
        print(
            f"Events: {recorder.path} (python -m ops timeline --stack {args.stack} "
            f"--update {recorder.number})"
        )
    if failure or (update is not None and update.failed):
        print(f"The update failed: {failure or 'see the failed paths above'}", file=sys.stderr)
        return 1
    return 0
