"""Inline SVG charts, drawn on the server so the statistics page needs no JavaScript and no network.

Four kinds: a dot per figure with its 95% interval as a whisker, on a 0–100% axis with a dashed
line at chance; a dot plot of every participant's accuracy; every participant's empirical ROC
curve from confidence ratings (all three on the statistics page, each with a table of the same
numbers beside it); and training losses against step (a run's page).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from quiz.studies.design import CHANCE


@dataclass(frozen=True)
class Interval:
    """One row of an interval chart: a rate in [0, 1] (None: not measured) and its 95% CI."""

    label: str
    estimate: float | None
    low: float | None = None
    high: float | None = None
    # What the row's tooltip adds, e.g. "n = 40 participants".
    detail: str = ""

    def __str__(self) -> str:
        if self.estimate is None:
            return "not measured"
        if self.low is None or self.high is None:
            return f"{self.estimate:.1%}"
        return f"{self.estimate:.1%} (95% CI {self.low:.1%} to {self.high:.1%})"


_WIDTH = 640
_LABEL_RIGHT = 205  # labels end here, right-aligned
_PLOT_LEFT = 220
_PLOT_RIGHT = 615
_TOP = 26  # room for the tick labels above the plot
_ROW_HEIGHT = 30
_BOTTOM = 8
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
_LABEL_CHARS = 26
_ACCENT = "#1f6feb"
_GRID = "#dde1e6"
_INK = "#1d232a"
_MUTED = "#5b6672"


def _x(rate: float) -> str:
    return f"{_PLOT_LEFT + rate * (_PLOT_RIGHT - _PLOT_LEFT):.1f}"


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _axis(bottom: int, chance: float) -> list[SafeString]:
    parts = []
    for tick in _TICKS:
        parts.append(
            format_html(
                '<line x1="{x}" x2="{x}" y1="{top}" y2="{bottom}" stroke="{grid}"/>'
                '<text x="{x}" y="{label_y}" text-anchor="middle" fill="{muted}">{label}</text>',
                x=_x(tick),
                top=_TOP,
                bottom=bottom,
                grid=_GRID,
                label_y=_TOP - 8,
                muted=_MUTED,
                label=f"{tick:.0%}",
            )
        )
    parts.append(
        format_html(
            '<line class="chance" x1="{x}" x2="{x}" y1="{top}" y2="{bottom}" stroke="{ink}" '
            'stroke-dasharray="4 3"><title>Chance ({label})</title></line>',
            x=_x(chance),
            top=_TOP,
            bottom=bottom,
            ink=_INK,
            label=f"{chance:.0%}",
        )
    )
    return parts


def _row(index: int, row: Interval) -> SafeString:
    y = _TOP + index * _ROW_HEIGHT + _ROW_HEIGHT // 2
    name = format_html(
        '<text x="{x}" y="{y}" dy="0.35em" text-anchor="end" fill="{ink}">{label}</text>',
        x=_LABEL_RIGHT,
        y=y,
        ink=_INK,
        label=_short(row.label),
    )
    if row.estimate is None:
        mark = format_html(
            '<text x="{x}" y="{y}" dy="0.35em" fill="{muted}">not measured</text>',
            x=_PLOT_LEFT + 6,
            y=y,
            muted=_MUTED,
        )
    else:
        whisker = (
            format_html(
                '<line x1="{low}" x2="{high}" y1="{y}" y2="{y}" stroke="{accent}" '
                'stroke-width="2"/><line x1="{low}" x2="{low}" y1="{y0}" y2="{y1}" '
                'stroke="{accent}" stroke-width="2"/><line x1="{high}" x2="{high}" y1="{y0}" '
                'y2="{y1}" stroke="{accent}" stroke-width="2"/>',
                low=_x(row.low),
                high=_x(row.high),
                y=y,
                y0=y - 6,
                y1=y + 6,
                accent=_ACCENT,
            )
            if row.low is not None and row.high is not None
            else ""
        )
        mark = format_html(
            '{whisker}<circle cx="{rate}" cy="{y}" r="5" fill="{accent}"/>',
            whisker=whisker,
            rate=_x(row.estimate),
            y=y,
            accent=_ACCENT,
        )
    # The row's <title> is what a screen reader or a hovering pointer gets: the full label and
    # the exact figures, which the drawing only approximates.
    return format_html(
        "<g><title>{label}: {figures}{detail}</title>{name}{mark}</g>",
        label=row.label,
        figures=str(row),
        detail=f", {row.detail}" if row.detail else "",
        name=name,
        mark=mark,
    )


def _svg_open(height: int, title: str) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="{title}" font-family="system-ui, sans-serif" font-size="13">'
        "<title>{title}</title>",
        width=_WIDTH,
        height=height,
        title=title,
    )


def interval_chart(rows: Sequence[Interval], title: str, chance: float = CHANCE) -> SafeString:
    """A labelled dot-and-whisker chart of rates with their 95% intervals."""
    bottom = _TOP + len(rows) * _ROW_HEIGHT
    parts = [
        _svg_open(bottom + _BOTTOM, title),
        *_axis(bottom, chance),
        *(_row(index, row) for index, row in enumerate(rows)),
        mark_safe("</svg>"),
    ]
    # Every part is already escaped by format_html.
    return mark_safe("".join(parts))


def dot_plot(values: Sequence[float], title: str, chance: float = CHANCE) -> SafeString:
    """One dot per participant's rate, stacked where they coincide (a strip of the spread)."""
    stacks: dict[str, int] = {}
    dots = []
    for value in sorted(values):
        x = _x(value)
        level = stacks.get(x, 0)
        stacks[x] = level + 1
        dots.append((x, level, value))
    height = max(stacks.values(), default=1)
    bottom = _TOP + max(height * 9 + 8, _ROW_HEIGHT)
    parts = [_svg_open(bottom + _BOTTOM, title), *_axis(bottom, chance)]
    for x, level, value in dots:
        parts.append(
            format_html(
                '<circle cx="{x}" cy="{y}" r="4" fill="{accent}" fill-opacity="0.75">'
                "<title>{value}</title></circle>",
                x=x,
                y=bottom - 6 - level * 9,
                accent=_ACCENT,
                value=f"{value:.1%}",
            )
        )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))


