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
so every other path stays at its current release. Flags and migrations are not per path: a path
rollback keeps today's.

Refused, with the reason:
- VERSION is not in the history, is not an update, or recorded no configuration; it did not
  succeed (unless `--force`);
- a path that is not in today's configuration, a migration path (the migration list is global
  and runs in every region), or a service that did not run at that path at VERSION;
- a contract migration in today's configuration that VERSION's configuration lacks: it ran (or
  will run) after VERSION and may have dropped what the old release still reads. Always refused
  for a path; for the whole stack `--force` goes ahead, since putting back the whole
  configuration is the operator's explicit call (the Job leaves the stack, the schema stays);
- a secret of VERSION that the stack's secrets provider cannot decrypt any more;
- a resulting configuration that does not validate today.

It always previews first and prints the configuration change and the preview report, then asks
for confirmation unless `--yes`; without it, or when the preview says the change must not ship,
the stack's configuration is restored. The update message records the rollback:
`rollback of <paths|stack> to version N (by $USER)`. The stack file (Pulumi.<stack>.yaml) then
holds the rolled-back configuration: commit it, or the next deploy rolls forward again.
"""

from __future__ import annotations

import argparse
import copy
import getpass
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pulumi.automation import ConfigValue, UpdateSummary

from deploypaths.naming import component_name, path_id
from deploypaths.settings import Migration, Service, Settings
from deploypaths.stack_config import SECRET_PLACEHOLDER, decode, project_defaults
from deploypaths.validation import NAMESPACE, ConfigError
from ops import UserError, automation, events
from ops.config_diff import (
    diff_fields,
    diff_paths,
    migration_list_change,
    release_fields,
    release_override,
    settings_changes,
    settings_of,
)
from ops.preview import preview_report
from ops.report_history import grouped_changes
from ops.report_preview import REGION_PATH, SERVICE_PATH, render

REGIONS_KEY = f"{NAMESPACE}:regions"
# What `pulumi stack history --show-secrets` says for a secret it cannot decrypt.
UNREADABLE_SECRETS = (SECRET_PLACEHOLDER, "ERROR_UNABLE_TO_DECRYPT")


@dataclass(frozen=True)
class PathSpec:
    """One `--path`: a service path (`orders@eu-west-1`) or every service of a region."""

    text: str
    region: str
    service: str | None = None


@dataclass
class RollbackPlan:
    stack: str
    version: int
    subject: str
    message: str
    set_values: dict[str, ConfigValue] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    # None: the whole stack; otherwise the URNs and URN patterns `up --target` gets.
    targets: list[str] | None = None
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.set_values and not self.remove


# --- Decisions (pure) -------------------------------------------------------------------------


def find_update(history: Sequence[UpdateSummary], version: int, *, force: bool) -> UpdateSummary:
    """The update to roll back to, or a refusal saying why it cannot be one."""
    by_version = {s.version: s for s in history if s.version is not None}
    if version not in by_version:
        known = sorted(by_version)
        what = f"versions {known[0]} to {known[-1]} exist" if known else "it has no history"
        raise UserError(f"stack has no update with version {version} ({what})")
    summary = by_version[version]
    if summary.kind != "update":
        raise UserError(
            f"version {version} is a {summary.kind}, not an update: roll back to an update"
        )
    if not summary.config:
        raise UserError(f"version {version} has no recorded configuration to roll back to")
    if summary.result != "succeeded" and not force:
        raise UserError(
            f"version {version} did not succeed ({summary.result}): its configuration never "
            "fully deployed; pass --force to roll back to it anyway"
        )
    return summary


def parse_path(text: str, settings: Settings) -> PathSpec:
    """`service@region` or `region`, checked against today's configuration."""
    regions = settings.region_names
    if "@" not in text:
        if text not in regions:
            raise UserError(
                f"{text!r} is neither a path (service@region) nor a region of the stack "
                f"(regions: {', '.join(regions)})"
            )
        return PathSpec(text=text, region=text)
    name, _, region = text.rpartition("@")
    if region not in regions:
        raise UserError(
            f"{text}: no region {region!r} in the stack (regions: {', '.join(regions)})"
        )
    if name in {m.name for m in settings.migrations}:
        raise UserError(
            f"{text} is a migration path: migrations are never rolled back per path (the "
            "migration list is global and runs in every region)"
        )
    services = [s.name for s in settings.services_in(region)]
    if name not in services:
        raise UserError(
            f"{text}: no service {name!r} runs in {region} today "
            f"(services there: {', '.join(services) or 'none'})"
        )
    return PathSpec(text=text, region=region, service=name)


