"""A generated fleet with known answers, written straight into the collector's at-rest tables.

`generate` plans installations and their daily reports in plain Python; `write_database`
stores them with the contract's SCHEMA_V1 and value encoding, the way the collector does;
the `truth_*` functions compute every canned question's unsuppressed answer from the plan
alone (no SQL), so the analysis package can be checked against them.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from optin.contract import SCHEMA_V1, Registry, Value, encode_value, label_names

START = dt.date(2026, 3, 2)  # a Monday, so weeks and months both have cut and whole periods
VERSIONS = ("2025.1.4", "2025.2.1", "2025.3.0")
OS = {
    "windows": ("windows-10", "windows-11"),
    "macos": ("macos-14", "macos-15"),
    "linux": ("linux-kernel-6",),
    "other": ("other",),
}
FEATURES = (
    "sketch.line",
    "solid.extrude",
    "toolpath.pocket",
    "surface.patch",
    "toolpath.multiaxis",
    "post.run",
    "file.import",
)
RARE = {"surface.patch": 0.01, "toolpath.multiaxis": 0.08}  # few users: these rows get suppressed
REASONS = ("schema", "malformed", "too_large")
LANGUAGES = ("en", "de", "ja", "fr")  # by installation number, not drawn: the other draws stay as they were
SWITCH_DAY = 20  # every 7th installation switches its interface to German on this day


@dataclass
class Report:
    key: int
    inst: int
    app: str
    version: str
    day: dt.date
    dropped: int
    evicted: int
    rejected: int
    values: dict[str, Value] = field(default_factory=dict)


@dataclass
class Fleet:
    reports: list[Report]
    rejections: dict[tuple[dt.date, str], int]


def generate(seed: int, installations: int = 300, days: int = 45, other_app: int = 30) -> Fleet:
    rng = random.Random(seed)
    reports: list[Report] = []
    for inst in range(installations + other_app):
        app = "millwright" if inst < installations else "lathekit"
        family = rng.choices(list(OS), [0.73, 0.1, 0.15, 0.02])[0]  # "other" is small: its neighbour hides too
        os_version = rng.choice(OS[family])
        upgrade_day = rng.randrange(days) if os_version == "windows-10" and rng.random() < 0.3 else None
        cores = rng.choice([4, 8, 8, 16, 32])
        ram = rng.choice([8, 16, 16, 32, 64, 128])
        display = rng.choice(["full-hd", "full-hd", "qhd", "4k"])
        displays = rng.choice([1, 2, 2, 3])
        first_version = rng.randrange(len(VERSIONS))
        version_upgrade = rng.randrange(days) if rng.random() < 0.4 else None
        users = [f for f in FEATURES if rng.random() < RARE.get(f, 0.6)]
        activity = rng.random()
        for day in range(days):
            if rng.random() > activity:
                continue
            date = START + dt.timedelta(days=day)
            version_index = (
                len(VERSIONS) - 1 if version_upgrade is not None and day >= version_upgrade else first_version
            )
            for _ in range(rng.choice([1, 1, 1, 2])):  # some installations send twice a day
                values: dict[str, Value] = {
                    "system.os_family": family,
                    "system.os_version": "windows-11" if upgrade_day is not None and day >= upgrade_day else os_version,
                    "system.cpu_cores": cores,
                    "system.ram_gib": ram,
                    "system.display_class": display,
                    "system.displays": displays,
                    "session.usage_seconds": rng.choice([0, 600, 3600, 7200, 30000]),
                    "session.length": [rng.randint(0, 2) for _ in range(6)],
                    "system.language": "de" if inst % 7 == 0 and day >= SWITCH_DAY else LANGUAGES[inst % 4],
                }
                for feature in users:
                    if rng.random() < 0.5:
                        if feature == "post.run":
                            values[feature] = {"fanuc": rng.randint(1, 4), "haas": rng.randint(0, 2)}
                        elif feature == "file.import":
                            values[feature] = {"step": rng.randint(0, 3)}
                        else:
                            values[feature] = rng.randint(0, 20)
                losses = rng.random() < 0.05
                reports.append(
                    Report(
                        len(reports) + 1,
                        inst,
                        app,
                        VERSIONS[version_index],
                        date,
                        rng.randint(1, 5) if losses else 0,
                        int(losses and rng.random() < 0.5),
                        0,
                        values,
                    )
                )
    rng.shuffle(reports)  # arrival order is not installation order
    for key, report in enumerate(reports, 1):
        report.key = key
    rejections = {
        (START + dt.timedelta(days=d), reason): rng.choice([0, 1, 3, 12, 40]) for d in range(days) for reason in REASONS
    }
    return Fleet(reports, {k: v for k, v in rejections.items() if v})


def write_database(fleet: Fleet, registries: Iterable[Registry], path: Path) -> Path:
    """The at-rest tables as the collector writes them (SCHEMA_V1, encode_value)."""
    con = duckdb.connect(str(path))
    for statement in SCHEMA_V1:
        con.execute(statement)
    metric_keys: dict[tuple[str, str], int] = {}
    app_keys: dict[str, int] = {}
    metrics = []
    labels = []
    for registry in registries:
        app_keys[registry.app] = len(app_keys) + 1
        con.execute("INSERT INTO apps VALUES (?, ?)", [app_keys[registry.app], registry.app])
        for metric in registry.metrics.values():
            key = len(metric_keys) + 1
            metric_keys[(registry.app, metric.name)] = key
            metrics.append((key, app_keys[registry.app], metric.name, metric.kind.value, metric.category))
            labels += [(key, i + 1, label) for i, label in enumerate(label_names(metric))]
    by_name = {(r.app, m.name): m for r in registries for m in r.metrics.values()}
    _insert(con, "metrics", ["metric_key", "app_key", "name", "kind", "category"], metrics)
    _insert(con, "labels", ["metric_key", "label_key", "label"], labels)
    versions = {(app, v): i + 1 for i, (app, v) in enumerate(sorted({(r.app, r.version) for r in fleet.reports}))}
    _insert(
        con,
        "app_versions",
        ["version_key", "app_key", "version"],
        [(k, app_keys[a], v) for (a, v), k in versions.items()],
    )
    insts = sorted({r.inst for r in fleet.reports})
    _insert(con, "installations", ["inst_key", "installation_id"], [(i, str(uuid.UUID(int=i + 1))) for i in insts])
    rows = [
        (
            r.key,
            str(uuid.UUID(int=r.key)),
            r.inst,
            app_keys[r.app],
            versions[(r.app, r.version)],
            1,
            r.day,
            86400,
            r.dropped,
            r.evicted,
            r.rejected,
        )
        for r in fleet.reports
    ]
    _insert(
        con,
        "reports",
        [
            "report_key",
            "report_id",
            "inst_key",
            "app_key",
            "version_key",
            "registry_version",
            "day",
            "period_seconds",
            "dropped",
            "evicted",
            "rejected",
        ],
        rows,
    )
    values = [
        (r.key, metric_keys[(r.app, name)], label_key, count)
        for r in fleet.reports
        for name, value in r.values.items()
        for label_key, count in encode_value(by_name[(r.app, name)], value)
    ]
    _insert(con, "report_values", ["report_key", "metric_key", "label_key", "value"], values)
    _insert(
        con, "rejections", ["day", "reason", "count"], [(d, reason, n) for (d, reason), n in fleet.rejections.items()]
    )
    con.close()
    return path


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    arrow = pa.table({c: [row[i] for row in rows] for i, c in enumerate(columns)})
    con.register("incoming", arrow)
    con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM incoming")
    con.unregister("incoming")


def write_snapshot(db: Path, folder: Path) -> Path:
    """The collector's snapshot layout, made with DuckDB COPY (hive-partitioned by day)."""
    con = duckdb.connect(str(db), read_only=True)
    folder.mkdir(parents=True, exist_ok=True)
    for table in ("apps", "app_versions", "metrics", "labels", "rejections"):
        con.execute(f"COPY {table} TO '{folder / (table + '.parquet')}' (FORMAT parquet)")
    con.execute(f"COPY reports TO '{folder / 'reports'}' (FORMAT parquet, PARTITION_BY (day))")
    con.execute(
        f"COPY (SELECT v.*, r.day FROM report_values v JOIN reports r USING (report_key)) TO '{folder / 'report_values'}' (FORMAT parquet, PARTITION_BY (day))"
    )
    con.close()
    return folder