_ROC_SIDE = 300  # the plot's side in the viewBox
_ROC_LEFT = 48
_ROC_TOP = 12


Curve = tuple[str, Sequence[tuple[float, float]]]


def roc_chart(curves: Sequence[Curve], title: str) -> SafeString:
    """Each participant's empirical ROC curve as a thin line (false-alarm rate → hit rate, from
    (0, 0) to (1, 1), one vertex per rating threshold), over the chance diagonal.

    `curves`: (label, [(fpr, tpr), ...]) per participant; the points come from
    quiz.analysis.stats.roc, which computed the AUCs the page prints beside the chart.
    """
    side, left, top = _ROC_SIDE, _ROC_LEFT, _ROC_TOP
    bottom = top + side

    def px(fpr: float, tpr: float) -> str:
        return f"{left + fpr * side:.1f},{bottom - tpr * side:.1f}"

    width, height = left + side + 16, bottom + 42
    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart roc-chart" '
            'viewBox="0 0 {width} {height}" role="img" aria-label="{title}" '
            'font-family="system-ui, sans-serif" font-size="12"><title>{title}</title>',
            width=width,
            height=height,
            title=title,
        )
    ]
    for tick in _TICKS:
        parts.append(
            format_html(
                '<line x1="{x}" x2="{x}" y1="{top}" y2="{bottom}" stroke="{grid}"/>'
                '<line x1="{left}" x2="{right}" y1="{y}" y2="{y}" stroke="{grid}"/>'
                '<text x="{x}" y="{below}" text-anchor="middle" fill="{muted}">{label}</text>'
                '<text x="{beside}" y="{y}" dy="0.35em" text-anchor="end" fill="{muted}">'
                "{label}</text>",
                x=f"{left + tick * side:.1f}",
                y=f"{bottom - tick * side:.1f}",
                top=top,
                bottom=bottom,
                left=left,
                right=left + side,
                below=bottom + 15,
                beside=left - 5,
                grid=_GRID,
                muted=_MUTED,
                label=f"{tick:.2f}".rstrip("0").rstrip("."),
            )
        )
    parts.append(
        format_html(
            '<line class="chance" x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="{ink}" '
            'stroke-dasharray="4 3"><title>Chance (AUC 0.5)</title></line>'
            '<text x="{mid}" y="{axis_y}" text-anchor="middle" fill="{ink}">False-alarm rate '
            "(real called synthetic)</text>"
            '<text transform="translate(12 {mid_y}) rotate(-90)" text-anchor="middle" '
            'fill="{ink}">Hit rate (synthetic called synthetic)</text>',
            x0=left,
            y0=bottom,
            x1=left + side,
            y1=top,
            ink=_INK,
            mid=left + side / 2,
            axis_y=bottom + 34,
            mid_y=top + side / 2,
        )
    )
    for label, points in curves:
        parts.append(
            format_html(
                '<polyline class="roc-curve" fill="none" stroke="{accent}" stroke-opacity="0.55" '
                'stroke-width="1.2" points="{points}"><title>{label}</title></polyline>',
                accent=_ACCENT,
                points=" ".join(px(fpr, tpr) for fpr, tpr in points),
                label=label,
            )
        )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))


_LINE_COLOURS = ["#1f6feb", "#cf222e", "#1a7f37", "#8250df", "#bc4c00"]


def loss_curve_svg(
    metrics: dict[str, list[float]], width: int = 560, height: int = 220
) -> SafeString:
    """Training losses against step as an inline SVG line chart (one line per loss)."""
    steps = metrics.get("step") or []
    series = {name: values for name, values in metrics.items() if name != "step" and values}
    if len(steps) < 2 or not series:
        return mark_safe('<p class="muted">No losses recorded yet.</p>')
    pad = 36
    values = [v for vs in series.values() for v in vs]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first, last = steps[0], steps[-1]

    def x(step: float) -> float:
        return pad + (step - first) / ((last - first) or 1) * (width - 2 * pad)

    def y(value: float) -> float:
        return height - pad - (value - low) / span * (height - 2 * pad)

    parts = [
        f'<svg class="loss-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" '
        f'aria-label="Training losses by step" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#999"/>',
        f'<text x="{pad}" y="{height - 10}" font-size="11">step {first}</text>',
        f'<text x="{width - pad}" y="{height - 10}" font-size="11" text-anchor="end">{last}</text>',
        f'<text x="4" y="{pad}" font-size="11">{high:.2f}</text>',
        f'<text x="4" y="{height - pad}" font-size="11">{low:.2f}</text>',
    ]
    for index, (name, vs) in enumerate(series.items()):
        colour = _LINE_COLOURS[index % len(_LINE_COLOURS)]
        points = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in zip(steps, vs, strict=False))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        parts.append(
            # The legend runs along the top, above the plotting area.
            f'<text x="{pad + 80 * index}" y="14" font-size="11" fill="{colour}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
