"""`python -m ops rollback --stack prod --to VERSION [--path PATH ...] [--yes] [--force]`:
re-deploy the configuration recorded with update VERSION of the stack's history.

Whole stack (no `--path`): every config key goes back to VERSION's value, secrets included
(they are re-encrypted, never printed); keys added since are removed, and a key VERSION did not
set that Pulumi.yaml has a default for goes back to that default. Then a full `up`.

One path (`--path orders@eu-west-1`): the region gets an override (`regions[].overrides.orders`)
pinning the service's release fields (image, replicas, strategy, canary, blue_green) to what
that path ran at VERSION, after VERSION's own overrides; when that equals today's service-level
release, the override is removed instead. `--path eu-west-1` does so for every service of the
region. The `up` then targets only those ServicePath components and their children (URNs from
the checkpoint, plus a URN pattern for children the old release adds back), without dependents,
so every other path stays at its current release; what outside them waits for them lets go of
their workloads in the state first (`ops.rollback.holds`), so one the old release lacks goes.
Flags are not per path: a path rollback keeps today's. A migration path
(`--path orders-add-status@eu-west-1`) runs its `down`, and the `down` of every migration added
after it since VERSION, newest first (the region's `down_migrations`); the `up` targets those
MigrationPath components.

Refused, with the reason:
- VERSION is not in the history, is not an update, or recorded no configuration; it did not
  succeed (unless `--force`);
- a path that is not in today's configuration, or a service that did not run at that path at
  VERSION; service and migration paths together (a migration's `down` runs, a service's release
  is pinned); a migration that already ran at VERSION, or one to undo that has no `down`;
- a contract migration in today's configuration that VERSION's configuration lacks: it ran (or
  will run) after VERSION and may have dropped what the old release still reads. Always refused
  for a service path; for the whole stack `--force` goes ahead, since putting back the whole
  configuration is the operator's explicit call (the Job leaves the stack, the schema stays);
- a secret of VERSION that the stack's secrets provider cannot decrypt any more;
- a resulting configuration that does not validate today.

It always previews first and prints the configuration change and the preview report, then asks
for confirmation unless `--yes`; without it, or when the preview says the change must not ship,
the stack's configuration is restored. The update message records the rollback:
`rollback of <paths|stack> to version N (by $USER)`. The stack file (Pulumi.<stack>.yaml) then
holds the rolled-back configuration: commit it, or the next deploy rolls forward again. Only the
lines of the keys that changed differ: every other value keeps its type and every comment stays.
"""

from __future__ import annotations

import argparse
import os
import sys

from pulumi import automation as auto

