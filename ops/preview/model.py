"""Turns a preview (`pulumi preview --json`, or the engine events of `Stack.preview`) into one
Markdown report per stack, grouped by deploy path. Pure: no engine, no network.

The input is the document `pulumi preview --json` prints (Pulumi's `display.PreviewDigest`):
`{config, steps: [{op, urn, provider, oldState, newState, diffReasons, replaceReasons,
detailedDiff: {path: {kind, inputDiff}}}], diagnostics: [{urn, prefix, message, severity}],
changeSummary}`. Pulumi leaves policy violations out of that document, so a digest built from
engine events (`digest_from_events`) adds them as `policyViolations` (the field name and shape of
Pulumi's own event summary: `{resourceUrn, policyName, policyPackName, enforcementLevel, message}`).

Values are never printed, only property names, so secrets cannot leak into a pull-request
comment. The one exception is a container image, which is a release id and never secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deploypaths.naming import gate_name, path_id
from deploypaths.settings import Settings
from deploypaths.validation import ConfigError
from ops.config_diff import settings_of

REGION_PATH = "deploypaths:index:RegionPath"
SERVICE_PATH = "deploypaths:index:ServicePath"
MIGRATION_PATH = "deploypaths:index:MigrationPath"

# Losing one of these loses data or takes a region down for a long time.
STATEFUL_TYPES = frozenset(
    {
        "aws:eks/cluster:Cluster",
        "aws:ec2/vpc:Vpc",
        "aws:ebs/volume:Volume",
        "aws:efs/fileSystem:FileSystem",
        "kubernetes:core/v1:PersistentVolume",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:apps/v1:StatefulSet",
    }
)
STATEFUL_PREFIXES = ("aws:rds/",)

# The engine's step ops folded into what an operator reads: a replacement is reported by three
# steps (create-replacement, replace, delete-replaced) that are one change.
OP_KINDS = {
    "create": "create",
    "update": "update",
    "delete": "delete",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "discard": "delete",
    "discard-replaced": "replace",
    "import": "import",
    "import-replacement": "replace",
}
OP_ORDER = ("replace", "delete", "create", "import", "update")
OP_SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "import": "="}
MAX_PROPERTIES = 12
AWS_REGION = re.compile(r"^(?P<head>.+)-(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)$")
COLOUR_CODE = re.compile(r"<\{%[^%]*%\}>")


class PreviewDocumentError(ValueError):
    """The document is not the JSON `pulumi preview --json` prints."""


@dataclass(frozen=True)
class ParsedUrn:
    stack: str
    project: str
    types: tuple[str, ...]
    name: str

    @property
    def type(self) -> str:
        return self.types[-1]


def parse_urn(urn: str) -> ParsedUrn:
    """`urn:pulumi:<stack>::<project>::<parent types $-joined, own type last>::<name>`."""
    head, sep, rest = urn.partition("::")
    if not sep or not head.startswith("urn:pulumi:"):
        raise PreviewDocumentError(f"not a Pulumi URN: {urn!r}")
    project, _, rest = rest.partition("::")
    qualified_type, _, name = rest.partition("::")
    return ParsedUrn(head[len("urn:pulumi:") :], project, tuple(qualified_type.split("$")), name)


@dataclass(frozen=True, order=True)
class PathKey:
    """Where a resource belongs: a region's own infrastructure, a service or migration path of a
    region, or the stack level (gates, default providers, the stack itself)."""

    region: str
    kind: str  # "region" | "service" | "migration" | "stack"
    name: str = ""

    @property
    def label(self) -> str:
        if self.kind in ("service", "migration"):
            return path_id(self.name, self.region)
        if self.kind == "region":
            return f"{self.region} infrastructure"
        return "stack level"


STACK_LEVEL = PathKey(region="", kind="stack")


@dataclass(frozen=True)
class ResourceChange:
    urn: str
    type: str
    name: str
    op: str
    properties: tuple[str, ...] = ()
    replace_reasons: tuple[str, ...] = ()
    images: tuple[tuple[str, str], ...] = ()
    protected: bool = False

    @property
    def stateful(self) -> bool:
        return self.op in ("replace", "delete") and is_stateful(self.type)


@dataclass(frozen=True)
class PolicyViolation:
    policy: str
    pack: str
    level: str
    message: str
    urn: str = ""

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"


@dataclass
class PreviewReport:
    stack: str
    changes: dict[PathKey, list[ResourceChange]] = field(default_factory=dict)
    settings: Settings | None = None
    config_problem: str | None = None
    violations: list[PolicyViolation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failure: str | None = None

    @property
    def all_changes(self) -> list[ResourceChange]:
        return [change for changes in self.changes.values() for change in changes]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("create", "update", "replace", "delete"), 0)
        for change in self.all_changes:
            counts[change.op] = counts.get(change.op, 0) + 1
        return counts

    @property
    def stateful(self) -> list[tuple[PathKey, ResourceChange]]:
        return [(key, c) for key, changes in self.changes.items() for c in changes if c.stateful]

    @property
    def mandatory_violations(self) -> list[PolicyViolation]:
        return [v for v in self.violations if v.mandatory]

    @property
    def blocks_ship(self) -> bool:
        """A failed preview or a mandatory policy violation: the change must not ship."""
        return bool(self.failure or self.errors or self.mandatory_violations)

    def touched_regions(self) -> set[str]:
        return {key.region for key in self.changes if key.region}

    def untouched_paths(self) -> dict[str, list[str]] | None:
        """Per region, the configured paths without a single change; None without the config."""
        if self.settings is None:
            return None
        touched = set(self.changes)
        result = {}
        for region in self.settings.region_names:
            paths = [
                path_id(s.name, region)
                for s in self.settings.services_in(region)
                if PathKey(region, "service", s.name) not in touched
            ]
            paths += [
                path_id(m.name, region)
                for m in self.settings.migrations
                if PathKey(region, "migration", m.name) not in touched
            ]
            if paths:
                result[region] = paths
        return result


def is_stateful(type_: str) -> bool:
    return type_ in STATEFUL_TYPES or type_.startswith(STATEFUL_PREFIXES)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list | tuple) else ()


def _images(state: Mapping[str, Any] | None) -> list[str]:
    """Container images of a Kubernetes workload's inputs (camelCase, as state holds them)."""
    inputs = (state or {}).get("inputs") or {}
    spec = inputs.get("spec") if isinstance(inputs, Mapping) else None
    template = spec.get("template") if isinstance(spec, Mapping) else None
    pod = template.get("spec") if isinstance(template, Mapping) else None
    containers = pod.get("containers") if isinstance(pod, Mapping) else None
    if not isinstance(containers, list):
        return []
    return [
        c["image"]
        for c in containers
        if isinstance(c, Mapping) and isinstance(c.get("image"), str) and c["image"] != "[secret]"
    ]


