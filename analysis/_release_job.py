"""The release job: every closed period's questions, bounded, noised once, stored, and charged to the ledger.

`run_releases(con, registries, budget, today)` is a plain function over a read-write DuckDB
connection. The process that owns the database calls it (the collector, on its maintenance
schedule; or `optin-analysis release --db` against a stopped collector's file). It makes every
release that is due: its period has closed and ``grace_days`` have passed for late reports. A
release is never recomputed or replaced (one row per app, question, period kind and start), so
asking again returns the same numbers. A release that would take any budget week it reads (its period's,
and retention's look-back) past ``budget`` is not made: the refusal is logged and recorded in ``release_refusals``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import duckdb

from optin.contract import SCHEMA_RELEASES, Registry

from ._noise import release
from ._release_plan import (
    DEFAULT_BUDGET_RHO,
    DEFAULT_GRACE_DAYS,
    PARTS,
    PERIOD_KINDS,
    Spec,
    budget_weeks,
    periods_between,
    read_span,
    release_rho,
    specs_for,
)
from ._release_sql import Bounding

log = logging.getLogger("optin.analysis")
RHO_SLACK = 1e-9  # relative: ρ sums of floats may differ from the budget in the last bits


@dataclass(frozen=True, slots=True)
class ReleaseRun:
    made: int
    refused: int
    more: bool = False  # stopped at ``limit``: call again for the rest


def latest_registries(registries: Mapping[tuple[str, int], Registry]) -> dict[str, Registry]:
    """Each application's newest registry: its closed sets and app versions are the released keys."""
    newest: dict[str, Registry] = {}
    for (app, version), registry in registries.items():
        if app not in newest or version > newest[app].version:
            newest[app] = registry
    return newest


def ensure_release_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in SCHEMA_RELEASES:
        con.execute(statement)


def run_releases(
    con: duckdb.DuckDBPyConnection,
    registries: Mapping[tuple[str, int], Registry],
    today: dt.date,
    budget: float = DEFAULT_BUDGET_RHO,
    grace_days: int = DEFAULT_GRACE_DAYS,
    on_refusal: Callable[[str, str, str, dt.date], None] | None = None,
    limit: int | None = None,
) -> ReleaseRun:
    """Make every due release (at most ``limit``), in the caller's transaction (the caller commits).

    A process that also ingests calls it with a limit, again while ``more``, so that other
    writes take turns between the calls.
    """
    if budget <= 0:
        raise ValueError("the privacy budget must be positive")
    ensure_release_tables(con)
    made = refused = 0
    for app, registry in sorted(latest_registries(registries).items()):
        bounding = Bounding(con, registry)
        first = bounding.first_day()
        if first is None:
            continue
        done = {
            (str(q), str(p), s)
            for q, p, s in con.execute(
                "SELECT question, period, period_start FROM releases WHERE app = ?"
                " UNION SELECT question, period, period_start FROM release_refusals WHERE app = ?",
                [app, app],
            ).fetchall()
        }
        last_closed = today - dt.timedelta(days=grace_days + 1)
        for kind in PERIOD_KINDS:
            for start, end in periods_between(first, last_closed, kind):
                if end > last_closed:
                    break
                for spec in specs_for(kind, set(registry.metrics)):
                    if (spec.name, kind, start) in done:
                        continue
                    if limit is not None and made + refused >= limit:
                        return ReleaseRun(made, refused, more=True)
                    if _release_one(con, bounding, spec, kind, start, end, budget, today):
                        made += 1
                    else:
                        refused += 1
                        if on_refusal is not None:
                            on_refusal(app, spec.name, kind, start)
    return ReleaseRun(made, refused)


def _release_one(
    con: duckdb.DuckDBPyConnection,
    bounding: Bounding,
    spec: Spec,
    kind: str,
    start: dt.date,
    end: dt.date,
    budget: float,
    today: dt.date,
) -> bool:
    app = bounding.registry.app
    rho = release_rho(spec, kind, budget)
    weeks = budget_weeks(*read_span(spec, start, end))  # history a release reads is charged too
    for week in weeks:
        row = con.execute(
            "SELECT coalesce(sum(rho), 0) FROM privacy_ledger WHERE app = ? AND budget_week = ?", [app, week]
        ).fetchone()
        spent = float(row[0]) if row else 0.0
        if spent + rho > budget * (1 + RHO_SLACK):
            con.execute(
                "INSERT INTO release_refusals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [app, spec.name, kind, start, rho, week, spent, budget, today],
            )
            log.warning(
                "release refused: it would exceed the privacy budget",
                extra={"event": "release_refused", "reason": f"{app} {spec.name} {kind} {start}"},
            )
            return False
    bounded = bounding.bounded(spec, start, end)
    row = con.execute("SELECT coalesce(max(release_id), 0) + 1 FROM releases").fetchone()
    release_id = int(row[0]) if row else 1
    cells: list[tuple[object, ...]] = []
    spent_total = 0.0
    for measure, share in PARTS[spec.source]:
        values, d_in = bounded.parts[measure]
        noisy, sd, spent = release(values, d_in, rho * share)
        spent_total += spent
        cells += [
            (release_id, i, key, measure, v, sd) for i, (key, v) in enumerate(zip(bounded.keys, noisy, strict=True))
        ]
    con.execute(
        "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [release_id, app, spec.name, kind, start, end, today, spent_total],
    )
    columns = [list(column) for column in zip(*cells, strict=True)]
    con.execute(
        "INSERT INTO release_cells SELECT unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), unnest($6)",
        columns,
    )
    con.execute("INSERT INTO privacy_ledger SELECT ?, unnest(?), ?, ?", [app, weeks, release_id, spent_total])
    return True
