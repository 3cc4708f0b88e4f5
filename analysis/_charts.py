"""Charts as inline SVG, drawn only from a table's shown numbers (no script, font or image).

Bars for one period, lines over periods. Every mark has an error bar and a tooltip with its 95 %
interval; a hidden row keeps its label and says "hidden" with a tooltip saying why (never a count
claim, which noise may make false). Axis labels are placed by their estimated width, so no two
overlap: period labels are thinned, category labels are shortened. Charts scale to the page width.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import Any, Final

from ._render import format_value
from ._table import COUNT_COLUMNS, HIDDEN, Table, hidden_why, is_interval

WIDTH_PX: Final = 960  # the drawing's own units; the page scales it to full width
BAR_HEIGHT_PX: Final = 18
LINE_HEIGHT_PX: Final = 300
LABEL_WIDTH_PX: Final = 250
CHAR_PX: Final = 7.5  # a generous width of one character of the 12 px chart font (digits are ~6.7)
LABEL_GAP_PX: Final = 10
# Okabe–Ito and Tableau-like colours, distinguishable by most colour-blind readers.
PALETTE: Final = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
    "#999999",
    "#8c564b",
    "#17becf",
    "#bcbd22",
)
# The first keys drawn as a line over an x axis, and the axis title.
X_TITLES: Final = {
    "period": "period (first day)",
    "days_since_first": "days since the version was first seen",
    "weeks_since": "weeks since the cohort started; one line per cohort (its first week)",
}
TIME_ORDERED: Final = ("weeks_since",)  # x axes whose series (cohorts) are named by when they started
NO_ESTIMATE: Final = "no estimate"
NO_ESTIMATE_WHY: Final = "no estimate: the noisy total this figure divides by is not positive"
NO_CHANGE_WHY: Final = "no change: one side is hidden (its noisy count is under the display threshold)"
PALETTE_SIZE: Final = len(PALETTE)  # classes c0..c11, in the page's stylesheet (no inline style: strict CSP)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def key_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def count_index(table: Table) -> int:
    """Where the keys end: the column that counts installations."""
    return next(i for i, c in enumerate(table.columns) if c in COUNT_COLUMNS)


def measure_column(table: Table) -> str:
    """What a chart shows: the table's chosen measure, else a share where there is one, else the count."""
    if table.chart in table.columns:
        return table.chart
    return next((c for c in table.columns if c.startswith("share")), table.columns[count_index(table)])


def axis_title(column: str) -> str:
    """An axis title with its unit."""
    if column.endswith("_change"):
        return "change of " + axis_title(column.removesuffix("_change"))
    if column == "share_of_cohort":
        return "share of the cohort active in the week (%)"
    if column == "share_of_active":
        return "share of active installations (%)"
    if column.startswith("share"):
        return "share of the installations counted (%)"
    if column == "hours":
        return "hours of use (h)"
    return column.replace("_", " ")


def _fmt(value: float, column: str) -> str:
    if column.startswith("share"):
        return f"{value * 100:.1f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _ci(table: Table, row: tuple[Any, ...], at: int) -> float:
    """The 95 % half-width beside column ``at`` (0 when there is none or it is hidden)."""
    if at + 1 < len(table.columns) and is_interval(table.columns[at + 1]) and row[at + 1] is not None:
        return float(row[at + 1])
    return 0.0


def _tip(label: str, value: float, ci: float, column: str) -> str:
    interval = _fmt(ci, column) if column.startswith("share") else format_value(ci, column)
    return f"{label}: {_fmt(value, column)} ± {interval} (95 % interval)"


def text_width(text: str) -> float:
    return len(text) * CHAR_PX