def collapse_steps(steps: Iterable[Mapping[str, Any]]) -> list[ResourceChange]:
    """One change per URN; `same`, `read` and `refresh` steps are not changes."""
    merged: dict[str, dict[str, Any]] = {}
    for step in steps:
        kind = OP_KINDS.get(str(step.get("op", "")))
        urn = step.get("urn")
        if kind is None or not isinstance(urn, str):
            continue
        entry = merged.setdefault(
            urn,
            {
                "op": kind,
                "properties": [],
                "replace": [],
                "old": None,
                "new": None,
                "protect": False,
            },
        )
        if OP_ORDER.index(kind) < OP_ORDER.index(entry["op"]):
            entry["op"] = kind
        detailed = step.get("detailedDiff") or {}
        names = list(detailed) if isinstance(detailed, Mapping) else []
        names = names or list(_strings(step.get("diffReasons")))
        for name in names:
            if name not in entry["properties"]:
                entry["properties"].append(name)
        for name in _strings(step.get("replaceReasons")):
            if name not in entry["replace"]:
                entry["replace"].append(name)
        for side in ("old", "new"):
            state = step.get(f"{side}State")
            if isinstance(state, Mapping) and entry[side] is None:
                entry[side] = state
                entry["protect"] = entry["protect"] or bool(state.get("protect"))
    changes = []
    for urn, entry in merged.items():
        parsed = parse_urn(urn)
        old_images, new_images = _images(entry["old"]), _images(entry["new"])
        images = tuple(
            (before, after)
            for before, after in zip(old_images, new_images, strict=False)
            if before != after
        )
        changes.append(
            ResourceChange(
                urn=urn,
                type=parsed.type,
                name=parsed.name,
                op=entry["op"],
                properties=tuple(sorted(entry["properties"])),
                replace_reasons=tuple(sorted(entry["replace"])),
                images=images if entry["op"] == "update" else (),
                protected=entry["protect"],
            )
        )
    return changes


