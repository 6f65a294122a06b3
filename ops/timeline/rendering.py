"""`ops timeline`'s output: the table of predicted and actual releases per path as text, and
the picture (SVG): each path's actual bar with the plan's dashed over it."""

from __future__ import annotations

from pathlib import Path

from deploypaths.gantt import Row, render_rows
from deploypaths.plan import PathTiming
from ops.timeline.model import FINISH_TOLERANCE, FINISH_TOLERANCE_MINUTES, Timeline


def _span(timing: PathTiming | None) -> str:
    if timing is None:
        return f"{'not run':>16}"
    return f"{timing.start:6.2f} -> {timing.finish:6.2f}"


def render_text(timeline: Timeline, picture: Path | None) -> str:
    plan = timeline.plan
    lines = [
        f"deploypaths timeline: stack {timeline.stack}, update {timeline.number} "
        f"({timeline.result}), events {timeline.events_file}",
        f"Prediction: the plan of the configuration {timeline.config_source}; unchanged "
        "resources take no time. Minutes from the update's first step.",
        f"Latency model: {timeline.latency}.",
        "",
        f"  {'path':<46} {'predicted':>16}   {'actual':>16}   finish error",
    ]
    for row in timeline.rows:
        mark = "*" if row.id in timeline.actual_critical_path else " "
        error = row.finish_error
        verdict = "" if row.within_tolerance is None else "" if row.within_tolerance else "  !"
        error_text = "" if error is None else f"{error:+6.2f} min{verdict}"
        status = " FAILED" if row.failed else ""
        lines.append(
            f"  {mark} {row.kind + ' ' + row.id:<44} {_span(row.predicted)}   "
            f"{_span(row.actual)}   {error_text}{status}"
        )
    compared = timeline.compared
    within = sum(1 for row in compared if row.within_tolerance)
    lines += [
        "",
        f"Actual critical path ({timeline.actual_minutes:.2f} min, marked *):",
        "  " + " -> ".join(timeline.actual_critical_path),
        f"Predicted critical path ({plan.critical_path_minutes:.2f} min):",
        "  " + " -> ".join(plan.critical_path),
        "",
        f"Prediction error: the update took {timeline.actual_minutes:.2f} min, the plan said "
        f"{plan.critical_path_minutes:.2f} ({100 * timeline.critical_path_error:+.1f} %); "
        f"{within} of {len(compared)} path(s) finished within "
        f"{FINISH_TOLERANCE:.0%} or {FINISH_TOLERANCE_MINUTES * 60:.0f} s of the prediction "
        "(! marks the others).",
    ]
    if picture:
        lines.append(f"Picture: {picture}")
    return "\n".join(lines)


def render_svg(timeline: Timeline) -> str:
    rows = []
    for row in timeline.rows:
        shown = row.actual or row.predicted
        assert shown is not None
        label = f"w{row.wave} {row.kind} {row.id}" if row.wave else f"{row.kind} {row.id}"
        rows.append(
            Row(
                label=label if row.actual else f"{label} (not run)",
                path_id=row.id,
                kind=row.kind,
                lead_in=shown.lead_in if row.actual else shown.start,
                start=shown.start if row.actual else shown.start,
                finish=shown.finish if row.actual else shown.start,
                critical=row.id in timeline.actual_critical_path,
                failed=row.failed,
                predicted=(row.predicted.start, row.predicted.finish) if row.predicted else None,
            )
        )
    total = max(timeline.actual_minutes, timeline.plan.critical_path_minutes)
    title = [
        f"{timeline.stack} update {timeline.number} ({timeline.result}): "
        f"{timeline.actual_minutes:.2f} min actual, {timeline.plan.critical_path_minutes:.2f} "
        f"predicted ({100 * timeline.critical_path_error:+.1f} %)",
        "bar: what happened (actual critical path in red, failed in black); dashed: the plan",
    ]
    return render_rows(title, rows, total)
