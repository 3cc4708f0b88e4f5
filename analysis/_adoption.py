"""App version adoption as release curves: per version, days since it was first seen against its share.

Post-processing of the ``versions`` releases (installations per app version, each installation
under the latest version it ran in the period): no privacy spent. A version is first seen in
the first released period of the window whose noisy count reaches k (the day of its first
report is a fact about single installations, so it is never released); its curve is its share
of the installations counted in each period from then on, and its time to 50 % is the first
such period whose share reaches 50 %.
"""

from __future__ import annotations

from typing import Any

from ._questions import Asker, answer_row, make_table, noisy_total, share
from ._table import Table
from ._window import Window

HALF: float = 0.5


def adoption(asker: Asker, w: Window) -> Table:
    """Release curves: per app version, days since first seen (in a released period) against its share."""
    found, notes = asker.releases(w, "versions")
    first_seen: dict[str, Any] = {}
    reached: dict[str, tuple[int, float, float]] = {}
    rows: list[tuple[Any, ...]] = []
    for release in found:
        cells = release.cells["installations"]
        total = noisy_total(cells)
        for cell in cells:
            if cell.key not in first_seen:
                if cell.value < asker.k:
                    continue
                first_seen[cell.key] = release.start
            days = (release.start - first_seen[cell.key]).days
            of_all, ci = share(cell, total)
            if cell.value >= asker.k and of_all is not None and of_all >= HALF and cell.key not in reached:
                reached[cell.key] = (days, of_all, ci or 0.0)
            rows.append(answer_row(asker, (days, cell.key), cell, [(of_all, ci)]))
    rows.sort(key=lambda r: (r[0], r[1]))
    for version, start in first_seen.items():
        if version in reached:
            days, half, ci = reached[version]
            notes.insert(0, f"{version}: first seen in the period from {start}; 50 % after {days} days"
                         f" (share {half * 100:.1f} % ± {ci * 100:.1f})")  # fmt: skip
        else:
            notes.insert(0, f"{version}: first seen in the period from {start}; 50 % not reached in this window")
    notes.append(
        "days since first seen: from the first released period in which the version's noisy count reaches"
        f" k = {asker.k}; share: of the installations counted in the period"
        " (noisy counts over their sum, each at least zero)"
    )
    title = "App version adoption: release curves"
    return make_table(asker, title, ["days_since_first", "version"], ["share"], rows, notes)
