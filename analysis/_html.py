"""A self-contained HTML report: every chart is inline SVG drawn here, so the page works offline.

No script, font, stylesheet or image is loaded from anywhere (the favicon is an empty data URL,
so browsers do not even ask for one). Charts are drawn only from a table's shown numbers, each
with an error bar and a tooltip giving its 95 % interval; rows under the display threshold leave
a gap and say "fewer than k", so the page shows exactly what the table shows.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from typing import Any, Final

from ._render import fewer_than, format_value, row_cells, shown_columns
from ._table import COUNT_COLUMNS, Table, is_interval

WIDTH_PX: Final = 720
BAR_HEIGHT_PX: Final = 18
LINE_HEIGHT_PX: Final = 260
LABEL_WIDTH_PX: Final = 190
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
)

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}
main{max-width:1100px;margin:0 auto;padding:16px 28px 40px}
nav{margin:8px 0 16px}nav a{margin-right:14px;color:#1d3557}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:14px 18px;margin:0 0 18px}
section h2{margin:0 0 6px;font-size:17px}.note{color:#58616b;margin:2px 0}
svg.chart{display:block;margin:10px 0;max-width:100%;height:auto}
svg.chart text{font:12px system-ui,sans-serif;fill:#1d232a}
svg.chart .axis{stroke:#b8bfc7}svg.chart .grid{stroke:#eceff2}svg.chart .hidden{fill:#8a939c;font-style:italic}
table.data{border-collapse:collapse;margin-top:8px;font-variant-numeric:tabular-nums}
table.data th,table.data td{padding:3px 10px;border-bottom:1px solid #eceff2;text-align:right}
table.data th:first-child,table.data td:first-child{text-align:left}td.suppressed{color:#8a939c}
details summary{cursor:pointer;color:#1d3557}.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _key(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _count_index(table: Table) -> int:
    """Where the keys end: the column that counts installations (or, for rejections, reports)."""
    return next(i for i, c in enumerate(table.columns) if c in COUNT_COLUMNS)


def _measure_column(table: Table) -> str:
    """What a chart shows: a share where the table has one, otherwise the count."""
    for column in table.columns:
        if column.startswith("share"):
            return column
    return table.columns[_count_index(table)]


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


def _label_positions(n: int, most: int = 8) -> list[int]:
    """Which of n periods get an axis label: evenly spaced, always the last, never crowded."""
    step = max(1, math.ceil(n / most))
    chosen = list(range(0, n, step))
    if chosen[-1] != n - 1:
        if n - 1 - chosen[-1] < step / 2 and len(chosen) > 1:
            chosen[-1] = n - 1
        else:
            chosen.append(n - 1)
    return chosen


def _nice_top(value: float) -> float:
    """The axis maximum: ``value`` rounded up to a round multiple of a power of ten."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(
        m * power for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0) if m * power >= value * (1 - 1e-9)
    )


def _bar_chart(table: Table) -> str:
    """Horizontal bars, one per row; suppressed rows keep their label and say so."""
    n_keys = _count_index(table)
    column = _measure_column(table)
    at = table.columns.index(column)
    rows = [(" / ".join(_key(v) for v in row[:n_keys]), row[at], _ci(table, row, at)) for row in table.rows]
    if not rows:
        return ""
    top = max((float(v) + ci for _, v, ci in rows if v is not None), default=0.0) or 1.0
    plot = WIDTH_PX - LABEL_WIDTH_PX - 70
    height = BAR_HEIGHT_PX * len(rows) + 24
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {WIDTH_PX} {height}" width="{WIDTH_PX}" height="{height}"'
        f' role="img" aria-label="{_e(table.title)}: {_e(column)}">'
    ]
    for i, (label, value, ci) in enumerate(rows):
        y = 4 + i * BAR_HEIGHT_PX
        parts.append(f'<text x="{LABEL_WIDTH_PX - 6}" y="{y + 13}" text-anchor="end">{_e(label[:28])}</text>')
        if value is None:
            parts.append(
                f'<text class="hidden" x="{LABEL_WIDTH_PX + 4}" y="{y + 13}">'
                f"{_e(fewer_than(table.k))} installations</text>"
            )
            continue
        w = max(1.0, plot * max(0.0, float(value)) / top)
        colour = PALETTE[0]
        tip = _e(_tip(label, float(value), ci, column))
        parts.append(
            f'<rect class="bar" x="{LABEL_WIDTH_PX}" y="{y + 2}" width="{w:.1f}" height="{BAR_HEIGHT_PX - 5}"'
            f' fill="{colour}"><title>{tip}</title></rect>'
        )
        low = LABEL_WIDTH_PX + plot * max(0.0, float(value) - ci) / top
        high = LABEL_WIDTH_PX + plot * (max(0.0, float(value)) + ci) / top
        parts.append(
            f'<line class="errorbar" x1="{low:.1f}" x2="{high:.1f}" y1="{y + 8:.1f}" y2="{y + 8:.1f}"'
            f' stroke="#1d232a" stroke-width="1.5"><title>{tip}</title></line>'
        )
        parts.append(f'<text x="{high + 5:.1f}" y="{y + 13}">{_e(_fmt(float(value), column))}</text>')
    axis_y = 4 + len(rows) * BAR_HEIGHT_PX
    parts.append(f'<line class="axis" x1="{LABEL_WIDTH_PX}" y1="2" x2="{LABEL_WIDTH_PX}" y2="{axis_y}"/>')
    parts.append(f'<text x="{LABEL_WIDTH_PX}" y="{axis_y + 16}" class="hidden">{_e(column)}</text></svg>')
    return "".join(parts)


