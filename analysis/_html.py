"""A self-contained HTML page: the offline report and the collector's dashboard share this layout.

Every chart is inline SVG (``_charts``), so the page works offline: no script, font, stylesheet or
image is loaded from anywhere (the favicon is an empty data URL, so browsers do not even ask for
one). The one stylesheet is inline and named by its hash in PAGE_CSP, the dashboard's Content
Security Policy; nothing else on the page needs a style (colours are classes, never attributes).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from typing import Final

from ._charts import PALETTE, chart_svg
from ._compare import BEYOND
from ._render import row_cells, shown_columns
from ._table import HIDDEN, Table, hidden_why

_CSS: Final = (
    """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}
main{max-width:1180px;margin:0 auto;padding:16px 28px 40px}
nav{margin:8px 0 16px;display:flex;flex-wrap:wrap;gap:4px 16px}nav a{color:#1d3557}
form.filters{display:flex;flex-wrap:wrap;gap:10px 18px;align-items:end;background:#fff;border:1px solid #dde1e6;
border-radius:6px;padding:12px 18px;margin:0 0 12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#58616b;gap:2px}
form.filters select,form.filters input,form.filters button{font:inherit;padding:3px 6px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:14px 18px;margin:0 0 18px}
section h2{margin:0 0 6px;font-size:17px}.note{color:#58616b;margin:2px 0}
svg.chart{display:block;margin:10px 0;width:100%;height:auto}
svg.chart text{font:12px system-ui,sans-serif;fill:#1d232a}svg.chart .axis-title{fill:#58616b}
svg.chart .axis{stroke:#b8bfc7}svg.chart .grid{stroke:#eceff2}svg.chart .hidden{fill:#8a939c;font-style:italic}
svg.chart .errorbar{stroke:#1d232a;stroke-width:1.5}svg.chart .series{fill:none;stroke-width:2}
table.data{border-collapse:collapse;margin-top:8px;font-variant-numeric:tabular-nums}
table.data th,table.data td{padding:3px 10px;border-bottom:1px solid #eceff2;text-align:right}
table.data th:first-child,table.data td:first-child{text-align:left}td.suppressed{color:#8a939c}
details summary{cursor:pointer;color:#1d3557}.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""
    + "".join(
        f".c{i}{{fill:{c};stroke:{c}}}.legend i.c{i}{{background:{c}}}svg.chart .errorbar.c{i}{{stroke:{c}}}"
        for i, c in enumerate(PALETTE)
    )
    + "svg.chart rect.bar{stroke:none}\n"
)
# The dashboard's Content Security Policy: nothing loads from anywhere; the one inline stylesheet by its hash.
PAGE_CSP: Final = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_CSS.encode("utf-8")).digest()).decode("ascii")
    + "'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{_e(table.columns[i])}</th>" for i in shown_columns(table))
    body = []
    for row in table.rows:
        values = [row[i] for i in shown_columns(table)]
        why = _e(hidden_why(table.k))
        cells = "".join(
            f'<td class="suppressed" title="{why}">{_e(text)}</td>' if v is None else f"<td>{_e(text)}</td>"
            for v, text in zip(values, row_cells(table, row), strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _anchor(i: int) -> str:
    return f"q{i}"


def render_html(tables: Sequence[Table], title: str, form: str = "") -> str:
    """One self-contained page: a chart and the table behind it for each answer, in the order given.

    ``form`` is the dashboard's filter form (already HTML); the offline report has none.
    """
    k = max((t.k for t in tables), default=10)
    nav = "".join(f'<a href="#{_anchor(i)}">{_e(t.title)}</a>' for i, t in enumerate(tables))
    sections = []
    for i, table in enumerate(tables):
        notes = "".join(f'<p class="note">{_e(n)}</p>' for n in table.notes)
        if table.suppressed:
            notes += f'<p class="note">{table.suppressed} row(s) {_e(hidden_why(table.k))}.</p>'
        chart = (
            chart_svg(table)
            if table.rows
            else '<p class="note">Nothing to draw: no released period in this window, or every row hidden.</p>'
        )
        opened = " open" if BEYOND in table.columns else ""  # a comparison: its two periods side by side, shown
        sections.append(
            f'<section id="{_anchor(i)}"><h2>{_e(table.title)}</h2>{notes}{chart}'
            f"<details{opened}><summary>Table</summary>{_table_html(table)}</details></section>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Differentially private releases of closed periods: every number is noisy "
        f"and shown with its 95 % interval; rows whose noisy count is under k = {k} read \u201c{HIDDEN}\u201d."
        " Each table states the periods it covers and their privacy cost.</p></header>"
        f"<main>{form}<nav>{nav}</nav>{''.join(sections)}</main></body></html>\n"
    )