def shorten(text: str, width_px: float) -> str:
    """``text`` cut (with an ellipsis) to fit ``width_px``; the full text stays in the tooltip."""
    most = max(1, int(width_px // CHAR_PX))
    return text if len(text) <= most else text[: most - 1] + "…"


def label_positions(xs: list[float], labels: list[str], left: float, right: float) -> list[tuple[int, str]]:
    """Which axis labels to draw, each with its anchor, so that no two boxes meet.

    The first is anchored at its start, the last at its end, the others at their middle; a label is
    kept only if its box clears the one before it and the last one by LABEL_GAP_PX.
    """
    n = len(xs)

    def box(i: int, anchor: str) -> tuple[float, float]:
        w = text_width(labels[i])
        if anchor == "start":
            return xs[i], xs[i] + w
        if anchor == "end":
            return xs[i] - w, xs[i]
        return xs[i] - w / 2, xs[i] + w / 2

    def anchor_of(i: int) -> str:
        if n == 1:
            return "middle" if box(0, "middle")[0] >= left else "start"
        return "start" if i == 0 else "end" if i == n - 1 else "middle"

    last = n - 1
    last_box = box(last, anchor_of(last))
    chosen: list[tuple[int, str]] = []
    edge = -math.inf
    for i in range(n - 1):
        lo, hi = box(i, anchor_of(i))
        if lo >= edge + LABEL_GAP_PX and hi + LABEL_GAP_PX <= last_box[0] and hi <= right:
            chosen.append((i, anchor_of(i)))
            edge = hi
    chosen.append((last, anchor_of(last)))
    return chosen


def nice_top(value: float) -> float:
    """The axis maximum: ``value`` rounded up to a round multiple of a power of ten."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(
        m * power for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0) if m * power >= value * (1 - 1e-9)
    )


def bar_chart(table: Table) -> str:
    """Horizontal bars, one per row; a hidden row keeps its label and says "hidden", with why as a tooltip."""
    n_keys = count_index(table)
    column = measure_column(table)
    at = table.columns.index(column)
    rows = [(" / ".join(key_text(v) for v in row[:n_keys]), row[at], _ci(table, row, at)) for row in table.rows]
    counted = [row[n_keys] is not None for row in table.rows]
    if not rows:
        return ""
    # Bars grow from zero, to the left for a negative value (a change); the scale holds every interval.
    low_end = min((float(v) - ci for _, v, ci in rows if v is not None), default=0.0)
    high_end = max((float(v) + ci for _, v, ci in rows if v is not None), default=0.0)
    lo, hi = min(0.0, low_end), max(0.0, high_end)
    hi = hi if hi > lo else lo + 1.0
    plot = WIDTH_PX - LABEL_WIDTH_PX - 80

    def x(v: float) -> float:
        return LABEL_WIDTH_PX + plot * (v - lo) / (hi - lo)

    axis_y = 4 + len(rows) * BAR_HEIGHT_PX
    height = axis_y + 24
    why = _e(hidden_why(table.k))
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {WIDTH_PX} {height}" preserveAspectRatio="xMinYMin meet"'
        f' role="img" aria-label="{_e(table.title)}: {_e(axis_title(column))}">'
    ]
    for i, (label, value, ci) in enumerate(rows):
        y = 4 + i * BAR_HEIGHT_PX
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH_PX - 8}" y="{y + 13}" text-anchor="end">'
            f"<title>{_e(label)}</title>{_e(shorten(label, LABEL_WIDTH_PX - 12))}</text>"
        )
        if value is None:  # hidden, or a ratio whose noisy denominator is not positive
            none_why = NO_CHANGE_WHY if column.endswith("_change") else NO_ESTIMATE_WHY
            text, tip = (NO_ESTIMATE, none_why) if counted[i] else (HIDDEN, why)
            parts.append(f'<text class="hidden" x="{x(0) + 4:.1f}" y="{y + 13}"><title>{tip}</title>{text}</text>')
            continue
        v = float(value)
        tip = _e(_tip(label, v, ci, column))
        left, w = min(x(0), x(v)), max(1.0, abs(x(v) - x(0)))
        parts.append(
            f'<rect class="bar c0" x="{left:.1f}" y="{y + 2}" width="{w:.1f}" height="{BAR_HEIGHT_PX - 5}">'
            f"<title>{tip}</title></rect>"
        )
        parts.append(
            f'<line class="errorbar" x1="{x(v - ci):.1f}" x2="{x(v + ci):.1f}" y1="{y + 8:.1f}" y2="{y + 8:.1f}">'
            f"<title>{tip}</title></line>"
        )
        parts.append(
            f'<text class="value" x="{max(x(v + ci), x(0)) + 5:.1f}" y="{y + 13}">{_e(_fmt(v, column))}</text>'
        )
    parts.append(f'<line class="axis" x1="{x(0):.1f}" y1="2" x2="{x(0):.1f}" y2="{axis_y}"/>')
    parts.append(
        f'<text class="axis-title" x="{LABEL_WIDTH_PX}" y="{axis_y + 16}">{_e(axis_title(column))};'
        " bars: 95 % intervals</text></svg>"
    )
    return "".join(parts)


def _series(table: Table, column: str) -> tuple[list[str], dict[str, dict[str, float | None]], dict[Any, float]]:
    n_keys = count_index(table)
    at = table.columns.index(column)
    periods = [key_text(v) for v in sorted({row[0] for row in table.rows})]  # dates, or days as numbers
    series: dict[str, dict[str, float | None]] = {}
    intervals: dict[Any, float] = {}
    for row in table.rows:
        name = " / ".join(key_text(v) for v in row[1:n_keys]) or axis_title(column)
        series.setdefault(name, {})[key_text(row[0])] = None if row[at] is None else float(row[at])
        intervals[(name, key_text(row[0]))] = _ci(table, row, at)
    return periods, series, intervals


def line_chart(table: Table) -> str:
    """Over time: one line per series (the second key, if any); hidden cells are gaps."""
    column = measure_column(table)
    periods, series, intervals = _series(table, column)
    if not periods:
        return ""
    weight = {name: sum(v for v in points.values() if v is not None) for name, points in series.items()}
    # Cohorts read in time order; other series by size, the largest first.
    names = sorted(series) if table.columns[0] in TIME_ORDERED else sorted(series, key=lambda n: (-weight[n], n))
    marks = [(v, intervals[(n, p)]) for n, points in series.items() for p, v in points.items() if v is not None]
    top = nice_top(max((v + ci for v, ci in marks), default=0.0))
    lowest = min((v - ci for v, ci in marks), default=0.0)  # a noisy sum can be negative: show it, never clip
    if column.startswith("share") and all(0.0 <= v <= 1.0 for v, _ in marks):
        top, lowest = min(top, 1.0), 0.0  # a share lies in 0..100 %: its interval is cut there (the table keeps ±)
    bottom_v = -nice_top(-lowest) if lowest < 0 else 0.0
    left, right, top_px, bottom = 84, 24, 28, 48
    plot_w, plot_h = WIDTH_PX - left - right, LINE_HEIGHT_PX - top_px - bottom
    step = plot_w / max(1, len(periods) - 1)
    xs = [left + (i * step if len(periods) > 1 else plot_w / 2) for i in range(len(periods))]

    def y(v: float) -> float:
        return top_px + plot_h * (top - v) / (top - bottom_v)

    parts = [
        f'<svg class="chart lines" viewBox="0 0 {WIDTH_PX} {LINE_HEIGHT_PX}" preserveAspectRatio="xMinYMin meet"'
        f' role="img" aria-label="{_e(table.title)} over time: {_e(axis_title(column))}">',
        f'<text class="axis-title" x="{left}" y="14">{_e(axis_title(column))}</text>',
    ]
    for tick in range(5):
        v = bottom_v + (top - bottom_v) * tick / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{WIDTH_PX - right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        parts.append(
            f'<text class="tick" x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{_e(_fmt(v, column))}</text>'
        )
    parts.append(f'<line class="axis" x1="{left}" x2="{WIDTH_PX - right}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>')
    for i, anchor in label_positions(xs, periods, 0, WIDTH_PX):
        parts.append(
            f'<text class="tick" x="{xs[i]:.1f}" y="{LINE_HEIGHT_PX - bottom + 18}" text-anchor="{anchor}">'
            f"{_e(periods[i])}</text>"
        )
    for s, name in enumerate(names):
        colour = f"c{s % PALETTE_SIZE}"
        runs: list[list[tuple[float, float]]] = [[]]
        for i, period in enumerate(periods):
            value = series[name].get(period)
            if value is None:  # hidden or absent: break the line
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((xs[i], y(value)))
            ci = intervals[(name, period)]
            tip = _e(_tip(f"{name}, {period}", value, ci, column))
            parts.append(
                f'<line class="errorbar {colour}" x1="{xs[i]:.1f}" x2="{xs[i]:.1f}" y1="{y(value - ci):.1f}"'
                f' y2="{y(min(value + ci, top)):.1f}"><title>{tip}</title></line>'
                f'<circle class="point {colour}" cx="{xs[i]:.1f}" cy="{y(value):.1f}" r="2.6">'
                f"<title>{tip}</title></circle>"
            )
        for run in (r for r in runs if len(r) > 1):
            points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
            parts.append(f'<polyline class="series {colour}" points="{points}"/>')
    parts.append(
        f'<text class="axis-title" x="{left}" y="{LINE_HEIGHT_PX - 6}">{X_TITLES[table.columns[0]]};'
        " bars: 95 % intervals;"
        f" gaps: {HIDDEN} rows</text></svg>"
    )
    return "".join(parts) + (_legend(names, series, table.k) if count_index(table) > 1 else "")


def _legend(names: list[str], series: dict[str, dict[str, float | None]], k: int) -> str:
    def entry(s: int, name: str) -> str:
        shown = any(v is not None for v in series[name].values())
        hidden = "" if shown else f' (<abbr title="{_e(hidden_why(k))}">{HIDDEN}</abbr>)'
        return f'<span><i class="c{s % PALETTE_SIZE}"></i>{_e(name)}{hidden}</span>'

    return f'<div class="legend">{"".join(entry(s, name) for s, name in enumerate(names))}</div>'


def chart_svg(table: Table) -> str:
    """The chart for one table: lines over time when the first key is a period, bars otherwise."""
    if not any(c in COUNT_COLUMNS for c in table.columns):
        return ""
    return line_chart(table) if table.columns[0] in X_TITLES else bar_chart(table)
