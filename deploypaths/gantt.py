"""Gantt charts in SVG, one row per deploy path: the plan (the critical path in red), and an
update's actual timeline with the plan's prediction overlaid (`ops timeline`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploypaths.plan import Plan

ROW = 18
LABEL_WIDTH = 280
CHART_WIDTH = 720
COLOURS = {
    "region": "#9aa5b1",
    "migration": "#e0a030",
    "service": "#3b82c4",
    "barrier": "#6b7280",
    "gate": "#7c4dbd",
    "flags": "#2a9d8f",
}
CRITICAL = "#d62728"
FAILED = "#111111"
PREDICTED = "#222222"


@dataclass(frozen=True)
class Row:
    """One path: its release bar (start to finish) after a thin lead-in (lead_in to start);
    `predicted`, when set, is drawn as an outline over the row: (start, finish)."""

    label: str
    path_id: str
    kind: str
    lead_in: float
    start: float
    finish: float
    critical: bool = False
    failed: bool = False
    predicted: tuple[float, float] | None = None


def plan_rows(plan: Plan) -> list[Row]:
    return [
        Row(
            label=f"w{p.wave} {p.kind} {p.id}" if p.wave else f"{p.kind} {p.id}",
            path_id=p.id,
            kind=p.kind,
            lead_in=p.lead_in,
            start=p.start,
            finish=p.finish,
            critical=p.critical,
        )
        for p in plan.paths
    ]


def plan_title(plan: Plan) -> list[str]:
    baselines = "; ".join(f"{b.minutes:.1f} min {b.label.split(' (')[0]}" for b in plan.baselines)
    return [
        f"{plan.stack}: {plan.critical_path_minutes:.1f} min in parallel paths "
        "(bar: release; thin: lead-in; critical path in red)",
        f"baselines: {baselines}",
    ]


def render_rows(title: Sequence[str], rows: Sequence[Row], total: float) -> str:
    total = max(total, 1e-3)
    scale = CHART_WIDTH / total
    top = ROW * len(title)
    height = top + ROW * (len(rows) + 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_WIDTH + CHART_WIDTH + 30}" '
        f'height="{height}" font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for index, line in enumerate(title):
        weight = ' font-weight="bold"' if index == 0 else ""
        parts.append(f'<text x="4" y="{ROW * index + 13}"{weight}>{escape(line)}</text>')
    step = _tick(total)
    tick = 0.0
    while tick <= total + 1e-9:
        x = LABEL_WIDTH + tick * scale
        label = f"{tick:g}m"
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - ROW}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{height - 4}" fill="#555">{label}</text>'
        )
        tick = round(tick + step, 6)
    for index, row in enumerate(rows):
        y = top + ROW * (index + 0.5)
        colour = (
            FAILED if row.failed else CRITICAL if row.critical else COLOURS.get(row.kind, "#3b82c4")
        )
        parts.append(f'<text x="4" y="{y + 11:.1f}">{escape(row.label)}</text>')
        if row.lead_in < row.start:
            parts.append(
                f'<rect x="{LABEL_WIDTH + row.lead_in * scale:.1f}" y="{y + ROW / 2 - 1:.1f}" '
                f'width="{(row.start - row.lead_in) * scale:.1f}" height="2" fill="{colour}" '
                'opacity="0.6"/>'
            )
        width = max((row.finish - row.start) * scale, 1.5)
        status = " (failed)" if row.failed else ""
        parts.append(
            f'<rect x="{LABEL_WIDTH + row.start * scale:.1f}" y="{y + 2:.1f}" '
            f'width="{width:.1f}" height="{ROW - 5}" fill="{colour}">'
            f"<title>{escape(row.path_id)}: {row.start:.2f}-{row.finish:.2f} min{status}"
            "</title></rect>"
        )
        if row.predicted:
            start, finish = row.predicted
            parts.append(
                f'<rect x="{LABEL_WIDTH + start * scale:.1f}" y="{y + 0.5:.1f}" '
                f'width="{max((finish - start) * scale, 1.5):.1f}" height="{ROW - 2}" '
                f'fill="none" stroke="{PREDICTED}" stroke-dasharray="3 2">'
                f"<title>{escape(row.path_id)} predicted: {start:.2f}-{finish:.2f} min"
                "</title></rect>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _tick(total: float) -> float:
    """About ten grid lines at a round step (…, 0.1, 0.2, 0.5, 1, 2, 5, 10, …)."""
    raw = total / 10
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    while magnitude > raw:
        magnitude /= 10
    for factor in (1, 2, 5, 10):
        if magnitude * factor >= raw:
            return magnitude * factor
    return magnitude * 10


def render_svg(plan: Plan) -> str:
    return render_rows(plan_title(plan), plan_rows(plan), plan.critical_path_minutes)