from deploypaths.stack_config import project_defaults
from ops import UserError, automation, events, leftovers, state_names
from ops.live import terminal
from ops.preview.command import preview_report
from ops.preview.markdown import render
from ops.rollback import holds, stack_file
from ops.rollback.decision import RollbackPlan, operator_name, plan_rollback


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="re-deploy the configuration of an earlier update, for the stack or some paths",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument("--to", dest="version", type=int, required=True, metavar="VERSION")
    parser.add_argument(
        "--path",
        dest="paths",
        action="append",
        default=[],
        metavar="PATH",
        help="service@region or region (repeatable); default: the whole stack",
    )
    parser.add_argument("--yes", action="store_true", help="deploy without asking")
    parser.add_argument(
        "--force",
        action="store_true",
        help="whole stack only: roll back across a contract migration, or to a failed update",
    )
    parser.add_argument(
        "--stop-on-first-error",
        action="store_true",
        help="start nothing new after the first failed step (default: every path that does not "
        "wait for a failed one keeps deploying)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="at most N resource operations at once (default: the widest step of the plan of the "
        "configuration rolled back to, as `ops up`)",
    )
    parser.add_argument("--no-policy", action="store_true", help="deploy without the policy pack")
    parser.add_argument(
        "--output",
        choices=terminal.OUTPUTS,
        default="auto",
        help="how paths are shown while the rollback runs (as `ops up --output`)",
    )
    parser.set_defaults(func=run)


def _print_plan(plan: RollbackPlan) -> None:
    print(f"Rolling back {plan.subject} of stack {plan.stack} to version {plan.version}:")
    for line in plan.changes or ["no path's release changes"]:
        print(f"  {line}")
    for warning in plan.warnings:
        print(f"warning: {warning}")
    if plan.targets is not None:
        print("The update targets only:")
        for target in plan.targets:
            print(f"  {target}")


def _confirm(plan: RollbackPlan) -> bool:
    answer = input(f"Deploy the {plan.message}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    if args.version < 1:
        raise UserError(f"--to is a stack version from 1, not {args.version}")
    if args.parallel is not None and args.parallel < 1:
        raise UserError(f"--parallel must be at least 1, not {args.parallel}")
    if args.force and args.paths:
        raise UserError(
            "--force applies to a whole-stack rollback only; paths never cross a contract migration"
        )
    try:
        stack = leftovers.writable(args.stack, yes=args.yes)
    except leftovers.StackBusy as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    config_before = stack.get_all_config()
    plan = plan_rollback(
        stack=args.stack,
        project=automation.project_name(),
        version=args.version,
        paths=args.paths,
        force=args.force,
        history=automation.history(stack, show_secrets=True),
        config_now=automation.program_config(stack),
        defaults=project_defaults(automation.PROJECT_DIR),
        resources=state_names.current_resources(stack) if args.paths else None,
        user=operator_name(os.environ),
    )
    _print_plan(plan)
    if plan.empty:
        print(f"Nothing to roll back: the configuration already is version {args.version}'s.")
        return 0
    restore = {k: config_before[k] for k in plan.set_values if k in config_before}
    restore.update({k: config_before[k] for k in plan.remove})
    added = [k for k in plan.set_values if k not in config_before]
    policy = {} if args.no_policy else automation.policy_options(args.stack)
    target_options = (
        {"target": plan.targets, "target_dependents": False} if plan.targets is not None else {}
    )
    written = stack_file.stack_file_of(args.stack)
    text_before = written.read_text() if written.exists() else None
    stack_file.write_config(stack, written, set_values=plan.set_values, remove=plan.remove)
    deploying = False
    try:
        if plan.targets is not None:
            holds.let_go(stack, plan.targets)
        report = preview_report(stack, stack=args.stack, **target_options, **policy)
        print(render(report))
        if report.blocks_ship:
            print("The preview says this rollback must not ship; the configuration is restored.")
            return 1
        if not args.yes and not _confirm(plan):
            print("Not confirmed; the configuration is restored.")
            return 1
        # Imported here: ops.up imports ops.recovery, which imports this package.
        from ops.up import stack_parallelism

        parallel = stack_parallelism(args.stack, args.parallel)
        print(parallel.line(), file=sys.stderr if args.output == "json" else sys.stdout)
        engine_options = {} if parallel.value is None else {"parallel": parallel.value}
        deploying = True
        view = terminal.for_stack(args.output, args.stack)
        try:
            with view, automation.update_config_file(args.stack) as config_file:
                events.UpdateRecorder(stack, args.stack).up(
                    message=plan.message,
                    config_file=config_file,
                    on_output=view.engine_line,
                    on_event=lambda event: view.event(events.event_json(event)),
                    color="never",
                    continue_on_error=not args.stop_on_first_error,
                    **engine_options,
                    **target_options,
                    **policy,
                )
        except auto.CommandError as error:
            busy = automation.lock_holder(str(error))
            if busy:
                deploying = False
                print(f"error: stack {args.stack} is being updated by {busy}", file=sys.stderr)
                return 1
            print(
                f"The update failed: {automation.failure_text(error)}\n"
                f"Pulumi.{args.stack}.yaml keeps the rolled-back configuration: fix the cause and "
                "run the same rollback again, which goes on from there.",
                file=sys.stderr,
            )
            return 1
    finally:
        if not deploying:
            stack_file.restore(stack, written, text_before, set_values=restore, remove=added)
    print(
        f"Done: {plan.message}. Pulumi.{args.stack}.yaml holds the rolled-back configuration; "
        "commit it, or the next deploy rolls forward again."
    )
    return 0
