"""`python -m ops preview --stack dev --stack prod [--markdown FILE]`: preview every named stack
at once and write one Markdown report per stack, grouped by deploy path.

Each stack's `pulumi preview` runs through the Automation API, with the repository's policy
pack and the stack's enforcement config (`policy/config/<stack>.json`), and its engine events
become the report (`ops.preview.model`). `--from-json FILE` renders a saved
`pulumi preview --json` document instead, for a CI system that runs the CLI itself; Pulumi
leaves policy violations out of that document, so there only the CLI's exit code reports them.

`--markdown FILE` writes the reports to files: `{stack}` in FILE is replaced by the stack name;
without it and with several stacks, `-<stack>` goes before the suffix (`preview-prod.md`).
Without `--markdown` the reports go to standard output.

Exit status: 1 when any preview failed or reported a mandatory policy violation (the change
must not ship), 0 otherwise; 2 for an operator mistake.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from deploypaths.stack_config import namespace_values
from deploypaths.validation import ConfigError, parse_settings, removed_region_problems
from ops import UserError, automation, write_output
from ops.preview.engine_events import digest_from_events
from ops.preview.markdown import render
from ops.preview.model import PreviewDocumentError, PreviewReport, analyse


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="preview stacks and report the changes by deploy path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--stack",
        dest="stacks",
        action="append",
        required=True,
        metavar="STACK",
        help="a stack (repeatable)",
    )
    parser.add_argument("--markdown", metavar="FILE", help="write the reports to FILE")
    parser.add_argument(
        "--from-json",
        metavar="FILE",
        type=Path,
        help="render a saved `pulumi preview --json` document (one --stack) instead",
    )
    parser.add_argument("--no-policy", action="store_true", help="preview without the policy pack")
    parser.set_defaults(func=run)


def region_removal_failure(
    deployed_waves: Any, flat_config: Mapping[str, str], *, stack: str
) -> str | None:
    """Why this config must not ship because it drops a deployed region of a protected stack
    without `decommission` naming it; None when it may. An invalid config is left to the
    preview, which reports every problem."""
    if not isinstance(deployed_waves, list):
        return None
    deployed = [region for wave in deployed_waves if isinstance(wave, list) for region in wave]
    try:
        settings = parse_settings(namespace_values(flat_config), stack=stack)
    except ConfigError:
        return None
    problems = removed_region_problems(deployed, settings)
    return "; ".join(problems) or None


def preview_stack(stack: str, *, policies: bool) -> PreviewReport:
    """Run one stack's preview with its current config."""
    try:
        handle = automation.select(stack)
        options = automation.policy_options(stack) if policies else {}
    except UserError as error:
        return analyse(digest_from_events([]), stack=stack, failure=str(error))
    return preview_report(handle, stack=stack, **options)


# The engine's words when a provider process dies under it (see automation.provider_crash).
PROVIDER_CRASH = automation.PROVIDER_CRASHES[0]


def preview_report(handle: Any, *, stack: str, **options: Any) -> PreviewReport:
    """Preview the config the stack holds now, refused when it drops a deployed region that
    `decommission` does not name; whatever happens, the events seen so far make the report. A
    preview changes nothing, so one that a crashed provider broke runs once more (and says so)."""
    report = _preview_once(handle, stack=stack, **options)
    crash = automation.provider_crash([report.failure or "", *report.errors])
    if crash is None:
        return report
    print(
        f"[{stack}] a provider crashed during the preview, previewing once more: {crash}",
        file=sys.stderr,
    )
    return _preview_once(handle, stack=stack, **options)


def _preview_once(handle: Any, *, stack: str, **options: Any) -> PreviewReport:
    log = automation.EventLog()
    failure = None
    try:
        waves = handle.outputs().get("waves")
        config = {key: value.value for key, value in handle.get_all_config().items()}
        failure = region_removal_failure(waves.value if waves else None, config, stack=stack)
        # On the config an update would run with (the release files recorded), which the
        # report reads back from the preview's own events.
        with automation.update_config_file(stack) as config_file:
            handle.preview(on_event=log.on_event, color="never", config_file=config_file, **options)
    except auto.CommandError as error:  # an engine failure is reported, not raised
        failure = "; ".join(filter(None, [failure, automation.failure_text(error)]))
    return analyse(digest_from_events(log.events), stack=stack, failure=failure)


def report_from_file(path: Path, *, stack: str) -> PreviewReport:
    try:
        document = json.loads(path.read_text())
        return analyse(document, stack=stack)
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, PreviewDocumentError) as error:
        raise UserError(f"{path} is not a `pulumi preview --json` document: {error}") from None


def markdown_path(template: str, stack: str, *, several: bool) -> Path:
    if "{stack}" in template:
        return Path(template.replace("{stack}", stack))
    path = Path(template)
    return path.with_name(f"{path.stem}-{stack}{path.suffix}") if several else path


def run(args: argparse.Namespace) -> int:
    stacks = list(dict.fromkeys(args.stacks))
    if args.from_json:
        if len(stacks) != 1:
            raise UserError("--from-json renders one document: name exactly one --stack")
        reports = [report_from_file(args.from_json, stack=stacks[0])]
    else:
        if args.markdown:
            # Made now: a report that cannot be written is said before minutes of previews.
            for stack in stacks:
                write_output(markdown_path(args.markdown, stack, several=len(stacks) > 1), "")
        # The Automation API blocks on the CLI; one thread per stack runs the previews at once.
        with ThreadPoolExecutor(max_workers=len(stacks)) as pool:
            reports = list(
                pool.map(lambda s: preview_stack(s, policies=not args.no_policy), stacks)
            )
    for report in reports:
        text = render(report)
        if args.markdown:
            path = markdown_path(args.markdown, report.stack, several=len(stacks) > 1)
            write_output(path, text)
            verdict = "must not ship" if report.blocks_ship else "ok"
            counts = ", ".join(f"{n} to {op}" for op, n in report.counts.items())
            print(f"{report.stack}: {counts}; {verdict} (report: {path})")
        else:
            sys.stdout.write(text)
    return 1 if any(report.blocks_ship for report in reports) else 0