def contract_crossings(now: Settings, then: Settings) -> list[Migration]:
    """Contract migrations of today's configuration that the older one lacks."""
    older = {m.name for m in then.migrations}
    return [m for m in now.migrations if m.phase == "contract" and m.name not in older]


def crossing_message(crossings: Sequence[Migration], version: int) -> str:
    names = ", ".join(f"{m.name!r}" for m in crossings)
    return (
        f"contract migration {names} is in today's configuration but not in version {version}'s: "
        f"it ran (or will run) after version {version} and may have dropped what the release of "
        f"version {version} still reads. Roll forward with a fix instead"
    )


def _service(settings: Settings, name: str, region: str | None = None) -> Service | None:
    services = settings.services_in(region) if region else settings.services
    return next((s for s in services if s.name == name), None)


def path_rollback_regions(
    raw_regions: Sequence[Mapping[str, Any]],
    *,
    now: Settings,
    then: Settings,
    specs: Sequence[PathSpec],
    version: int,
) -> tuple[list[dict[str, Any]], list[tuple[str, Service, Service]]]:
    """Today's raw `regions` with each path's override pinned to its release at `version` (or
    removed when that is today's service-level release), and (path, before, after) per path."""
    regions = [dict(copy.deepcopy(entry)) for entry in raw_regions]
    rolled: list[tuple[str, Service, Service]] = []
    for spec in specs:
        names = [spec.service] if spec.service else [s.name for s in now.services_in(spec.region)]
        entry = next(e for e in regions if e.get("name") == spec.region)
        for name in names:
            path = path_id(name, spec.region)
            if path in {done for done, _, _ in rolled}:
                continue
            if _service(then, name) is None:
                raise UserError(
                    f"{path}: service {name!r} did not exist at version {version}: there is no "
                    "release to roll back to"
                )
            old = _service(then, name, spec.region) if spec.region in then.region_names else None
            if old is None:
                raise UserError(f"{path} did not run at version {version}: nothing to roll back to")
            current = _service(now, name, spec.region)
            service_level = _service(now, name)
            assert current is not None and service_level is not None
            overrides = dict(entry.get("overrides") or {})
            if release_override(old) == release_override(service_level):
                overrides.pop(name, None)
            else:
                overrides[name] = release_override(old)
            if overrides:
                entry["overrides"] = overrides
            else:
                entry.pop("overrides", None)
            rolled.append((path, current, old))
    return regions, rolled


def stack_rollback_config(
    now: Mapping[str, ConfigValue],
    then: Mapping[str, ConfigValue],
    defaults: Mapping[str, str],
    *,
    version: int,
) -> tuple[dict[str, ConfigValue], list[str]]:
    """(keys to set, keys to remove) that make today's config the one recorded at `version`."""
    set_values: dict[str, ConfigValue] = {}
    for key, value in then.items():
        if value.secret and value.value in UNREADABLE_SECRETS:
            raise UserError(
                f"the secret {key} of version {version} cannot be decrypted with the stack's "
                "secrets provider today, so it cannot be put back"
            )
        current = now.get(key)
        if current is not None and current.secret == value.secret and _same(current, value):
            continue
        if current is None and not value.secret and _same_text(defaults.get(key), value.value):
            continue  # the project default already gives this value
        set_values[key] = ConfigValue(value=value.value, secret=value.secret)
    remove = []
    for key, current in now.items():
        if key in then:
            continue
        if key in defaults:
            # Unset at `version` meant the project default; the key may only exist as that default.
            if not _same_text(defaults[key], current.value):
                set_values[key] = ConfigValue(value=defaults[key], secret=False)
        else:
            remove.append(key)
    return set_values, sorted(remove)


