"""The preview report in Markdown, one per stack: the verdict, stateful resources first, then
the waves and each region's paths.

Values are never printed, only property names, so secrets cannot leak into a pull-request
comment. The one exception is a container image, which is a release id and never secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from deploypaths.identity import Urn, UrnError, gate_name, type_name
from ops.preview.model import (
    OP_ORDER,
    STACK_LEVEL,
    PreviewReport,
    ResourceChange,
    analyse,
    label,
    location_order,
)

OP_SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "import": "="}
MAX_PROPERTIES = 12


def _code(text: str) -> str:
    quoted = text.replace("`", "'")
    return f"`{quoted}`"


def _short_image(image: str) -> str:
    return image.rsplit("/", 1)[-1]


def _change_line(change: ResourceChange) -> str:
    line = f"- {_code(OP_SYMBOL.get(change.op, '?') + ' ' + change.op)} {type_name(change.type)}"
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
    for key, change in sorted(stateful, key=lambda item: (location_order(item[0]), item[1].name)):
        line = f"- **{change.op.upper()}** {_code(change.type)} {_code(change.name)} ({label(key)})"
        if change.replace_reasons:
            line += f": replaced because of {', '.join(_code(p) for p in change.replace_reasons)}"
        if change.protected:
            line += "; the resource is protected, so the update will stop here"
        lines.append(line)
    return lines


def _resource_name(urn: str) -> str:
    try:
        return Urn.parse(urn).name
    except UrnError:
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
        keys = [key for key in report.changes if key is not None and key.region == region]
        if not keys:
            continue
        removed = report.settings is not None and region not in report.settings.region_names
        lines += ["", f"## {region}" + (" (region being removed)" if removed else "")]
        order = {"region": 0, "migration": 1, "service": 2}
        for key in sorted(keys, key=lambda k: (order.get(k.kind, 3), k.name)):
            heading = {"region": "Infrastructure", "service": "Service path"}.get(
                key.kind, "Migration path"
            )
            title = heading if key.kind == "region" else f"{heading} {_code(label(key))}"
            owner = report.owner_of(key)
            if owner is not None:
                approvers = f"; approved by {', '.join(owner.approvers)}" if owner.approvers else ""
                title += f" (owner: {owner.team}{approvers})"
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
