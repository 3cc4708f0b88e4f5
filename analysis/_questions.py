"""Canned questions, answered from releases only (post-processing: no privacy cost, no raw row).

A window is answered as the released periods it holds (of the window's period kind): trends
show every one, the other questions the latest. Counts are the released noisy integers; shares
and per-installation figures are computed from noisy numbers; every number has its 95 %
interval; a row whose noisy count is under k is hidden (no number shown).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._noise import Z95, half_width
from ._releases import Cell, Released, ReleaseReader, cost_note
from ._table import DEFAULT_K, HIDDEN, Table, with_intervals
from ._window import Window

SECONDS_PER_HOUR = 3600.0


class Asker:
    """Questions over one reader with one display threshold."""

    def __init__(self, reader: ReleaseReader, k: int = DEFAULT_K) -> None:
        if k < DEFAULT_K:
            raise ValueError(f"k must be at least {DEFAULT_K}")
        self.reader = reader
        self.k = k

    def releases(self, w: Window, question: str, kind: str | None = None) -> tuple[list[Released], list[str]]:
        """The releases of ``question`` inside the window, and notes saying which periods they are."""
        kind = kind or w.period
        notes = []
        if kind == "day" and question != "active":
            kind = "week"
            notes.append("released per week and month only: answered by week")
        found = self.reader.released(w.app, question, kind, w.first_day, w.last_day)
        if found:
            first, last = found[0], found[-1]
            aligned = first.start == w.first_day and last.end == w.last_day
            span = f"{first.start} to {last.end}"
            notes.append(
                f"covers {len(found)} released {kind}(s), {span}"
                + ("" if aligned else f" (the released periods inside {w.first_day} to {w.last_day})")
            )
        else:
            notes.append(f"no released {kind} lies inside {w.first_day} to {w.last_day}; open periods are not shown")
        notes.append(cost_note(found))
        return found, notes


def _interval(value: float, sd: float) -> float:
    return Z95 * sd


def ratio(num: Cell | tuple[float, float], den: Cell) -> tuple[float | None, float | None]:
    """num / den with a 95 % interval by the delta method; None when the denominator is not positive."""
    value, sd = (num.value, num.sd) if isinstance(num, Cell) else num
    if den.value <= 0:
        return None, None
    ratio = value / den.value
    return ratio, Z95 * math.sqrt(sd**2 + (ratio * den.sd) ** 2) / den.value


def share(part: Cell | tuple[float, float], whole: Cell) -> tuple[float | None, float | None]:
    """A part's share of its whole (in truth between 0 and 1): `ratio`, clamped to [0, 1].

    Post-processing of released values (no privacy cost): two noisy counts of a small fleet can put a
    feature's installations above the active ones (the demo showed 128.8 % of active installations).
    The interval is the ratio's, unclamped, so it still says how noisy the share is.
    """
    value, ci = ratio(part, whole)
    return (None, None) if value is None else (min(1.0, max(0.0, value)), ci)


def rate(amount: Cell | tuple[float, float], per: Cell) -> tuple[float | None, float | None]:
    """Uses, hours or sessions per installation (in truth at least 0): `ratio`, clamped below at 0 (post-processing)."""
    value, ci = ratio(amount, per)
    return (None, None) if value is None else (max(0.0, value), ci)


def noisy_total(cells: list[Cell]) -> Cell:
    """The sum of released counts for a share's denominator, a count below zero taken as zero.

    Post-processing of released values (no privacy cost): a small cell's noise can be negative, and
    a sum that subtracts it put the largest row above 100 % (the demo showed 102 %).
    """
    return Cell("", sum(max(c.value, 0) for c in cells), math.sqrt(sum(c.sd**2 for c in cells)))


def answer_row(
    asker: Asker, keys: tuple[Any, ...], count: Cell, measures: list[tuple[float | None, float | None]]
) -> tuple[Any, ...]:
    if count.value < asker.k:
        return (*keys, None, None, *(None for _ in measures for _ in (0, 1)))
    out: list[Any] = [*keys, count.value, half_width(count.sd)]
    for value, ci in measures:
        out += [value, ci]
    return tuple(out)


def make_table(
    asker: Asker,
    title: str,
    keys: list[str],
    measures: list[str],
    rows: list[tuple[Any, ...]],
    notes: list[str],
    chart: str = "",
) -> Table:
    n_keys = len(keys)
    hidden = sum(1 for r in rows if r[n_keys] is None)
    columns = with_intervals(keys, ["installations", *measures])
    return Table(title, columns, rows, asker.k, hidden, tuple(notes), chart)


def _active_of(asker: Asker, w: Window, kind: str) -> dict[Any, Cell]:
    return {
        r.start: r.cells["installations"][0]
        for r in asker.reader.released(w.app, "active", kind, w.first_day, w.last_day)
    }


def _shares(asker: Asker, w: Window, question: str, title: str, column: str, trend: bool) -> Table:
    found, notes = asker.releases(w, question)
    if not trend:
        found = found[-1:]
    rows = []
    for release in found:
        cells = release.cells["installations"]
        total = noisy_total(cells)
        for cell in sorted(cells, key=lambda c: -c.value):
            keys = (release.start, cell.key) if trend else (cell.key,)
            rows.append(answer_row(asker, keys, cell, [share(cell, total)]))
    if not trend and found:
        notes.insert(0, f"the latest released {found[0].period}: {found[0].start} to {found[0].end}")
    notes.append("share: of the installations counted in the table (noisy counts over their sum, each at least zero)")
    names = ["period", column] if trend else [column]
    return make_table(
        asker, f"{title} by {found[0].period if found else w.period}" if trend else title, names, ["share"], rows, notes
    )


def share_question(question: str, title: str, column: str, trend: bool) -> Callable[[Asker, Window], Table]:
    def ask(asker: Asker, w: Window) -> Table:
        return _shares(asker, w, question, title, column, trend)

    ask.__doc__ = f"{title}{' over time' if trend else ''}: installations by the latest value each reported."
    return ask


def feature_usage(asker: Asker, w: Window) -> Table:
    """The relative value of functionalities: share of active installations using each feature, ranked."""
    found, notes = asker.releases(w, "features")
    found = found[-1:]
    active = _active_of(asker, w, found[0].period) if found else {}
    rows = []
    for release in found:
        users, uses = release.cells["installations"], release.cells["uses"]
        total = _shown(asker, active.get(release.start))
        order = sorted(range(len(users)), key=lambda i: (-users[i].value, users[i].key))
        for i in order:
            of_active = share(users[i], total) if total else (None, None)
            per_active = rate(uses[i], total) if total else (None, None)
            rows.append(answer_row(asker, (users[i].key,), users[i], [of_active, per_active]))
        notes.insert(
            0,
            f"active installations: {_fmt_count(asker, active[release.start])}"
            if release.start in active
            else "active installations: not released",
        )
        notes.insert(0, f"the latest released {release.period}: {release.start} to {release.end}")
    notes.append("uses are clamped per installation and period to the registry's release_bound before noise")
    notes.append(
        "share_of_active is shown within [0, 100 %] and uses_per_active at least 0 (each ± the unclamped interval)"
    )
    return make_table(asker, "Feature usage", ["feature"], ["share_of_active", "uses_per_active"], rows, notes)


def _shown(asker: Asker, total: Cell | None) -> Cell | None:
    """A denominator, if it is shown: a share of a hidden total would be mostly noise (840 % of a count near 0)."""
    return total if total is not None and total.value >= asker.k else None


def _fmt_count(asker: Asker, cell: Cell) -> str:
    return HIDDEN if cell.value < asker.k else f"{cell.value} ± {half_width(cell.sd)}"


def active(kind: str) -> Callable[[Asker, Window], Table]:
    def ask(asker: Asker, w: Window) -> Table:
        found, notes = asker.releases(w, "active", kind)
        rows = [answer_row(asker, (r.start,), r.cells["installations"][0], []) for r in found]
        return make_table(asker, f"Active installations per {kind}", ["period"], [], rows, notes)

    ask.__doc__ = f"Distinct installations that reported, per released {kind}."
    return ask


def usage_time(asker: Asker, w: Window) -> Table:
    """Per period: installations that used the app, hours of use, hours per such installation."""
    found, notes = asker.releases(w, "usage-time")
    rows = []
    for release in found:
        users, seconds = release.cells["installations"][0], release.cells["seconds"][0]
        hours = (seconds.value / SECONDS_PER_HOUR, seconds.sd / SECONDS_PER_HOUR)
        per = rate(hours, users)
        rows.append(answer_row(asker, (release.start,), users, [(hours[0], Z95 * hours[1]), per]))
    notes.append("seconds are clamped per installation and period to the registry's release_bound before noise")
    return make_table(
        asker,
        f"Usage time by {found[0].period if found else w.period}",
        ["period"],
        ["hours", "hours_per_installation"],
        rows,
        notes,
        chart="hours",  # what a product team asks of usage time: hours, not how many used it
    )


def session_lengths(asker: Asker, w: Window) -> Table:
    """Sessions by length range: installations with such sessions, sessions, sessions per installation."""
    found, notes = asker.releases(w, "session-lengths")
    found = found[-1:]
    rows = []
    for release in found:
        notes.insert(0, f"the latest released {release.period}: {release.start} to {release.end}")
        for users, sessions in zip(release.cells["installations"], release.cells["sessions"], strict=True):
            rows.append(
                answer_row(
                    asker, (users.key,), users, [(sessions.value, _interval(0, sessions.sd)), rate(sessions, users)]
                )
            )
    return make_table(asker, "Session lengths", ["length"], ["sessions", "sessions_per_installation"], rows, notes)


def client_losses(asker: Asker, w: Window) -> Table:
    """Per period and client counter: installations that lost anything, how much, and their share."""
    found, notes = asker.releases(w, "client-losses")
    active = _active_of(asker, w, found[0].period) if found else {}
    rows = []
    for release in found:
        total = _shown(asker, active.get(release.start))
        for users, lost in zip(release.cells["installations"], release.cells["lost"], strict=True):
            of_active = share(users, total) if total else (None, None)
            rows.append(
                answer_row(asker, (release.start, users.key), users, [(lost.value, _interval(0, lost.sd)), of_active])
            )
    notes.append(
        "dropped: recording calls refused or over limits; evicted: queued reports discarded when the queue was"
        " full; rejected: reports the collector refused. Losses are clamped per installation and period"
    )
    return make_table(
        asker,
        f"Client-side losses by {found[0].period if found else w.period}",
        ["period", "counter"],
        ["lost", "share_of_active"],
        rows,
        notes,
    )


Question = Callable[[Asker, Window], Table]
