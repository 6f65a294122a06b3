"""The plan as a Gantt chart in SVG: one row per deploy path, the critical path in red."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ops.plan import Plan

ROW = 18
LABEL_WIDTH = 260
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


def render_svg(plan: Plan) -> str:
    total = max(plan.critical_path_minutes, 1.0)
    scale = CHART_WIDTH / total
    rows = plan.paths
    height = ROW * (len(rows) + 3)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_WIDTH + CHART_WIDTH + 20}" '
        f'height="{height}" font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="4" y="13" font-weight="bold">{escape(plan.stack)}: '
        f"{plan.critical_path_minutes:.1f} min in parallel paths, "
        f"{plan.sequential_minutes:.1f} min sequential; critical path in red</text>",
    ]
    for minute in range(0, int(total) + 1, max(1, int(total) // 10 or 1)):
        x = LABEL_WIDTH + minute * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{ROW}" x2="{x:.1f}" y2="{height - ROW}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{height - 4}" fill="#555">{minute}m</text>'
        )
    for index, path in enumerate(rows, start=1):
        y = ROW * (index + 0.5)
        colour = CRITICAL if path.critical else COLOURS.get(path.kind, "#3b82c4")
        width = max((path.finish - path.start) * scale, 1.5)
        label = f"w{path.wave} {path.kind} {path.id}" if path.wave else f"{path.kind} {path.id}"
        parts.append(
            f'<text x="4" y="{y + 11:.1f}">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH + path.start * scale:.1f}" y="{y + 2:.1f}" '
            f'width="{width:.1f}" height="{ROW - 5}" fill="{colour}">'
            f"<title>{escape(path.id)}: {path.start:.1f}-{path.finish:.1f} min</title></rect>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def write_svg(plan: Plan, path: Path) -> None:
    path.write_text(render_svg(plan))