def _same_text(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and decode(a) == decode(b)


def _same(a: ConfigValue, b: ConfigValue) -> bool:
    return _same_text(a.value, b.value)


def glob_matches(pattern: str, urn: str) -> bool:
    """The engine's `--target` pattern semantics: `**` matches anything, `*` anything but `:`."""
    parts = [
        "[^:]*".join(re.escape(piece) for piece in segment.split("*"))
        for segment in pattern.split("**")
    ]
    return re.fullmatch(".*".join(parts), urn) is not None


def service_path_urn(stack: str, project: str, service: str, region: str) -> str:
    types = f"{REGION_PATH}${SERVICE_PATH}"
    return f"urn:pulumi:{stack}::{project}::{types}::{component_name(service, region)}"


def path_targets(
    component: str, resources: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[str]]:
    """(targets, warnings) for one component: its URN, every descendant in the checkpoint, and a
    pattern for children the old release adds back, unless that pattern would catch another
    path's resources (then the new children are not targeted and the warning says so)."""
    children: dict[str, list[str]] = {}
    urns = []
    for resource in resources:
        urn = str(resource.get("urn", ""))
        urns.append(urn)
        if resource.get("parent"):
            children.setdefault(str(resource["parent"]), []).append(urn)
    descendants: list[str] = []
    frontier = [component]
    while frontier:
        found = [child for parent in frontier for child in children.get(parent, [])]
        descendants += found
        frontier = found
    head, _, name = component.rpartition("::")
    # Children are named `<component>-<role>` and their type chain starts with the component's.
    pattern = f"{head}$**::{name}-*"
    strays = [
        urn
        for urn in urns
        if glob_matches(pattern, urn) and urn != component and urn not in descendants
    ]
    targets = [component, *sorted(descendants)]
    warnings = []
    if strays:
        warnings.append(
            f"not targeting new children of {name} by pattern: {pattern} also matches {strays[0]}"
        )
    else:
        targets.append(pattern)
    return targets, warnings


def rollback_message(subject: str, version: int, user: str) -> str:
    return f"rollback of {subject} to version {version} (by {user})"


def _release_change_line(path: str, before: Service, after: Service, version: int) -> str:
    # A path rollback pins the release; the flags stay today's, so they are not listed.
    fields = diff_fields(release_fields(before), release_fields(after))
    if not fields:
        return f"{path}: already runs the release of version {version}"
    text = ", ".join(f"{f.name} {f.before} -> {f.after}" for f in fields)
    return f"{path}: {text}"


def plan_rollback(
    *,
    stack: str,
    project: str,
    version: int,
    paths: Sequence[str],
    force: bool,
    history: Sequence[UpdateSummary],
    config_now: Mapping[str, ConfigValue],
    defaults: Mapping[str, str],
    resources: Sequence[Mapping[str, Any]] | None,
    user: str,
) -> RollbackPlan:
    """Every decision of a rollback: which config keys, which targets, or a refusal (UserError)."""
    then_summary = find_update(history, version, force=force)
    config_then: Mapping[str, ConfigValue] = then_summary.config
    try:
        now = settings_of(config_now, stack=stack)
    except ConfigError as error:
        raise UserError(
            f"today's configuration of stack {stack} does not validate:\n{error}"
        ) from None
    try:
        then = settings_of(config_then, stack=stack)
    except ConfigError as error:
        raise UserError(
            f"version {version}'s configuration does not pass today's validation, so the program "
            f"would refuse it:\n{error}"
        ) from None
    crossings = contract_crossings(now, then)
    if paths:
        specs = list(dict.fromkeys(parse_path(text, now) for text in paths))
        if crossings:
            raise UserError(
                f"cannot roll {', '.join(s.text for s in specs)} back: "
                + crossing_message(crossings, version)
            )
        subject = ", ".join(spec.text for spec in specs)
        plan = RollbackPlan(
            stack=stack,
            version=version,
            subject=subject,
            message=rollback_message(subject, version, user),
        )
        raw_regions = decode(config_now[REGIONS_KEY].value)
        regions, rolled = path_rollback_regions(
            raw_regions, now=now, then=then, specs=specs, version=version
        )
        if regions != raw_regions:
            plan.set_values[REGIONS_KEY] = ConfigValue(value=json.dumps(regions), secret=False)
            candidate = {**config_now, **plan.set_values}
            try:
                settings_of(candidate, stack=stack)
            except ConfigError as error:
                raise UserError(
                    f"the rolled-back configuration does not validate:\n{error}"
                ) from None
        plan.changes = [
            _release_change_line(path, before, after, version) for path, before, after in rolled
        ]
        plan.targets = []
        for path, before, after in rolled:
            if release_fields(before) == release_fields(after):
                continue  # already at that release: nothing of this path changes
            service, _, region = path.rpartition("@")
            targets, warnings = path_targets(
                service_path_urn(stack, project, service, region), resources or []
            )
            plan.targets += targets
            plan.warnings += warnings
        return plan
    if crossings and not force:
        raise UserError(
            f"cannot roll stack {stack} back: {crossing_message(crossings, version)} (or pass "
            "--force to put back the whole configuration anyway)"
        )
    plan = RollbackPlan(
        stack=stack,
        version=version,
        subject=stack,
        message=rollback_message(stack, version, user),
    )
    if crossings:
        plan.warnings.append("--force: " + crossing_message(crossings, version))
    plan.set_values, plan.remove = stack_rollback_config(
        config_now, config_then, defaults, version=version
    )
    plan.changes = grouped_changes(diff_paths(now, then))
    added, removed = migration_list_change(now, then)
    if added:
        plan.changes.append(f"migrations back in the list: {', '.join(added)}")
    if removed:
        plan.changes.append(f"migrations leaving the list: {', '.join(removed)}")
    changed = settings_changes(config_now, config_then)
    if changed:
        plan.changes.append(f"settings changed: {', '.join(changed)}")
    secret_keys = sorted(k for k, v in plan.set_values.items() if v.secret)
    if secret_keys:
        plan.changes.append(f"secrets put back (values not shown): {', '.join(secret_keys)}")
    if plan.remove:
        plan.changes.append(f"keys removed: {', '.join(plan.remove)}")
    return plan


def operator_name(environ: Mapping[str, str]) -> str:
    return environ.get("USER") or environ.get("LOGNAME") or getpass.getuser()


# --- Command ----------------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
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
    parser.add_argument("--no-policy", action="store_true", help="deploy without the policy pack")
    parser.set_defaults(func=run)


def _project_name() -> str:
    document = yaml.safe_load((automation.PROJECT_DIR / "Pulumi.yaml").read_text())
    return str(document["name"])


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
    if not args.yes and not sys.stdin.isatty():
        raise UserError("no terminal to confirm on: pass --yes to deploy without asking")
    if args.force and args.paths:
        raise UserError(
            "--force applies to a whole-stack rollback only; paths never cross a contract migration"
        )
    stack = automation.select(args.stack)
    config_before = stack.get_all_config()
    plan = plan_rollback(
        stack=args.stack,
        project=_project_name(),
        version=args.version,
        paths=args.paths,
        force=args.force,
        history=automation.history(stack, show_secrets=True),
        config_now=config_before,
        defaults=project_defaults(automation.PROJECT_DIR),
        resources=automation.resources(stack) if args.paths else None,
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
    automation.write_config(stack, set_values=plan.set_values, remove=plan.remove)
    deploying = False
    try:
        report = preview_report(stack, stack=args.stack, **target_options, **policy)
        print(render(report))
        if report.blocks_ship:
            print("The preview says this rollback must not ship; the configuration is restored.")
            return 1
        if not args.yes and not _confirm(plan):
            print("Not confirmed; the configuration is restored.")
            return 1
        deploying = True
        try:
            events.UpdateRecorder(stack, args.stack).up(
                message=plan.message, on_output=print, color="never", **target_options, **policy
            )
        except Exception as error:  # noqa: BLE001 - the operator needs the reason, not a trace
            print(
                f"The update failed: {automation.failure_text(error)}\n"
                f"Pulumi.{args.stack}.yaml keeps the rolled-back configuration: fix the cause and "
                "run the same rollback again, which goes on from there.",
                file=sys.stderr,
            )
            return 1
    finally:
        if not deploying:
            automation.write_config(stack, set_values=restore, remove=added)
    print(
        f"Done: {plan.message}. Pulumi.{args.stack}.yaml holds the rolled-back configuration; "
        "commit it, or the next deploy rolls forward again."
    )
    return 0