def parents_of(steps: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    parents = {}
    for step in steps:
        for side in ("newState", "oldState"):
            state = step.get(side)
            if isinstance(state, Mapping) and state.get("parent") and step.get("urn"):
                parents.setdefault(str(step["urn"]), str(state["parent"]))
    return parents


def split_component(name: str, regions: Iterable[str]) -> tuple[str, str] | None:
    """`orders-eu-west-1` -> (`orders`, `eu-west-1`), preferring the configured regions."""
    for region in sorted(regions, key=len, reverse=True):
        if name.endswith(f"-{region}") and len(name) > len(region) + 1:
            return name[: -len(region) - 1], region
    match = AWS_REGION.match(name)
    return (match["head"], match["region"]) if match else None


def _component_key(type_: str, name: str, regions: Iterable[str]) -> PathKey:
    split = split_component(name, regions)
    if split is None:
        return STACK_LEVEL
    kind = "service" if type_ == SERVICE_PATH else "migration"
    return PathKey(region=split[1], kind=kind, name=split[0])


def _region_of_name(name: str, regions: Iterable[str]) -> str | None:
    for region in sorted(regions, key=len, reverse=True):
        if name == region or name.startswith(f"{region}-"):
            return region
    return None


def locate(urn: str, parents: Mapping[str, str], regions: Iterable[str]) -> PathKey:
    """The deploy path a resource belongs to: by its parent chain when the states carry it, else
    by its type chain and the `{service}-{region}-<role>` naming every component follows."""
    regions = list(regions)
    parsed = parse_urn(urn)
    if parsed.type == REGION_PATH:
        return PathKey(region=parsed.name, kind="region")
    if parsed.type in (SERVICE_PATH, MIGRATION_PATH):
        return _component_key(parsed.type, parsed.name, regions)
    seen = set()
    parent = parents.get(urn)
    while parent and parent not in seen:
        seen.add(parent)
        ancestor = parse_urn(parent)
        if ancestor.type in (SERVICE_PATH, MIGRATION_PATH):
            return _component_key(ancestor.type, ancestor.name, regions)
        if ancestor.type == REGION_PATH:
            return PathKey(region=ancestor.name, kind="region")
        parent = parents.get(parent)
    for type_ in reversed(parsed.types[:-1]):
        if type_ in (SERVICE_PATH, MIGRATION_PATH):
            for region in sorted(regions, key=len, reverse=True):
                head, sep, _ = parsed.name.partition(f"-{region}-")
                if sep and head:
                    return _component_key(type_, f"{head}-{region}", regions)
            return STACK_LEVEL
    if parsed.types[0] == REGION_PATH:
        region = _region_of_name(parsed.name, regions)
        if region:
            return PathKey(region=region, kind="region")
    return STACK_LEVEL


def _violations(document: Mapping[str, Any]) -> list[PolicyViolation]:
    violations = []
    for item in document.get("policyViolations") or []:
        if isinstance(item, Mapping):
            violations.append(
                PolicyViolation(
                    policy=str(item.get("policyName", "")),
                    pack=str(item.get("policyPackName", "")),
                    level=str(item.get("enforcementLevel", "")),
                    message=plain_text(str(item.get("message", ""))),
                    urn=str(item.get("resourceUrn") or ""),
                )
            )
    return violations


def plain_text(message: str) -> str:
    """Engine messages carry colour directives (`<{%reset%}>`); a report does not."""
    return COLOUR_CODE.sub("", message).strip()


def analyse(
    document: Mapping[str, Any], *, stack: str, failure: str | None = None
) -> PreviewReport:
    """The report's content: changes by deploy path, policy violations, errors."""
    if not isinstance(document, Mapping):
        raise PreviewDocumentError("a preview document is a JSON object")
    steps = [step for step in document.get("steps") or [] if isinstance(step, Mapping)]
    report = PreviewReport(stack=stack, failure=failure, violations=_violations(document))
    config = document.get("config")
    if isinstance(config, Mapping) and config:
        try:
            report.settings = settings_of(config, stack=stack)
        except ConfigError as error:
            report.config_problem = f"{len(error.problems)} configuration problem(s)"
    else:
        report.config_problem = "the preview carries no configuration"
    regions = set(report.settings.region_names if report.settings else ())
    if report.settings:
        regions.update(report.settings.decommission)
    regions.update(
        parse_urn(str(s["urn"])).name
        for s in steps
        if isinstance(s.get("urn"), str) and parse_urn(s["urn"]).type == REGION_PATH
    )
    parents = parents_of(steps)
    for change in collapse_steps(steps):
        if change.type == "pulumi:pulumi:Stack":
            continue
        key = locate(change.urn, parents, regions)
        report.changes.setdefault(key, []).append(change)
    for diagnostic in document.get("diagnostics") or []:
        if isinstance(diagnostic, Mapping) and diagnostic.get("severity") == "error":
            text = plain_text(f"{diagnostic.get('prefix') or ''}{diagnostic.get('message', '')}")
            report.errors.append(text)
    return report


# --- Markdown ---------------------------------------------------------------------------------


def _code(text: str) -> str:
    quoted = text.replace("`", "'")
    return f"`{quoted}`"


def _short_type(type_: str) -> str:
    return type_.rsplit(":", 1)[-1]


def _short_image(image: str) -> str:
    return image.rsplit("/", 1)[-1]


def _change_line(change: ResourceChange) -> str:
    line = f"- {_code(OP_SYMBOL.get(change.op, '?') + ' ' + change.op)} {_short_type(change.type)}"
    line += f" {_code(change.name)}"
    if change.replace_reasons:
        line += f"; replaced because of {', '.join(_code(p) for p in change.replace_reasons)}"
    shown = [p for p in change.properties if p not in change.replace_reasons][:MAX_PROPERTIES]
    if shown:
        more = len(change.properties) - len(change.replace_reasons) - len(shown)
        line += f"; changes {', '.join(_code(p) for p in shown)}"
        if more > 0:
            line += f" and {more} more"
    for before, after in change.images:
        line += f"; image {_code(_short_image(before))} → {_code(_short_image(after))}"
    return line


def _sorted_changes(changes: Sequence[ResourceChange]) -> list[ResourceChange]:
    return sorted(changes, key=lambda c: (OP_ORDER.index(c.op), c.name))


def _title(report: PreviewReport) -> str:
    counts = report.counts
    parts = [f"{counts[op]} to {op}" for op in ("create", "update", "replace", "delete")]
    return f"# Preview of stack {_code(report.stack)}: {', '.join(parts)}"


def _verdict(report: PreviewReport) -> list[str]:
    lines = []
    # A blockquote ends at a line break: engine messages are folded onto one line.
    if report.failure:
        lines.append(f"> **✖ The preview failed**: {' '.join(report.failure.split())}")
    for error in report.errors:
        lines.append(f"> **✖ error**: {' '.join(error.split())}")
    mandatory = report.mandatory_violations
    if mandatory:
        lines.append(
            f"> **⛔ {len(mandatory)} mandatory policy violation(s): this change must not ship.**"
        )
    if not lines:
        lines.append("> ✔ The preview succeeded and no mandatory policy is violated.")
    return lines


def _stateful_section(report: PreviewReport) -> list[str]:
    lines = ["## ⚠ Stateful resources", ""]
    stateful = report.stateful
    if not stateful:
        lines.append("No database, cluster, network or volume is replaced or deleted.")
        return lines
    for key, change in sorted(stateful, key=lambda item: (item[0], item[1].name)):
        line = f"- **{change.op.upper()}** {_code(change.type)} {_code(change.name)} ({key.label})"
        if change.replace_reasons:
            line += f": replaced because of {', '.join(_code(p) for p in change.replace_reasons)}"
        if change.protected:
            line += "; the resource is protected, so the update will stop here"
        lines.append(line)
    return lines


def _resource_name(urn: str) -> str:
    try:
        return parse_urn(urn).name
    except PreviewDocumentError:
        return urn


def _policy_section(report: PreviewReport) -> list[str]:
    if not report.violations:
        return []
    lines = ["## Policy violations", ""]
    for violation in sorted(report.violations, key=lambda v: (not v.mandatory, v.policy)):
        where = f" on {_code(_resource_name(violation.urn))}" if violation.urn else ""
        message = violation.message.splitlines()[0] if violation.message else ""
        lines.append(f"- **{violation.level}** {_code(violation.policy)}{where}: {message}")
    return lines


def _waves_section(report: PreviewReport) -> list[str]:
    settings = report.settings
    lines = ["## Waves", ""]
    if settings is None:
        lines.append(f"Unknown: {report.config_problem}.")
        return lines
    touched = report.touched_regions()
    gates = {change.name for change in report.changes.get(STACK_LEVEL, [])}
    bake = settings.gate_bake_minutes
    for index, wave in enumerate(settings.waves):
        regions = ", ".join(
            f"{region} ({'changes' if region in touched else 'no change'})" for region in wave
        )
        runs = any(region in touched for region in wave)
        lines.append(f"{index + 1}. {'runs' if runs else 'nothing to do'}: {regions}")
        if index + 1 < len(settings.waves):
            gate = gate_name(index + 1)
            # The gate watches only when the wave's release changed, which updates its watch.
            watches = bake > 0 and f"{gate}-watch" in gates
            if watches:
                lines.append(f"   - then {_code(gate)} watches the wave's alarms for {bake} min")
            else:
                lines.append(f"   - then {_code(gate)} lets the next wave start at once")
    return lines


def _region_sections(report: PreviewReport) -> list[str]:
    lines: list[str] = []
    regions = list(report.settings.region_names) if report.settings else []
    regions += sorted(report.touched_regions() - set(regions))
    for region in regions:
        keys = [key for key in report.changes if key.region == region]
        if not keys:
            continue
        removed = report.settings is not None and region not in report.settings.region_names
        lines += ["", f"## {region}" + (" (region being removed)" if removed else "")]
        order = {"region": 0, "migration": 1, "service": 2}
        for key in sorted(keys, key=lambda k: (order.get(k.kind, 3), k.name)):
            heading = {"region": "Infrastructure", "service": "Service path"}.get(
                key.kind, "Migration path"
            )
            title = heading if key.kind == "region" else f"{heading} {_code(key.label)}"
            lines += ["", f"### {title}", ""]
            lines += [_change_line(c) for c in _sorted_changes(report.changes[key])]
    stack_level = report.changes.get(STACK_LEVEL)
    if stack_level:
        lines += ["", "## Stack level", ""]
        lines += [_change_line(c) for c in _sorted_changes(stack_level)]
    return lines


def _untouched_section(report: PreviewReport) -> list[str]:
    lines = ["", "## Untouched paths", ""]
    untouched = report.untouched_paths()
    if untouched is None:
        lines.append(f"Unknown: {report.config_problem}.")
    elif not untouched:
        lines.append("None: every path changes.")
    else:
        for region, paths in untouched.items():
            lines.append(f"- {region}: {', '.join(_code(p) for p in paths)}")
    return lines


def render(report: PreviewReport) -> str:
    """The Markdown report: verdict, stateful resources first, then waves and paths."""
    lines = [_title(report), "", *_verdict(report), "", *_stateful_section(report)]
    policy = _policy_section(report)
    if policy:
        lines += ["", *policy]
    lines += ["", *_waves_section(report)]
    lines += _region_sections(report)
    lines += _untouched_section(report)
    return "\n".join(lines) + "\n"


def render_preview_json(document: Mapping[str, Any], *, stack: str) -> str:
    """A saved `pulumi preview --json` document (or an event digest) as the Markdown report."""
    return render(analyse(document, stack=stack))


# --- Engine events ----------------------------------------------------------------------------


def _state(metadata: Any) -> dict[str, Any] | None:
    if metadata is None:
        return None
    return {
        "urn": metadata.urn,
        "type": metadata.type,
        "parent": metadata.parent,
        "protect": bool(metadata.protect),
        "inputs": metadata.inputs or {},
    }


def digest_from_events(events: Iterable[Any]) -> dict[str, Any]:
    """Engine events (`pulumi.automation.EngineEvent`, as `Stack.preview(on_event=...)` hands
    them over) folded into the shape of `pulumi preview --json`, plus `policyViolations`."""
    digest: dict[str, Any] = {
        "config": {},
        "steps": [],
        "diagnostics": [],
        "policyViolations": [],
        "changeSummary": {},
    }
    for event in events:
        if event.prelude_event is not None:
            digest["config"] = dict(event.prelude_event.config or {})
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            digest["steps"].append(
                {
                    "op": getattr(meta.op, "value", meta.op),
                    "urn": meta.urn,
                    "provider": meta.provider,
                    "oldState": _state(meta.old),
                    "newState": _state(meta.new),
                    "diffReasons": list(meta.diffs or []),
                    "replaceReasons": list(meta.keys or []),
                    "detailedDiff": {
                        path: {
                            "kind": getattr(diff.diff_kind, "value", diff.diff_kind),
                            "inputDiff": diff.input_diff,
                        }
                        for path, diff in (meta.detailed_diff or {}).items()
                    },
                }
            )
        diagnostic = event.diagnostic_event
        if diagnostic is not None and not diagnostic.ephemeral and diagnostic.severity != "debug":
            digest["diagnostics"].append(
                {
                    "urn": diagnostic.urn or "",
                    "prefix": diagnostic.prefix or "",
                    "message": diagnostic.message,
                    "severity": diagnostic.severity,
                }
            )
        policy = event.policy_event
        if policy is not None:
            digest["policyViolations"].append(
                {
                    "resourceUrn": policy.resource_urn or "",
                    "policyName": policy.policy_name,
                    "policyPackName": policy.policy_pack_name,
                    "enforcementLevel": policy.enforcement_level,
                    "message": policy.message,
                }
            )
        if event.summary_event is not None:
            digest["changeSummary"] = dict(event.summary_event.resource_changes or {})
    return digest
