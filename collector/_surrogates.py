"""Surrogate keys: the loader's caches of the integer keys that stand for apps, versions, installations, metrics.

Only the loader writes the database, so it hands keys out itself (no index, no lookup per
row). The caches are read from the database at start and after a rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa

from ._records import MetricInfo


class Keys:
    def __init__(self) -> None:
        self.apps: dict[str, int] = {}
        self.versions: dict[tuple[int, str], int] = {}
        self.installations: dict[str, int] = {}
        self.metrics: dict[tuple[int, str], int] = {}
        self.labels: set[tuple[int, int]] = set()
        self.last_installation = 0
        self.last_version = 0
        self.last_report = 0

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        self.apps = {name: key for key, name in con.execute("SELECT app_key, name FROM apps").fetchall()}
        self.versions = {
            (a, v): k for k, a, v in con.execute("SELECT version_key, app_key, version FROM app_versions").fetchall()
        }
        self.last_version = max(self.versions.values(), default=0)
        installations = con.sql(
            "SELECT inst_key, CAST(installation_id AS VARCHAR) AS id FROM installations"
        ).to_arrow_table()
        self.installations = dict(
            zip(installations["id"].to_pylist(), installations["inst_key"].to_pylist(), strict=True)
        )
        (last_installation,) = con.execute("SELECT coalesce(max(inst_key), 0) FROM installations").fetchall()[0]
        self.last_installation = int(last_installation)
        self.metrics = {
            (a, n): k for k, a, n in con.execute("SELECT metric_key, app_key, name FROM metrics").fetchall()
        }
        self.labels = {(k, i) for k, i in con.execute("SELECT metric_key, label_key FROM labels").fetchall()}
        (last_report,) = con.execute("SELECT coalesce(max(report_key), 0) FROM reports").fetchall()[0]
        self.last_report = int(last_report)  # (fetchall: no result left open on the connection)

    def register(self, con: duckdb.DuckDBPyConnection, infos: Iterable[MetricInfo]) -> None:
        """Give every app, metric and label of ``infos`` a key (new ones only), inside the caller's transaction.

        One insert per table (a statement per row cost about a second for a registry's first start).
        """
        apps: list[tuple[int, str]] = []
        metrics: list[tuple[int, int, str, str, str]] = []
        labels: list[tuple[int, int, str]] = []
        for info in infos:
            if info.app not in self.apps:
                self.apps[info.app] = max(self.apps.values(), default=0) + 1
                apps.append((self.apps[info.app], info.app))
            app_key = self.apps[info.app]
            if (app_key, info.name) not in self.metrics:
                key = max(self.metrics.values(), default=0) + 1
                self.metrics[(app_key, info.name)] = key
                metrics.append((key, app_key, info.name, info.kind, info.category))
            metric_key = self.metrics[(app_key, info.name)]
            for index, label in enumerate(info.labels, start=1):
                if (metric_key, index) not in self.labels:  # only new ones: a restart runs no statement here
                    labels.append((metric_key, index, label))
                    self.labels.add((metric_key, index))
        new: list[tuple[str, list[tuple[int | str, ...]], str]] = [
            ("apps", list(apps), ""),
            ("metrics", list(metrics), ""),
            ("labels", list(labels), " ON CONFLICT DO NOTHING"),
        ]
        for table, rows, conflict in new:
            if rows:
                columns = zip(*rows, strict=True)
                con.register("_new", pa.table({f"c{i}": pa.array(column) for i, column in enumerate(columns)}))
                try:
                    con.execute(f"INSERT INTO {table} SELECT * FROM _new{conflict}")
                finally:
                    con.unregister("_new")

    def ordinal_keys(self, infos: list[MetricInfo]) -> pa.Array:
        """A segment's checker ordinal → metric_key, as an Arrow array to take() from."""
        return pa.array([self.metrics[(self.apps[i.app], i.name)] for i in infos], pa.int32())

    def installation(self, installation_id: str, new: list[tuple[int, str]]) -> int:
        key = self.installations.get(installation_id)
        if key is None:
            self.last_installation += 1
            key = self.installations[installation_id] = self.last_installation
            new.append((key, installation_id))
        return key

    def version(self, app_key: int, version: str, new: list[tuple[int, int, str]]) -> int:
        key = self.versions.get((app_key, version))
        if key is None:
            self.last_version += 1
            key = self.versions[(app_key, version)] = self.last_version
            new.append((key, app_key, version))
        return key

    def next_reports(self, count: int) -> int:
        """Hand out ``count`` report keys in a row; returns the first."""
        first = self.last_report + 1
        self.last_report += count
        return first
