"""A preview as deploy paths: which resources each path creates, updates, replaces or deletes,
the policy violations and errors. Pure: no engine, no network.

The input is the document `pulumi preview --json` prints (Pulumi's `display.PreviewDigest`):
`{config, steps: [{op, urn, provider, oldState, newState, diffReasons, replaceReasons,
detailedDiff: {path: {kind, inputDiff}}}], diagnostics: [{urn, prefix, message, severity}],
changeSummary}`. Pulumi leaves policy violations out of that document, so a digest built from
engine events (`ops.preview.engine_events`) adds them as `policyViolations` (the field name and
shape of Pulumi's own event summary: `{resourceUrn, policyName, policyPackName,
enforcementLevel, message}`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deploypaths import layout as stack_layout
from deploypaths.config.problems import show
from deploypaths.config.settings import Owner, Settings
from deploypaths.identity import (
    MIGRATION_PATH,
    REGION_PATH,
    SERVICE_PATH,
    PathIdentity,
    Urn,
    component_of_child,
    region_of_child,
)
from deploypaths.validation import ConfigError
from ops.config_diff import settings_of

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
COLOUR_CODE = re.compile(r"<\{%[^%]*%\}>")


class PreviewDocumentError(ValueError):
    """The document is not the JSON `pulumi preview --json` prints."""


# Where a resource belongs: a deploy path (a region's own infrastructure, a service or migration
# path of a region), or None for the stack level (gates, default providers, the stack itself).
Location = PathIdentity | None
STACK_LEVEL: Location = None


def label(location: Location) -> str:
    if location is None:
        return "stack level"
    if location.kind == "region":
        return f"{location.region} infrastructure"
    return location.id


def location_order(location: Location) -> tuple[str, str, str]:
    """Region, kind, name: the stack level first."""
    if location is None:
        return ("", "", "")
    return (location.region, location.kind, location.name)


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
    changes: dict[Location, list[ResourceChange]] = field(default_factory=dict)
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
    def stateful(self) -> list[tuple[Location, ResourceChange]]:
        return [(key, c) for key, changes in self.changes.items() for c in changes if c.stateful]

    @property
    def mandatory_violations(self) -> list[PolicyViolation]:
        return [v for v in self.violations if v.mandatory]

    @property
    def blocks_ship(self) -> bool:
        """A failed preview or a mandatory policy violation: the change must not ship."""
        return bool(self.failure or self.errors or self.mandatory_violations)

    def touched_regions(self) -> set[str]:
        return {key.region for key in self.changes if key is not None}

    def owner_of(self, path: PathIdentity) -> Owner | None:
        """Who owns a service or migration path, by today's config (None: nobody named)."""
        if self.settings is None:
            return None
        return self.settings.owner_of(path.kind, path.name)

    def untouched_paths(self) -> dict[str, list[str]] | None:
        """Per region, the configured paths without a single change; None without the config."""
        if self.settings is None:
            return None
        touched = set(self.changes)
        layout = stack_layout.of_settings(self.stack, self.settings)
        result = {}
        for region in self.settings.region_names:
            if layout.region not in (None, region):
                continue
            paths = [
                PathIdentity("service", s.name, region)
                for s in self.settings.services_in(region)
                if layout.declares_service(s.name)
            ]
            if layout.service is None:
                paths += [
                    PathIdentity("migration", m.name, region) for m in self.settings.migrations
                ]
            paths = [path for path in paths if path not in touched]
            if paths:
                result[region] = [path.id for path in paths]
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
        parsed = Urn.parse(urn)
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
    parents: dict[str, str] = {}
    for step in steps:
        for side in ("newState", "oldState"):
            state = step.get(side)
            if isinstance(state, Mapping) and state.get("parent") and step.get("urn"):
                parents.setdefault(str(step["urn"]), str(state["parent"]))
    return parents


def _component_key(type_: str, name: str, regions: Iterable[str]) -> Location:
    kind: Literal["service", "migration"] = "service" if type_ == SERVICE_PATH else "migration"
    return PathIdentity.parse_component_name(name, kind, regions)


def locate(
    urn: str, parents: Mapping[str, str], regions: Iterable[str], components: Iterable[str] = ()
) -> Location:
    """The deploy path a resource belongs to: by its parent chain when the states carry it, else
    by its type chain and the `<component>-<role>` naming every child follows (`components`: the
    path components' names the preview shows)."""
    regions = list(regions)
    parsed = Urn.parse(urn)
    if parsed.type == REGION_PATH:
        return PathIdentity.of_region(parsed.name)
    if parsed.type in (SERVICE_PATH, MIGRATION_PATH):
        return _component_key(parsed.type, parsed.name, regions)
    seen = set()
    parent = parents.get(urn)
    while parent and parent not in seen:
        seen.add(parent)
        ancestor = Urn.parse(parent)
        if ancestor.type in (SERVICE_PATH, MIGRATION_PATH):
            return _component_key(ancestor.type, ancestor.name, regions)
        if ancestor.type == REGION_PATH:
            return PathIdentity.of_region(ancestor.name)
        parent = parents.get(parent)
    for type_ in reversed(parsed.types[:-1]):
        if type_ in (SERVICE_PATH, MIGRATION_PATH):
            component = component_of_child(parsed.name, components)
            return _component_key(type_, component, regions) if component else STACK_LEVEL
    if parsed.types[0] == REGION_PATH:
        region = region_of_child(parsed.name, regions)
        if region:
            return PathIdentity.of_region(region)
    return STACK_LEVEL


def _violations(document: Mapping[str, Any]) -> list[PolicyViolation]:
    return [
        PolicyViolation(
            policy=str(item.get("policyName", "")),
            pack=str(item.get("policyPackName", "")),
            level=str(item.get("enforcementLevel", "")),
            message=plain_text(str(item.get("message", ""))),
            urn=str(item.get("resourceUrn") or ""),
        )
        for item in _entries(document, "policyViolations")
    ]


def _entries(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The objects of the document's list `key` (none when it has no such list)."""
    items = document.get(key) or []
    if not isinstance(items, list):
        raise PreviewDocumentError(f"`{key}` of a preview document is a list, not {show(items)}")
    return [item for item in items if isinstance(item, Mapping)]


def plain_text(message: str) -> str:
    """Engine messages carry colour directives (`<{%reset%}>`); a report does not."""
    return COLOUR_CODE.sub("", message).strip()


def analyse(
    document: Mapping[str, Any], *, stack: str, failure: str | None = None
) -> PreviewReport:
    """The report's content: changes by deploy path, policy violations, errors."""
    if not isinstance(document, Mapping):
        raise PreviewDocumentError("a preview document is a JSON object")
    steps = _entries(document, "steps")
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
    urns = [Urn.parse(step["urn"]) for step in steps if isinstance(step.get("urn"), str)]
    regions.update(urn.name for urn in urns if urn.type == REGION_PATH)
    components = {urn.name for urn in urns if urn.type in (SERVICE_PATH, MIGRATION_PATH)}
    parents = parents_of(steps)
    for change in collapse_steps(steps):
        if change.type == "pulumi:pulumi:Stack":
            continue
        key = locate(change.urn, parents, regions, components)
        report.changes.setdefault(key, []).append(change)
    for diagnostic in document.get("diagnostics") or []:
        if isinstance(diagnostic, Mapping) and diagnostic.get("severity") == "error":
            text = plain_text(f"{diagnostic.get('prefix') or ''}{diagnostic.get('message', '')}")
            report.errors.append(text)
    return report
