"""Retention: of the installations that started in a week (a cohort), the share active in each later week.

Post-processing of the ``retention`` releases (no privacy spent here). The release of week P holds,
per cohort of the 12 weeks up to P, its installations active in P (noisy, one count per
installation); a cohort's size is its own week's cell (every installation is active in the week
it starts). An installation starts in a week with a report after 4 weeks without one, and
belongs to the latest week it started in: one cohort, so it adds at most one to any cell.
A share is a released count over a released size, clamped to [0, 1], with its 95 % interval
by the delta method; a cohort whose size is hidden shows no shares.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._questions import Asker, answer_row, make_table, share
from ._release_plan import RETENTION_COHORTS, RETENTION_GUARD_WEEKS, SPEC_BY_NAME
from ._releases import Cell
from ._table import Table
from ._window import Window

READ_WEEKS = SPEC_BY_NAME["retention"].lookback_weeks + 1


def retention(asker: Asker, w: Window) -> Table:
    """Weekly cohorts: per cohort and weeks since it started, its active installations and their share."""
    found, notes = asker.releases(w, "retention", "week")
    if w.period != "week":
        notes.insert(0, "released per week only: answered by week")
    sizes: dict[dt.date, Cell] = {r.start: r.cells["installations"][0] for r in found}
    rows: list[tuple[Any, ...]] = []
    for release in found:
        for age, cell in enumerate(release.cells["installations"]):
            cohort = release.start - dt.timedelta(weeks=age)
            if cohort not in sizes:  # started before the window: its size is not among these releases
                continue
            size = sizes[cohort]
            if age == 0:
                of_cohort: tuple[float | None, float | None] = (1.0, 0.0)  # the size itself: all of it is active
            elif size.value >= asker.k:
                of_cohort = share(cell, size)
            else:
                of_cohort = (None, None)  # a share of a hidden size would be mostly noise
            rows.append(answer_row(asker, (age, cohort), cell, [of_cohort]))
    rows.sort(key=lambda r: (r[1], r[0]))
    notes.append(
        f"cohort: the week an installation started (a report after {RETENTION_GUARD_WEEKS} weeks without one, or"
        f" its first); each installation is in the latest cohort it started in, within {RETENTION_COHORTS} weeks;"
        " installations: the cohort's installations active in the week (at 0 weeks: the cohort's size)"
    )
    notes.append(
        "share_of_cohort: active installations over the cohort's size, both released counts, clamped to [0, 1];"
        f" each weekly release reads {READ_WEEKS} weeks of reports and is charged to each of those budget weeks"
    )
    return make_table(asker, "Retention by weekly cohort", ["weeks_since", "cohort"], ["share_of_cohort"], rows, notes)
