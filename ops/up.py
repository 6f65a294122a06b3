"""`python -m ops up --stack S [--parallel N] [--stop-on-first-error] [--on-failure rollback|leave]
[--refresh] [--yes]`: deploy the stack's configuration with `pulumi up` (Automation API), the
policy pack attached, and record every engine event of the update beside the stack's state (see
`ops.events`), for `ops timeline` and `ops calibrate`.

A failed path stops only the paths that wait for it: every other path keeps deploying
(`--stop-on-first-error` makes the engine start nothing new after the first failure instead).
Then each failed path goes back by itself (`--on-failure rollback`, the default; see
`ops.recovery`): a service path to the release it had before, a path this update created is
removed again, a failed migration with a `down` runs it. The stack file is not changed.

Without `--yes` it previews first, prints the report by deploy path and asks. While the update
runs it shows every path's state (`--output`: a live table at a terminal, one line per change of
a path's state elsewhere, or one JSON object per change; see ops/live/). Afterwards it prints
each path's result: changed, unchanged, failed, held (and for which path), rolled back,
with when it started and finished.

Exit status: 0 when the update succeeded, 1 when it failed or the preview says it must not
ship, 2 for an operator mistake.

`python -m ops up --env E --layout per-region [--max-parallel N] [--yes]` deploys the
environment's region stacks wave by wave instead (see ops/waves.py).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from pulumi import automation as auto

from deploypaths import layout as stack_layout
from deploypaths import parallelism
from deploypaths.config.settings import Settings
from deploypaths.parallelism import Parallelism
from deploypaths.plan import PathTiming, Plan
from deploypaths.stack_config import StackFileError, load_stack_file, namespace_values
from deploypaths.validation import ConfigError, parse_settings
from ops import UserError, automation, events, kube_events, leftovers, release, waves
from ops.engine_output import WithoutHeldTracebacks
from ops.interrupt import INTERRUPTED, cancel_on_interrupt
from ops.live import terminal
from ops.live.paths import PathStates
from ops.path_results import (
    PathResult,
    mark_held,
    mark_interrupted,
    path_results,
    render_summary,
)
from ops.plan import latency_model, load_latency, plan_for_config
from ops.preview.command import preview_report
from ops.preview.markdown import render
from ops.recovery import ON_FAILURE, Recoverer, Recovery


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        choices=("single", "per-region", "per-service"),
        default="single",
        help="per-region: the environment's region stacks, wave by wave; per-service: its "
        "infrastructure stacks wave by wave, then its service stacks (default: single)",
    )
    parser.add_argument(
        "--max-parallel",
        type=int,
        metavar="N",
        help=f"per-region: at most N stacks at once (default: {waves.DEFAULT_MAX_PARALLEL})",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="at most N resource operations at once (default: the most the stack's plan runs at "
        f"once, at most {parallelism.CAP}; the engine's own default when there is no plan)",
    )
    parser.add_argument(
        "--stop-on-first-error",
        action="store_true",
        help="start nothing new after the first failed step (default: every path that does not "
        "wait for a failed one keeps deploying)",
    )
    # The default since failure isolation became one; still accepted from older pipelines.
    parser.add_argument("--continue-on-error", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--on-failure",
        default="rollback",
        metavar="|".join(ON_FAILURE),
        help="rollback (default): put each failed path back on its previous release; leave: "
        "leave it as the update left it",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=1,
        metavar="N",
        help="run the update again up to N times when a provider process dies under it "
        "(default: 1)",
    )
    parser.add_argument(
        "--output",
        choices=terminal.OUTPUTS,
        default="auto",
        help="how paths are shown while the update runs: live (a table redrawn in place), "
        "plain (a line per change of a path's state), json (an object per change, on standard "
        "output), none (the engine's own lines only); auto (default): live at a terminal, plain "
        "elsewhere",
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
    per_region = args.layout in ("per-region", "per-service")
    problems = []
    if args.stack and args.env:
        problems.append("pass --stack S (one stack) or --env E (its region stacks), not both")
    if not args.stack and not args.env:
        problems.append("pass --stack S, or --env E --layout per-region|per-service")
    if args.env and not per_region:
        problems.append(
            f"--env needs --layout per-region or per-service (one stack is --stack {args.env})"
        )
    if args.stack and per_region:
        problems.append(f"--layout {args.layout} deploys an environment: pass --env, not --stack")
    if args.max_parallel is not None and not per_region:
        problems.append("--max-parallel is for --layout per-region or per-service")
    if args.max_parallel is not None and args.max_parallel < 1:
        problems.append(f"--max-parallel must be at least 1, not {args.max_parallel}")
    if args.on_failure not in ON_FAILURE:
        problems.append(
            f"--on-failure {args.on_failure!r}: allowed: {', '.join(ON_FAILURE)} (default rollback)"
        )
    if args.stop_on_first_error and args.continue_on_error:
        problems.append("--stop-on-first-error and --continue-on-error contradict each other")
    return problems


def run(args: argparse.Namespace) -> int:
    problems = layout_problems(args)
    if args.parallel is not None and args.parallel < 1:
        problems.append(f"--parallel must be at least 1, not {args.parallel}")
    if args.retries < 0:
        problems.append(f"--retries must be 0 or more, not {args.retries}")
    if problems:
        raise UserError("; ".join(problems))
    if args.layout == "per-region":
        return waves.run(args)
    if args.layout == "per-service":
        environment = release.load(args.env, automation.PROJECT_DIR)
        release.create_service_stacks(environment)
        return waves.run(args, release.environment_stacks(environment))
    try:
        stack = leftovers.writable(args.stack, yes=args.yes)
    except leftovers.StackBusy as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
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
    read = stack_settings(args.stack)
    plan = _offline_plan(read[0], args.stack, read[1]) if read else None
    parallel = choose_parallel(args.parallel, plan)
    print(parallel.line(), file=sys.stderr if args.output == "json" else sys.stdout)
    options = {
        key: value
        for key, value in {
            "parallel": parallel.value,
            "continue_on_error": not args.stop_on_first_error,
            "refresh": args.refresh or None,
            "message": args.message,
        }.items()
        if value is not None
    }
    deploy = Deploy(args, stack, read[1] if read else None, plan, options, policy)
    if args.output == "json":
        # Standard output is the JSON stream's alone: everything else goes to standard error.
        json_out = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            return _update(deploy, json_out)
    return _update(deploy, sys.stdout)


@dataclass(frozen=True)
class Deploy:
    """One `ops up` of one stack: what the operator asked, the stack, its settings and plan
    (None when the stack file cannot be read offline: the update then says what is wrong), the
    engine's options and the policy pack's."""

    args: argparse.Namespace
    stack: auto.Stack
    settings: Settings | None
    plan: Plan | None
    options: dict[str, Any]
    policy: dict[str, list[str]]


def _update(deploy: Deploy, out: TextIO) -> int:
    args, plan = deploy.args, deploy.plan
    for attempt in range(1, args.retries + 2):
        states = PathStates(plan) if plan else None
        view = terminal.choose(args.output, states, out=out)
        recorder, error, interrupted = _up_once(deploy, view)
        failure = automation.failure_text(error) if error else None
        busy = automation.lock_holder(str(error or ""))
        if busy:
            print(
                f"error: stack {args.stack} is being updated by {busy}; it was not touched",
                file=sys.stderr,
            )
            return 1
        update = _recorded(recorder)
        # The whole error last: the engine's line naming a provider that died may be cut from
        # the failure's summary.
        reasons = [failure or "", *(update.reasons.values() if update else ()), str(error or "")]
        crash = None if interrupted else automation.provider_crash(reasons)
        if crash is None or attempt > args.retries:
            break
        print(f"{crash}; running the update again (retry {attempt} of {args.retries})")
    if crash:
        print(f"{crash} ({args.retries} retries spent)", file=sys.stderr)
    code = _conclude(deploy, recorder, update, failure, interrupted, view)
    if update is not None and recorder.path is not None and deploy.settings is not None:
        kept = kube_events.keep(recorder.path, deploy.settings, since=update.origin, say=print)
        if kept:
            print(
                f"Kubernetes events kept: {kept} (python -m ops logs --stack {args.stack} --path P)"
            )
    return code


def _conclude(
    deploy: Deploy,
    recorder: events.UpdateRecorder,
    update: events.Update | None,
    failure: str | None,
    interrupted: bool,
    view: terminal.View,
) -> int:
    """What became of the update and of each path (the failed ones put back first), and the
    exit status that says it."""
    args = deploy.args
    if update is None:
        if failure:
            print(f"The update failed: {failure}", file=sys.stderr)
            return INTERRUPTED if interrupted else 1
        return 0
    results = path_results(update)
    title = f"Update {recorder.number} of stack {args.stack}"
    if interrupted:
        if deploy.plan:
            mark_interrupted(results, deploy.plan)
        print(render_summary(update, results, f"{title}, interrupted"))
        print(
            "Interrupted: the paths marked interrupted are not done; the next `ops up` finishes "
            "and confirms them."
        )
        return INTERRUPTED
    if failure or update.failed:
        handle_failure(deploy, update, recorder.number or 0, results)
        for result in results:
            if result.recovered:
                view.put_back(result.id, result.recovered, result.reason or "")
        if args.on_failure == "rollback":
            title += ", then the failed paths put back"
    print(render_summary(update, results, title))
    print(
        f"Events: {recorder.path} (python -m ops timeline --stack {args.stack} "
        f"--update {recorder.number})"
    )
    failed = [r.id for r in results if r.failed or r.recovered]
    if failed:
        print(f"The update failed: {', '.join(failed)} (see above)", file=sys.stderr)
        return 1
    if failure or update.failed:
        print(f"The update failed: {failure or 'see above'}", file=sys.stderr)
        return 1
    return 0


def _up_once(
    deploy: Deploy, view: terminal.View
) -> tuple[events.UpdateRecorder, auto.CommandError | None, bool]:
    """One `up`, recorded and shown: the recorder, the engine's error (None: it succeeded) and
    whether Ctrl-C cut it short."""
    recorder = events.UpdateRecorder(deploy.stack, deploy.args.stack)
    output = WithoutHeldTracebacks(view.engine_line)
    failure = None
    with (
        automation.update_config_file(deploy.args.stack) as config_file,
        cancel_on_interrupt(deploy.stack) as interrupted,
        view,
    ):
        try:
            recorder.up(
                on_output=output,
                on_event=lambda event: view.event(events.event_json(event)),
                color="never",
                config_file=config_file,
                **deploy.options,
                **deploy.policy,
            )
        except auto.CommandError as error:
            failure = error
        finally:
            output.flush()
    return recorder, failure, bool(interrupted)


def _recorded(recorder: events.UpdateRecorder) -> events.Update | None:
    """The update the recorder saw; None when the engine stopped before any resource step (its
    failure then says why)."""
    if not recorder.events:
        return None
    try:
        return events.parse_update(
            [events.event_json(e) for e in recorder.events], source="this update"
        )
    except UserError:
        return None


def handle_failure(
    deploy: Deploy, update: events.Update, number: int, results: list[PathResult]
) -> None:
    """Names what each unfinished path waits for, then (unless `--on-failure leave`) puts the
    failed paths back (ops.recovery)."""
    args = deploy.args
    if deploy.settings is None or deploy.plan is None:
        return
    mark_held(results, deploy.plan)
    if args.on_failure != "rollback":
        return
    output = WithoutHeldTracebacks(print)
    recoverer = Recoverer(
        stack=deploy.stack,
        stack_name=args.stack,
        settings=deploy.settings,
        say=print,
        options={
            "on_output": output,
            "color": "never",
            **{k: v for k, v in deploy.options.items() if k == "parallel"},
            **deploy.policy,
        },
    )
    try:
        apply_recovery(results, recoverer.recover(update, number, results))
    finally:
        output.flush()


def _offline_plan(flat: dict[str, str], stack: str, settings: Settings) -> Plan | None:
    """The stack's plan, for the view and the failure handling; a region stack's is its regions'
    part of the environment's (it reads the previous wave's stacks, which only the engine can).
    None when it cannot be made offline: the update then goes on with the engine's own lines."""
    layout = stack_layout.of_stack(stack, namespace_values(flat))
    try:
        whole = plan_for_config(flat, layout.environment_stack, _stack_model(flat, layout))
    except UserError:
        return None
    if layout.region is None and layout.service is None:
        return whole
    runs_in = next((s.regions for s in settings.services if s.name == layout.service), ())
    declared = set(layout.declared_regions(settings.waves, runs_in))
    paths = [p for p in whole.paths if p.region in declared and _declares(layout, p)]
    kept = {p.id for p in paths}
    edges = [(a, b) for a, b in whole.edges if a in kept and b in kept]
    return dataclasses.replace(whole, stack=stack, paths=paths, edges=edges)