# --- the answers, computed from the plan in plain Python -------------------------------------

Period = Callable[[dt.date], dt.date]
PERIOD_START: dict[str, Period] = {
    "day": lambda d: d,
    "week": lambda d: d - dt.timedelta(days=d.weekday()),
    "month": lambda d: d.replace(day=1),
}
Counts = dict[tuple[Any, ...], int]  # cell keys -> distinct installations


@dataclass(frozen=True)
class Truth:
    """One question's unsuppressed answer: installations and measures per cell."""

    counts: Counts
    measures: dict[tuple[Any, ...], tuple[Any, ...]]
    partition_by: tuple[int, ...] | None  # key positions that group a partition; None: not a partition


def in_window(fleet: Fleet, app: str, first: dt.date, last: dt.date) -> list[Report]:
    return [r for r in fleet.reports if r.app == app and first <= r.day <= last]


def quantile_cont(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _total(value: Value) -> int:
    if isinstance(value, dict):
        return sum(value.values())
    if isinstance(value, list):
        return sum(value)
    return int(value)


def truth_features(reports: list[Report]) -> Truth:
    uses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in reports:
        for name in FEATURES:
            if name in r.values:
                uses[name][r.inst] += _total(r.values[name])
    counts: Counts = {}
    measures = {}
    for name, per in uses.items():
        used = [n for n in per.values() if n > 0]
        if used:
            counts[(name,)] = len(used)
            measures[(name,)] = (sum(used), statistics.median(used), quantile_cont([float(u) for u in used], 0.9))
    return Truth(counts, measures, None)


def _latest(reports: list[Report], value_of: Callable[[Report], Any], period: Period | None) -> Truth:
    latest: dict[tuple[Any, int], Report] = {}
    for r in reports:
        if value_of(r) is None:
            continue
        cell = (period(r.day) if period else None, r.inst)
        if cell not in latest or r.key > latest[cell].key:
            latest[cell] = r
    counts: Counts = defaultdict(int)
    for (p, _), r in latest.items():
        counts[((p,) if period else ()) + (str(value_of(r)),)] += 1
    totals: dict[Any, int] = defaultdict(int)
    for key, n in counts.items():
        totals[key[:-1]] += n
    measures = {key: (n / totals[key[:-1]],) for key, n in counts.items()}
    return Truth(dict(counts), measures, (0,) if period else ())


def _label(metric: str) -> Callable[[Report], Any]:
    def value_of(r: Report) -> Any:
        value = r.values.get(metric)
        return None if value is None else value

    return value_of


def truth_share(reports: list[Report], metric: str, period: str | None = None) -> Truth:
    return _latest(reports, _label(metric), PERIOD_START[period] if period else None)


def truth_versions(reports: list[Report], period: str | None = None) -> Truth:
    return _latest(reports, lambda r: r.version, PERIOD_START[period] if period else None)


def truth_active(reports: list[Report], period: str) -> Truth:
    seen: dict[dt.date, set[int]] = defaultdict(set)
    for r in reports:
        seen[PERIOD_START[period](r.day)].add(r.inst)
    return Truth({(p,): len(s) for p, s in seen.items()}, {(p,): () for p in seen}, None)


def truth_usage_time(reports: list[Report], period: str) -> Truth:
    seconds: dict[tuple[dt.date, int, dt.date], int] = defaultdict(int)
    for r in reports:
        seconds[(PERIOD_START[period](r.day), r.inst, r.day)] += int(r.values.get("session.usage_seconds", 0))  # type: ignore[arg-type]
    per_inst: dict[tuple[dt.date, int], list[float]] = defaultdict(list)
    for (p, inst, _), s in seconds.items():
        if s > 0:
            per_inst[(p, inst)].append(s / 3600)
    by_period: dict[dt.date, list[list[float]]] = defaultdict(list)
    for (p, _), hours in per_inst.items():
        by_period[p].append(hours)
    counts: Counts = {}
    measures = {}
    for p, insts in by_period.items():
        per_day = [sum(h) / len(h) for h in insts]
        counts[(p,)] = len(insts)
        measures[(p,)] = (
            sum(sum(h) for h in insts),
            statistics.mean(len(h) for h in insts),
            statistics.median(per_day),
            quantile_cont(per_day, 0.9),
        )
    return Truth(counts, measures, None)


def truth_session_lengths(reports: list[Report], registry: Registry) -> Truth:
    names = label_names(registry.metrics["session.length"])
    per: dict[tuple[str, int], int] = defaultdict(int)
    for r in reports:
        histogram = r.values.get("session.length")
        if isinstance(histogram, list):
            for i, n in enumerate(histogram):
                per[(names[i], r.inst)] += n
    counts: Counts = defaultdict(int)
    sessions: dict[tuple[Any, ...], int] = defaultdict(int)
    for (label, _), n in per.items():
        if n > 0:
            counts[(label,)] += 1
            sessions[(label,)] += n
    return Truth(dict(counts), {k: (sessions[k], sessions[k] / counts[k]) for k in counts}, None)


def truth_client_losses(reports: list[Report], period: str) -> Truth:
    per: dict[tuple[dt.date, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in reports:
        sums = per[(PERIOD_START[period](r.day), r.inst)]
        sums[0] += r.dropped
        sums[1] += r.evicted
        sums[2] += r.rejected
    active: dict[dt.date, int] = defaultdict(int)
    for p, _ in per:
        active[p] += 1
    counts: Counts = {}
    measures = {}
    for i, counter in enumerate(("dropped", "evicted", "rejected")):
        for p in active:
            lost = [s[i] for (q, _), s in per.items() if q == p and s[i] > 0]
            counts[(p, counter)] = len(lost)
            measures[(p, counter)] = (sum(lost), len(lost) / active[p])
    return Truth(counts, measures, None)


def truth_rejections(fleet: Fleet, first: dt.date, last: dt.date, period: str) -> Truth:
    sums: Counts = defaultdict(int)
    for (day, reason), n in fleet.rejections.items():
        if first <= day <= last:
            sums[(PERIOD_START[period](day), reason)] += n
    return Truth(dict(sums), {k: () for k in sums}, None)


def expected_hidden(truth: Truth, k: int) -> set[tuple[Any, ...]]:
    """Cells a careful reader must not see: under k, plus what a partition's total would reveal."""
    hidden = {cell for cell, n in truth.counts.items() if n < k}
    if truth.partition_by is None:
        return hidden
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for cell in truth.counts:
        groups[tuple(cell[i] for i in truth.partition_by)].append(cell)
    for cells in groups.values():
        gone = [c for c in cells if c in hidden]
        if not gone:
            continue
        rest = sorted((c for c in cells if c not in hidden), key=lambda c: (truth.counts[c], str(c)))
        while rest and (len(gone) < 2 or sum(truth.counts[c] for c in gone) < k):
            gone.append(rest.pop(0))
        hidden |= set(gone)
    return hidden


# --- released vectors, bounded as the release job must bound them, from the plan alone ---------


def bounded_truth(
    fleet: Fleet, registry: Registry, app: str, source: str, metric: str | None, first: dt.date, last: dt.date
) -> dict[str, list[int]]:
    """The exact vector of each measure of a release (before noise), computed in plain Python.

    One count per cell per installation; sums clamped per installation to the registry's
    release_bound (client losses to 10). The fleet's installations use fewer features than
    ``max_features``, so no feature is dropped by the cap.
    """
    if source == "retention":
        from .cohorts import retention_truth

        return retention_truth(fleet, app, first)
    reports = sorted(in_window(fleet, app, first, last), key=lambda r: r.key)
    if source == "active":
        return {"installations": [len({r.inst for r in reports})]}
    if source in ("enum", "version"):
        latest: dict[int, str] = {}
        for r in reports:  # in arrival order: the last one wins
            if source == "version":
                latest[r.inst] = r.version
            elif metric in r.values:
                latest[r.inst] = str(r.values[metric])
        keys = registry.app_versions if source == "version" else label_names(registry.metrics[str(metric)])
        return {"installations": [sum(1 for v in latest.values() if v == k) for k in keys]}
    per: dict[tuple[int, str], int] = defaultdict(int)
    if source == "breakdown":
        return _breakdown_truth(reports, registry, metric)
    if source == "features":
        names = [m.name for m in registry.metrics.values() if m.kind.value == "counter" and m.category == "usage"]
        for r in reports:
            for name in names:
                if name in r.values:
                    per[(r.inst, name)] += _total(r.values[name])
        return _counted(per, names, {n: registry.metrics[n].release_bound for n in names}, "uses")
    if source == "usage":
        bound = registry.metrics[str(metric)].release_bound
        for r in reports:
            per[(r.inst, "")] += int(r.values.get(str(metric), 0))  # type: ignore[arg-type]
        return _counted(per, [""], {"": bound}, "seconds")
    if source == "sessions":
        names = list(label_names(registry.metrics[str(metric)]))
        for r in reports:
            histogram = r.values.get(str(metric))
            if isinstance(histogram, list):
                for i, n in enumerate(histogram):
                    per[(r.inst, names[i])] += n
        return _counted(per, names, dict.fromkeys(names, registry.metrics[str(metric)].release_bound), "sessions")
    names = ["dropped", "evicted", "rejected"]
    for r in reports:
        for name, value in zip(names, (r.dropped, r.evicted, r.rejected), strict=True):
            per[(r.inst, name)] += value
    return _counted(per, names, dict.fromkeys(names, 10), "lost")


def _counted(
    per: dict[tuple[int, str], int], names: list[str], bounds: dict[str, int], measure: str
) -> dict[str, list[int]]:
    users = [sum(1 for (_, n), v in per.items() if n == name and v > 0) for name in names]
    sums = [sum(min(v, bounds[name]) for (_, n), v in per.items() if n == name and v > 0) for name in names]
    return {"installations": users, measure: sums}


def usage_counters(registry: Registry) -> list[str]:
    return [m.name for m in registry.metrics.values() if m.kind.value == "counter" and m.category == "usage"]


def latest_value(reports: list[Report], metric: str | None) -> dict[int, str]:
    """Each installation's latest value of ``metric`` (None: its app version) in ``reports``, by arrival."""
    latest: dict[int, str] = {}
    for r in sorted(reports, key=lambda r: r.key):
        if metric is None:
            latest[r.inst] = r.version
        elif metric in r.values:
            latest[r.inst] = str(r.values[metric])
    return latest


def _breakdown_truth(reports: list[Report], registry: Registry, metric: str | None) -> dict[str, list[int]]:
    """Per (value, usage counter): installations whose latest value it is that used the counter, and clamped uses."""
    names = usage_counters(registry)
    values = registry.app_versions if metric is None else label_names(registry.metrics[metric])
    latest = latest_value(reports, metric)
    per: dict[tuple[int, str], int] = defaultdict(int)
    for r in reports:
        if r.inst in latest:
            for name in names:
                if name in r.values:
                    per[(r.inst, f"{latest[r.inst]}|{name}")] += _total(r.values[name])
    keys = [f"{v}|{n}" for v in values for n in names]
    return _counted(per, keys, {k: registry.metrics[k.split("|")[1]].release_bound for k in keys}, "uses")
