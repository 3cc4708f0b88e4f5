"""Contribution bounding in SQL: the only SQL of analysis that reads raw report rows.

It runs inside the release job (`run_releases`), in the process that owns the database, never
on an analysis surface (tests/test_surfaces.py enforces that). For one application and one
closed period, each function returns the exact bounded vector of a release, one entry per public
key, and the L2 sensitivity that bounding guarantees:

- one count per cell per installation (``count(DISTINCT inst_key)`` or one row per installation);
- at most the declared number of cells per table per installation (features: ``max_features``,
  chosen by a hash of installation and metric keys, not by any value);
- sums clamped per installation to the registry's ``release_bound`` (``least(sum, bound)``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from optin.contract import Kind, Registry, label_names

from ._noise import l2_bound
from ._release_plan import BREAKDOWN_SEP, LOSS_BOUND, RETENTION_COHORTS, RETENTION_GUARD_WEEKS, Spec, read_span

IN_PERIOD = "r.app_key = $app AND r.day BETWEEN $first AND $last"


@dataclass(frozen=True, slots=True)
class Bounded:
    """A release before noise: public keys, and per measure the exact vector and its L2 sensitivity."""

    keys: tuple[str, ...]
    parts: dict[str, tuple[list[int], int]]


def _vector(rows: Sequence[tuple[Any, ...]], size: int, column: int = 1) -> list[int]:
    """Rows of (key index 1..size, value...) as a dense vector; keys outside 1..size are dropped."""
    out = [0] * size
    for row in rows:
        if row[0] is not None and 1 <= int(row[0]) <= size:
            out[int(row[0]) - 1] = int(row[column] or 0)  # an empty sum is 0
    return out


class Bounding:
    """Bounded vectors of one application's releases, over one connection that can read raw rows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, registry: Registry) -> None:
        self.con = con
        self.registry = registry
        row = con.execute("SELECT app_key FROM apps WHERE name = ?", [registry.app]).fetchone()
        self.app_key = int(row[0]) if row else -1
        self.metric_keys = {
            str(name): int(key)
            for key, name in con.execute(
                "SELECT metric_key, name FROM metrics WHERE app_key = ?", [self.app_key]
            ).fetchall()
        }

    def first_day(self) -> dt.date | None:
        row = self.con.execute("SELECT min(day) FROM reports WHERE app_key = ?", [self.app_key]).fetchone()
        return row[0] if row and row[0] is not None else None

    def _rows(self, sql: str, first: dt.date, last: dt.date, **more: Any) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, {"app": self.app_key, "first": first, "last": last, **more}).fetchall()

    def bounded(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        return getattr(self, "_" + spec.source)(spec, first, last)  # type: ignore[no-any-return]

    def _active(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        rows = self._rows(f"SELECT 1, count(DISTINCT r.inst_key) FROM reports r WHERE {IN_PERIOD}", first, last)
        return Bounded(("",), {"installations": (_vector(rows, 1), 1)})

    def _retention(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        """Per cohort (weeks since it started, 0..11), its installations active in the week ``first``..``last``.

        Weeks are numbered 0..15 over the days read (``read_span``); an installation starts in a week
        with a report after RETENTION_GUARD_WEEKS weeks without one (or none read), and its cohort is
        the latest such week from week 4 on: one cohort, so one count in one cell at most.
        """
        span, _ = read_span(spec, first, last)
        top = spec.lookback_weeks
        sql = f"""WITH weeks AS (
                SELECT DISTINCT r.inst_key, (r.day - $first) // 7 AS w FROM reports r WHERE {IN_PERIOD}
            ), gaps AS (
                SELECT inst_key, w, w - lag(w) OVER (PARTITION BY inst_key ORDER BY w) AS gap FROM weeks
            ), per AS (
                SELECT max(w) FILTER (WHERE w >= $guard AND (gap IS NULL OR gap > $guard)) AS cohort, max(w) AS latest
                FROM gaps GROUP BY inst_key
            )
            SELECT $top - cohort + 1, count(*) FROM per WHERE latest = $top AND cohort IS NOT NULL GROUP BY cohort"""
        rows = self._rows(sql, span, last, guard=RETENTION_GUARD_WEEKS, top=top)
        keys = tuple(str(age) for age in range(RETENTION_COHORTS))
        return Bounded(keys, {"installations": (_vector(rows, len(keys)), 1)})

    def _enum(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        """Installations by the latest value each reported in the period: one cell per installation."""
        assert spec.metric is not None
        keys = label_names(self.registry.metrics[spec.metric])
        sql = f"""SELECT key, count(*) FROM (
                SELECT r.inst_key, arg_max(v.label_key, r.report_key) AS key
                FROM reports r JOIN report_values v ON v.report_key = r.report_key
                WHERE {IN_PERIOD} AND v.metric_key = $metric GROUP BY r.inst_key
            ) GROUP BY key"""
        rows = self._rows(sql, first, last, metric=self.metric_keys.get(spec.metric, -1))
        return Bounded(keys, {"installations": (_vector(rows, len(keys)), 1)})

    def _version(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        """Installations by the latest app version each ran; versions come from the registry's closed set."""
        keys = self.registry.app_versions
        sql = f"""SELECT v.version, count(*) FROM (
                SELECT r.inst_key, arg_max(r.version_key, r.report_key) AS version_key
                FROM reports r WHERE {IN_PERIOD} GROUP BY r.inst_key
            ) x JOIN app_versions v USING (version_key) GROUP BY v.version"""
        counts = dict(self._rows(sql, first, last))
        return Bounded(keys, {"installations": ([int(counts.get(k, 0)) for k in keys], 1)})

    def _features(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        """Per usage counter: installations that used it, and uses clamped per installation."""
        return self._feature_cells(first, last, ("",), "", {})

    def _breakdown(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        """Feature usage per value of one dimension: each installation counts in the cells of its latest value."""
        if spec.metric is None:  # by app version, from the registry's closed set
            versions = self.registry.app_versions
            dim = f"""SELECT x.inst_key, p.cell FROM (
                    SELECT r.inst_key, arg_max(r.version_key, r.report_key) AS version_key
                    FROM reports r WHERE {IN_PERIOD} GROUP BY r.inst_key
                ) x JOIN app_versions v USING (version_key)
                JOIN (SELECT unnest($versions) AS version, unnest($cells_of) AS cell) p ON p.version = v.version"""
            more = {"versions": list(versions), "cells_of": list(range(1, len(versions) + 1))}
            return self._feature_cells(first, last, versions, dim, more)
        dim = f"""SELECT r.inst_key, arg_max(v.label_key, r.report_key) AS cell
                FROM reports r JOIN report_values v ON v.report_key = r.report_key
                WHERE {IN_PERIOD} AND v.metric_key = $dim GROUP BY r.inst_key"""
        values = label_names(self.registry.metrics[spec.metric])
        return self._feature_cells(first, last, values, dim, {"dim": self.metric_keys.get(spec.metric, -1)})

    def _feature_cells(
        self, first: dt.date, last: dt.date, values: Sequence[str], dim: str, more: dict[str, Any]
    ) -> Bounded:
        """Installations and clamped uses per (value, usage counter); ``dim`` maps inst_key to a cell 1..len(values).

        Without ``dim`` there is one value. Each installation keeps at most ``max_features`` counters
        (chosen by a hash of installation and metric keys, not by any value) in the one cell of its value.
        """
        features = [m for m in self.registry.metrics.values() if m.kind is Kind.COUNTER and m.category == "usage"]
        cells = min(self.registry.max_features, len(features))
        known = [(i, m) for i, m in enumerate(features, start=1) if m.name in self.metric_keys]
        index = {self.metric_keys[m.name]: i for i, m in known}
        bounds = {self.metric_keys[m.name]: m.release_bound for _, m in known}
        by = f", dim AS ({dim})" if dim else ""
        cell, join = ("(d.cell - 1) * $n + f.position", "JOIN dim d USING (inst_key)") if dim else ("f.position", "")
        sql = f"""WITH feature_keys AS (
                SELECT unnest($keys) AS metric_key, unnest($positions) AS position, unnest($bounds) AS bound
            ), per_installation AS (
                SELECT r.inst_key, v.metric_key, sum(v.value) AS uses
                FROM reports r JOIN report_values v ON v.report_key = r.report_key
                WHERE {IN_PERIOD} AND v.metric_key IN (SELECT metric_key FROM feature_keys)
                GROUP BY ALL HAVING sum(v.value) > 0
            ), kept AS (
                SELECT *, row_number() OVER (PARTITION BY inst_key ORDER BY hash(inst_key, metric_key)) AS nth
                FROM per_installation
            ){by}
            SELECT {cell}, count(*), sum(least(k.uses, f.bound))
            FROM kept k JOIN feature_keys f USING (metric_key) {join} WHERE k.nth <= $cells GROUP BY 1"""
        keys = list(index)
        params = {
            "cells": cells,
            "keys": keys,
            "positions": [index[k] for k in keys],
            "bounds": [bounds[k] for k in keys],
        }
        if dim:
            params |= {"n": len(features), **more}
        rows = self._rows(sql, first, last, **params)
        top = max((m.release_bound for m in features), default=1)
        size = len(values) * len(features)
        names = [m.name for m in features]
        return Bounded(
            tuple(f"{v}{BREAKDOWN_SEP}{n}" if dim else n for v in values for n in names),
            {
                "installations": (_vector(rows, size), l2_bound(1, cells)),
                "uses": (_vector(rows, size, 2), l2_bound(top, cells)),
            },
        )

    def _usage(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        """Installations that used the app, and their seconds of use clamped per installation."""
        assert spec.metric is not None
        bound = self.registry.metrics[spec.metric].release_bound
        sql = f"""SELECT 1, count(*), sum(least(seconds, $bound)) FROM (
                SELECT r.inst_key, sum(v.value) AS seconds
                FROM reports r JOIN report_values v ON v.report_key = r.report_key
                WHERE {IN_PERIOD} AND v.metric_key = $metric GROUP BY r.inst_key HAVING sum(v.value) > 0
            )"""
        rows = self._rows(sql, first, last, metric=self.metric_keys.get(spec.metric, -1), bound=bound)
        return Bounded(("",), {"installations": (_vector(rows, 1), 1), "seconds": (_vector(rows, 1, 2), bound)})

    def _sessions(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        """Per session-length range: installations with such sessions, and sessions clamped per installation."""
        assert spec.metric is not None
        metric = self.registry.metrics[spec.metric]
        keys = label_names(metric)
        sql = f"""SELECT label_key, count(*), sum(least(sessions, $bound)) FROM (
                SELECT r.inst_key, v.label_key, sum(v.value) AS sessions
                FROM reports r JOIN report_values v ON v.report_key = r.report_key
                WHERE {IN_PERIOD} AND v.metric_key = $metric GROUP BY ALL HAVING sum(v.value) > 0
            ) GROUP BY label_key"""
        rows = self._rows(sql, first, last, metric=self.metric_keys.get(spec.metric, -1), bound=metric.release_bound)
        return Bounded(
            keys,
            {
                "installations": (_vector(rows, len(keys)), l2_bound(1, len(keys))),
                "sessions": (_vector(rows, len(keys), 2), l2_bound(metric.release_bound, len(keys))),
            },
        )

    def _losses(self, spec: Spec, first: dt.date, last: dt.date) -> Bounded:
        """Per client counter: installations that lost anything, and how much, clamped per installation."""
        keys = ("dropped", "evicted", "rejected")
        sql = f"""WITH per_installation AS (
                SELECT r.inst_key, sum(r.dropped) AS dropped, sum(r.evicted) AS evicted, sum(r.rejected) AS rejected
                FROM reports r WHERE {IN_PERIOD} GROUP BY r.inst_key
            )
            SELECT 1, count(*) FILTER (WHERE dropped > 0), sum(least(dropped, $bound)) FROM per_installation
            UNION ALL SELECT 2, count(*) FILTER (WHERE evicted > 0), sum(least(evicted, $bound)) FROM per_installation
            UNION ALL
            SELECT 3, count(*) FILTER (WHERE rejected > 0), sum(least(rejected, $bound)) FROM per_installation"""
        rows = [(k, n or 0, s or 0) for k, n, s in self._rows(sql, first, last, bound=LOSS_BOUND)]
        return Bounded(
            keys,
            {
                "installations": (_vector(rows, 3), l2_bound(1, 3)),
                "lost": (_vector(rows, 3, 2), l2_bound(LOSS_BOUND, 3)),
            },
        )
