"""Feature usage broken down by one declared dimension (OS family, app version, CPU cores, RAM, display, language).

Post-processing of two releases of the same closed period: ``features-by-<dimension>`` (per value
and usage counter, installations that used it and their clamped uses; each installation in the
cells of its latest value only) and the dimension's own table (active installations per value),
which is the denominator. No privacy is spent here.
"""

from __future__ import annotations

from collections.abc import Callable

from ._questions import Asker, answer_row, make_table, rate, share
from ._release_plan import BREAKDOWN_SEP, DIMENSIONS
from ._releases import Cell
from ._table import HIDDEN, Table
from ._window import Window


def _active_per_value(asker: Asker, w: Window, base: str, period: str, start: object) -> dict[str, Cell]:
    for release in asker.reader.released(w.app, base, period, w.first_day, w.last_day):
        if release.start == start:
            return {c.key: c for c in release.cells["installations"]}
    return {}


def breakdown(dimension: str) -> Callable[[Asker, Window], Table]:
    title, _, base = DIMENSIONS[dimension]
    column = dimension

    def ask(asker: Asker, w: Window) -> Table:
        found, notes = asker.releases(w, f"features-by-{dimension}")
        found = found[-1:]
        rows = []
        for release in found:
            active = _active_per_value(asker, w, base, release.period, release.start)
            users, uses = release.cells["installations"], release.cells["uses"]
            cells: list[tuple[str, str, Cell, Cell]] = []
            for u, s in zip(users, uses, strict=True):
                value, feature = u.key.split(BREAKDOWN_SEP, 1)
                cells.append((value, feature, u, s))
            weight: dict[str, int] = {}
            for _, feature, u, _ in cells:
                weight[feature] = weight.get(feature, 0) + u.value
            shown = [v for v, c in active.items() if c.value >= asker.k]
            left_out = [v for v in dict.fromkeys(value for value, *_ in cells) if v not in shown]
            for value, feature, u, s in sorted(
                (c for c in cells if c[0] in shown), key=lambda c: (-weight[c[1]], c[1], shown.index(c[0]))
            ):
                total = active[value]
                rows.append(answer_row(asker, (feature, value), u, [share(u, total), rate(s, total)]))
            notes.insert(0, f"the latest released {release.period}: {release.start} to {release.end}")
            counts = ", ".join(f"{v} {active[v].value}" for v in shown) or "none shown"
            hidden = f"; {HIDDEN} (under k, left out): {', '.join(left_out)}" if left_out else ""
            notes.append(f"active installations per value: {counts}{hidden}")
        notes.append(
            f"each installation counts under its latest {title} in the period; uses are clamped per installation"
            " to the registry's release_bound before noise; share: of the value's active installations,"
            " within [0, 100 %]"
        )
        return make_table(
            asker, f"Feature usage by {title}", ["feature", column], ["share_of_active", "uses_per_active"], rows, notes
        )

    ask.__doc__ = f"Feature usage by {title}: per feature and value, share of the value's active installations."
    return ask


BREAKDOWNS: dict[str, Callable[[Asker, Window], Table]] = {
    f"features-by-{name}": breakdown(name) for name in DIMENSIONS
}