def _line_chart(table: Table) -> str:
    """Over time: one line per series (the second key, if any); suppressed cells are gaps."""
    n_keys = _count_index(table)
    column = _measure_column(table)
    at = table.columns.index(column)
    periods = sorted({_key(row[0]) for row in table.rows})
    if not periods:
        return ""
    series: dict[str, dict[str, float | None]] = {}
    intervals: dict[tuple[str, str], float] = {}
    for row in table.rows:
        name = " / ".join(_key(v) for v in row[1:n_keys]) or column
        series.setdefault(name, {})[_key(row[0])] = None if row[at] is None else float(row[at])
        intervals[(name, _key(row[0]))] = _ci(table, row, at)
    weight = {name: sum(v for v in points.values() if v is not None) for name, points in series.items()}
    names = sorted(series, key=lambda n: (-weight[n], n))
    top = _nice_top(
        max(
            (v + intervals[(n, p)] for n, points in series.items() for p, v in points.items() if v is not None),
            default=0.0,
        )
    )
    left, right, top_px, bottom = 64, 16, 12, 46
    plot_w, plot_h = WIDTH_PX - left - right, LINE_HEIGHT_PX - top_px - bottom
    step = plot_w / max(1, len(periods) - 1)

    def x(i: int) -> float:
        return left + (i * step if len(periods) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_px + plot_h * (1 - max(0.0, v) / top)

    parts = [
        f'<svg class="chart lines" viewBox="0 0 {WIDTH_PX} {LINE_HEIGHT_PX}" width="{WIDTH_PX}"'
        f' height="{LINE_HEIGHT_PX}" role="img" aria-label="{_e(table.title)} over time: {_e(column)}">'
    ]
    for tick in range(5):
        v = top * tick / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{WIDTH_PX - right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_e(_fmt(v, column))}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{WIDTH_PX - right}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>')
    for i in _label_positions(len(periods)):
        anchor = "end" if i == len(periods) - 1 and len(periods) > 1 else "middle"
        parts.append(
            f'<text x="{x(i):.1f}" y="{LINE_HEIGHT_PX - bottom + 16}" text-anchor="{anchor}">{_e(periods[i])}</text>'
        )
    for s, name in enumerate(names):
        colour = PALETTE[s % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for i, period in enumerate(periods):
            value = series[name].get(period)
            if value is None:  # suppressed or absent: break the line
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((x(i), y(value)))
            ci = intervals[(name, period)]
            tip = _e(_tip(f"{name}, {period}", value, ci, column))
            parts.append(
                f'<line class="errorbar" x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(value - ci):.1f}"'
                f' y2="{y(value + ci):.1f}" stroke="{colour}" stroke-width="1"><title>{tip}</title></line>'
            )
            parts.append(
                f'<circle class="point" cx="{x(i):.1f}" cy="{y(value):.1f}" r="2.6" fill="{colour}">'
                f"<title>{tip}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                parts.append(
                    f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
                )
    parts.append(
        f'<text x="{left}" y="{LINE_HEIGHT_PX - 6}" class="hidden">{_e(column)} per period, bars: 95 % intervals;'
        f" gaps: {_e(fewer_than(table.k))} installations</text></svg>"
    )

    def entry(s: int, name: str) -> str:
        shown = any(v is not None for v in series[name].values())
        hidden = "" if shown else f" ({fewer_than(table.k)})"
        return f'<span><i style="background:{PALETTE[s % len(PALETTE)]}"></i>{_e(name)}{hidden}</span>'

    legend = "".join(entry(s, name) for s, name in enumerate(names))
    return "".join(parts) + (f'<div class="legend">{legend}</div>' if n_keys > 1 else "")


def chart_svg(table: Table) -> str:
    """The chart for one table: lines over time when the first key is a period, bars otherwise."""
    if not any(c in COUNT_COLUMNS for c in table.columns):
        return ""
    return _line_chart(table) if table.columns[0] == "period" else _bar_chart(table)


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{_e(table.columns[i])}</th>" for i in shown_columns(table))
    body = []
    for row in table.rows:
        values = [row[i] for i in shown_columns(table)]
        cells = "".join(
            f'<td class="suppressed">{_e(text)}</td>' if v is None else f"<td>{_e(text)}</td>"
            for v, text in zip(values, row_cells(table, row), strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _anchor(i: int) -> str:
    return f"q{i}"


def render_html(tables: Sequence[Table], title: str) -> str:
    """One self-contained page: a chart and the table behind it for each answer."""
    k = max((t.k for t in tables), default=10)
    nav = "".join(f'<a href="#{_anchor(i)}">{_e(t.title)}</a>' for i, t in enumerate(tables))
    sections = []
    for i, table in enumerate(tables):
        notes = "".join(f'<p class="note">{_e(n)}</p>' for n in table.notes)
        if table.suppressed:
            notes += (
                f'<p class="note">{table.suppressed} row(s) with {fewer_than(table.k)} installations:'
                " numbers not shown.</p>"
            )
        chart = chart_svg(table) if table.rows else '<p class="note">No released period in this window.</p>'
        sections.append(
            f'<section id="{_anchor(i)}"><h2>{_e(table.title)}</h2>{notes}{chart}'
            f"<details><summary>Table</summary>{_table_html(table)}</details></section>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Differentially private releases of closed periods: every number is noisy "
        f"and shown with its 95 % interval; rows of {_e(fewer_than(k))} installations are not shown.</p></header>"
        f"<main><nav>{nav}</nav>{''.join(sections)}</main></body></html>\n"
    )