def _stack_model(flat: dict[str, str], layout: stack_layout.StackLayout) -> dict[str, float]:
    """The stack's own latency model; the default one when the file it names cannot be read:
    the plan's paths and edges, which the failure handling needs, do not depend on it."""
    try:
        model, _ = latency_model(
            None,
            "median",
            stack=layout.environment_stack,
            config=flat,
            project_dir=automation.PROJECT_DIR,
        )
    except UserError:
        return load_latency(None)
    return model


def _declares(layout: stack_layout.StackLayout, path: PathTiming) -> bool:
    """Whether a path of the environment's plan is this stack's (`layout: per-service`: a
    service's paths are its stack's, every other path its region's infrastructure stack's)."""
    if path.kind != "service":
        return layout.service is None
    return layout.declares_service(path.id.split("@")[0])


def choose_parallel(given: int | None, plan: Plan | None) -> Parallelism:
    """`--parallel` as given, else the widest step of the stack's plan (a region or service
    stack's: its part of the environment's plan, see `_offline_plan`), else the engine's
    default."""
    if plan is None:
        return parallelism.choose(given, None, source="no offline plan of the stack")
    own = {urn for path in plan.paths for urn in path.urns}
    times = [span for urn, span in plan.resource_times.items() if urn in own]
    timed = sum(1 for start, finish in plan.resource_times.values() if finish > start)
    whole = sum(1 for start, finish in times if finish > start) == timed
    source = "the plan" if whole else f"{plan.stack}'s part of the environment's plan"
    return parallelism.choose(given, times, source=source)


def stack_parallelism(stack: str, given: int | None) -> Parallelism:
    """`choose_parallel` for an update of the stack as its file reads now (`ops rollback`'s,
    after it wrote the configuration it goes back to)."""
    if given is not None:
        return parallelism.choose(given, None)
    read = stack_settings(stack)
    return choose_parallel(None, _offline_plan(read[0], stack, read[1]) if read else None)


def stack_settings(stack: str) -> tuple[dict[str, str], Settings] | None:
    """The stack file's flat config and validated settings; None when they cannot be read
    offline (the update itself then said what is wrong)."""
    try:
        flat = load_stack_file(
            automation.PROJECT_DIR / f"Pulumi.{stack}.yaml", automation.PROJECT_DIR
        )
        return flat, parse_settings(namespace_values(flat), stack=stack)
    except (StackFileError, ConfigError):
        return None


def apply_recovery(results: list[PathResult], recovery: Recovery) -> None:
    by_id = {r.id: r for r in results}
    for path, what in {**recovery.left, **recovery.done}.items():
        result = by_id.get(path)
        if result is None:
            continue
        state, _, why = what.partition(": ") if path in recovery.done else ("failed", "", what)
        result.recovered = state if path in recovery.done else None
        result.reason = why
