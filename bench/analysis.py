#!/usr/bin/env python3
"""bench/analysis.py: the release job and its queries against hand-written DuckDB SQL (SPEC §6).

    python bench/analysis.py [--reports 1000000] [--repeats 15]

Generates (once, cached under bench/out/) a collector database of at least a million reports
(25,000 installations reporting daily) with DuckDB's range(), then, in one run:

1. per released question, the bounded SQL the release job runs for one week (contribution
   bounding included) against a hand-written query an analyst would write for the same exact
   numbers; interleaved repeats after a warm-up run, the ratio of the best times (the medians'
   ratio is printed too, as a noise gauge). Target: <= 1.2x.
   Retention is measured for the last whole week (its look-back reads every week before it).
2. the release job itself: the time to release one closed week of 25,000 installations (its
   7 days and the week, every question, noise from OpenDP, ledger), on a copy of the database.
3. each breakdown of feature usage (features-by-*): the time to bound one week (its SQL) and to
   noise it (OpenDP), the two steps of its release.
4. answering every canned question from the releases (what analysts run; breakdowns, adoption and
   comparisons are post-processing of releases), for reference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from optin.analysis import QUESTIONS, LocalSource, Window, open_database, run_releases
from optin.analysis._noise import release
from optin.analysis._release_plan import DIMENSIONS, PARTS, SPECS, read_span, release_rho
from optin.analysis._release_sql import Bounding
from optin.contract import SCHEMA_V1, Registry, bundled_registry, label_names

OUT = Path(__file__).resolve().parent / "out"
INSTALLATIONS = 25_000
START = dt.date(2026, 1, 5)
FACTS = (
    "system.os_family",
    "system.os_version",
    "system.cpu_cores",
    "system.ram_gib",
    "system.display_class",
    "system.displays",
)


def generate(path: Path, reports: int) -> None:
    """A fleet of INSTALLATIONS reporting once a day until `reports` reports exist (about 18 values each)."""
    registry = bundled_registry("millwright")
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    for statement in SCHEMA_V1:
        con.execute(statement)
    con.execute("INSERT INTO apps VALUES (1, 'millwright')")
    con.execute("INSERT INTO app_versions VALUES (1, 1, '2025.1.4'), (2, 1, '2025.2.1'), (3, 1, '2025.3.0')")
    metrics = list(registry.metrics.values())
    con.executemany(
        "INSERT INTO metrics VALUES (?, 1, ?, ?, ?)",
        [(i + 1, m.name, m.kind.value, m.category) for i, m in enumerate(metrics)],
    )
    con.executemany(
        "INSERT INTO labels VALUES (?, ?, ?)",
        [(i + 1, j + 1, label) for i, m in enumerate(metrics) for j, label in enumerate(label_names(m))],
    )
    key = {m.name: i + 1 for i, m in enumerate(metrics)}
    con.execute(f"INSERT INTO installations SELECT i, gen_random_uuid() FROM range({INSTALLATIONS}) t(i)")
    # Each installation reports once a day; versions move up over time, a few clients lose data.
    con.execute(f"""
        INSERT INTO reports
        SELECT i, gen_random_uuid(), i % {INSTALLATIONS}, 1,
               least(3, 1 + (hash(i % {INSTALLATIONS}) % 3) + (i // {INSTALLATIONS}) // 20), 1,
               DATE '{START}' + CAST(i // {INSTALLATIONS} AS INTEGER), 86400,
               CASE WHEN hash(i, 1) % 50 = 0 THEN 1 + hash(i, 2) % 5 ELSE 0 END,
               CASE WHEN hash(i, 3) % 400 = 0 THEN 1 ELSE 0 END, 0
        FROM range({reports}) t(i)
    """)
    facts = ", ".join(f"({key[name]}, {len(label_names(registry.metrics[name]))})" for name in FACTS)
    # System facts: a function of the installation (a few upgrade their OS version half way).
    con.execute(f"""
        INSERT INTO report_values
        SELECT r.report_key, f.metric_key,
               CAST(1 + (hash(r.inst_key, f.metric_key, CASE WHEN r.day > DATE '{START}' + 20 AND r.inst_key % 7 = 0 THEN 1 ELSE 0 END) % least(f.n, 4)) AS SMALLINT), 1
        FROM reports r, (VALUES {facts}) f(metric_key, n)
    """)
    usage = [key[m.name] for m in metrics if m.kind.value == "counter" and m.category == "usage" and not m.labels]
    # About ten feature counters per report; installations use features with skewed popularity.
    con.execute(f"""
        INSERT INTO report_values
        SELECT r.report_key, u.metric_key, 0, 1 + hash(r.report_key, u.metric_key) % 20
        FROM reports r, (SELECT unnest({usage}) AS metric_key) u
        WHERE hash(r.inst_key, u.metric_key) % 100 < 100 - 2 * (u.metric_key % 45)
          AND hash(r.report_key, u.metric_key) % 3 = 0
    """)
    con.execute(f"""
        INSERT INTO report_values
        SELECT report_key, {key["session.usage_seconds"]}, 0, 600 * (1 + hash(report_key, 9) % 48) FROM reports
        UNION ALL
        SELECT report_key, {key["session.length"]}, CAST(1 + hash(report_key, 8) % 6 AS SMALLINT), 1 + hash(report_key, 7) % 3 FROM reports
    """)
    con.execute(
        f"INSERT INTO rejections SELECT DATE '{START}' + CAST(d AS INTEGER), reason, 1 + hash(d, reason) % 40 FROM range(60) t(d), (VALUES ('schema'), ('malformed'), ('too_large')) x(reason)"
    )
    con.execute("CHECKPOINT")
    con.close()
    tmp.rename(path)


# What an analyst would write by hand for the same exact numbers of one week (app and metric
# keys looked up inline, labels and versions named after aggregating).
METRIC = "(SELECT metric_key FROM metrics WHERE name = '{0}')"
RANGE = "r.app_key = 1 AND r.day BETWEEN $first AND $last"


def latest(metric: str) -> str:
    return f"""
        SELECT label_key, count(*) FROM (
            SELECT r.inst_key, arg_max(v.label_key, r.report_key) AS label_key
            FROM reports r JOIN report_values v USING (report_key)
            WHERE {RANGE} AND v.metric_key = {METRIC.format(metric)} GROUP BY r.inst_key)
        GROUP BY label_key"""


FEATURE_USES = f"""
    SELECT *, row_number() OVER (PARTITION BY inst_key ORDER BY hash(inst_key, metric_key)) AS nth FROM (
        SELECT r.inst_key, v.metric_key, sum(v.value) AS uses
        FROM reports r JOIN report_values v USING (report_key)
        WHERE {RANGE}
          AND v.metric_key IN (SELECT metric_key FROM metrics WHERE kind = 'counter' AND category = 'usage')
        GROUP BY ALL HAVING sum(v.value) > 0)"""


def breakdown(metric: str | None) -> str:
    """Feature usage per value of a dimension: each installation under its latest value, as by hand."""
    value = (
        f"SELECT r.inst_key, arg_max(r.version_key, r.report_key) AS cell FROM reports r WHERE {RANGE} GROUP BY ALL"
        if metric is None
        else f"""SELECT r.inst_key, arg_max(v.label_key, r.report_key) AS cell
            FROM reports r JOIN report_values v USING (report_key)
            WHERE {RANGE} AND v.metric_key = {METRIC.format(metric)} GROUP BY r.inst_key"""
    )
    return f"""
        SELECT d.cell, u.metric_key, count(*), sum(least(u.uses, 25))
        FROM ({FEATURE_USES}) u JOIN ({value}) d USING (inst_key) WHERE u.nth <= 16 GROUP BY ALL"""


HAND: dict[str, str] = {
    "active": f"SELECT count(DISTINCT r.inst_key) FROM reports r WHERE {RANGE}",
    "os": latest("system.os_family"),
    "os-version": latest("system.os_version"),
    "versions": f"""
        SELECT av.version, count(*)
        FROM (SELECT r.inst_key, arg_max(r.version_key, r.report_key) AS version_key
              FROM reports r WHERE {RANGE} GROUP BY r.inst_key) x
        JOIN app_versions av USING (version_key) GROUP BY av.version""",
    "cpu-cores": latest("system.cpu_cores"),
    "ram": latest("system.ram_gib"),
    "display": latest("system.display_class"),
    "displays": latest("system.displays"),
    "features": f"""
        SELECT metric_key, count(*), sum(least(uses, 25)) FROM (
            SELECT *, row_number() OVER (PARTITION BY inst_key ORDER BY hash(inst_key, metric_key)) AS nth FROM (
                SELECT r.inst_key, v.metric_key, sum(v.value) AS uses
                FROM reports r JOIN report_values v USING (report_key)
                WHERE {RANGE}
                  AND v.metric_key IN (SELECT metric_key FROM metrics WHERE kind = 'counter' AND category = 'usage')
                GROUP BY ALL HAVING sum(v.value) > 0))
        WHERE nth <= 16 GROUP BY metric_key""",
    "usage-time": f"""
        SELECT count(*), sum(least(s, 288000)) FROM (
            SELECT r.inst_key, sum(v.value) AS s FROM reports r JOIN report_values v USING (report_key)
            WHERE {RANGE} AND v.metric_key = {METRIC.format("session.usage_seconds")}
            GROUP BY r.inst_key HAVING sum(v.value) > 0)""",
    "session-lengths": f"""
        SELECT label_key, count(*), sum(least(s, 25)) FROM (
            SELECT r.inst_key, v.label_key, sum(v.value) AS s FROM reports r JOIN report_values v USING (report_key)
            WHERE {RANGE} AND v.metric_key = {METRIC.format("session.length")} GROUP BY ALL HAVING sum(v.value) > 0)
        GROUP BY label_key""",
    "language": latest("system.language"),
    **{f"features-by-{name}": breakdown(metric) for name, (_, metric, _) in DIMENSIONS.items()},
    "client-losses": f"""
        SELECT count(*) FILTER (WHERE d > 0), sum(least(d, 10)), count(*) FILTER (WHERE e > 0), sum(least(e, 10)),
               count(*) FILTER (WHERE j > 0), sum(least(j, 10))
        FROM (SELECT inst_key, sum(dropped) AS d, sum(evicted) AS e, sum(rejected) AS j
              FROM reports r WHERE {RANGE} GROUP BY ALL)""",
    # Weeks 0..15 from $first (the look-back's first Monday); a start is a week after 4 quiet ones.
    "retention": f"""
        SELECT 16 - cohort, count(*) FROM (
            SELECT max(w) FILTER (WHERE w >= 4 AND (previous IS NULL OR w - previous > 4)) AS cohort, max(w) AS latest
            FROM (SELECT inst_key, w, lag(w) OVER (PARTITION BY inst_key ORDER BY w) AS previous
                  FROM (SELECT DISTINCT inst_key, (day - $first) // 7 AS w FROM reports r WHERE {RANGE}))
            GROUP BY inst_key)
        WHERE latest = 15 AND cohort IS NOT NULL GROUP BY cohort""",
}


def timed(work: object) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - started


def release_one_week(db: Path, week: dt.date, registries: dict[tuple[str, int], Registry]) -> tuple[float, int]:
    """Seconds to release the first closed week (its days and the week) on a fresh copy of ``db``."""
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        copy = Path(folder) / "copy.duckdb"
        shutil.copyfile(db, copy)
        con = duckdb.connect(str(copy))
        today = week + dt.timedelta(days=7 + 3)  # the week has closed and its grace has passed
        started = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        run = run_releases(con, registries, today)
        con.execute("COMMIT")
        elapsed = time.perf_counter() - started
        con.close()
    return elapsed, run.made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", nargs="*", help="release names (default: all)")
    args = parser.parse_args()
    assert set(HAND) == {s.name for s in SPECS}, "every released question needs its hand-written SQL"
    OUT.mkdir(exist_ok=True)
    db = OUT / f"analysis-{args.reports}.duckdb"
    if not db.exists():
        print(f"generating {args.reports:,} reports into {db} ...", file=sys.stderr)
        started = time.perf_counter()
        generate(db, args.reports)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    registry = bundled_registry("millwright")
    registries = {(registry.app, registry.version): registry}
    con = open_database(db)
    by_name = {s.name: s for s in SPECS}
    n_reports, n_values, first, last = con.execute(
        "SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM report_values), min(day), max(day) FROM reports"
    ).fetchone()  # type: ignore[misc]
    week = first - dt.timedelta(days=first.weekday())
    params = {"first": week, "last": week + dt.timedelta(days=6)}
    last_week = last - dt.timedelta(days=last.weekday() + (0 if last.weekday() == 6 else 7))
    # Per release: the period its job SQL is given, and the parameters of the hand-written SQL.
    periods = {name: (week, params["last"], params) for name in HAND}
    span = read_span(by_name["retention"], last_week, last_week + dt.timedelta(days=6))
    periods["retention"] = (last_week, span[1], {"first": span[0], "last": span[1]})
    print(f"{n_reports:,} reports, {n_values:,} values, {first} to {last}; one week: {week} (best of {args.repeats})\n")
    bounding = Bounding(con, registry)
    print(f"{'release SQL':22} {'job ms':>9} {'hand SQL ms':>12} {'ratio':>7} {'median ratio':>14}")
    ratios = []
    for name in args.only or list(HAND):
        spec = by_name[name]
        start, end, given = periods[name]
        ours, hand = [], []
        bounding.bounded(spec, start, end)  # warm both: the first run pays for loading column segments
        con.execute(HAND[name], given).fetchall()
        for _ in range(args.repeats):
            ours.append(timed(lambda spec=spec, start=start, end=end: bounding.bounded(spec, start, end)))
            hand.append(timed(lambda name=name, given=given: con.execute(HAND[name], given).fetchall()))
        a, b = min(ours), min(hand)
        ratios.append(a / b)
        spread = statistics.median(ours) / statistics.median(hand)
        print(f"{name:22} {a * 1000:9.1f} {b * 1000:12.1f} {a / b:6.2f}x {spread:13.2f}x", flush=True)
    print(f"\nworst {max(ratios):.2f}x, geometric mean {statistics.geometric_mean(ratios):.2f}x (target <= 1.2x)\n")
    print(f"{'breakdown release':26} {'bound ms':>9} {'noise ms':>9} {'cells':>6}")
    for spec in (s for s in SPECS if s.source == "breakdown"):
        bounded = bounding.bounded(spec, week, params["last"])
        bound_s = min(timed(lambda spec=spec: bounding.bounded(spec, week, params["last"])) for _ in range(3))
        rho = release_rho(spec, "week", 0.5)
        parts = [(bounded.parts[m], rho * share) for m, share in PARTS[spec.source]]
        noise_s = min(timed(lambda parts=parts: [release(v, d, r) for (v, d), r in parts]) for _ in range(3))
        print(f"{spec.name:26} {bound_s * 1000:9.1f} {noise_s * 1000:9.1f} {len(bounded.keys):6d}", flush=True)
    con.close()
    release_one_week(db, week, registries)  # warm: OpenDP calibrates each noise scale once per process
    seconds, made = release_one_week(db, week, registries)
    print(
        f"release job: one closed week of {INSTALLATIONS:,} installations ({made} releases: its days and the week)"
        f" in {seconds:.2f} s"
    )
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        copy = Path(folder) / "released.duckdb"
        shutil.copyfile(db, copy)
        rw = duckdb.connect(str(copy))
        rw.execute("BEGIN TRANSACTION")
        run_releases(rw, registries, week + dt.timedelta(days=10))
        rw.execute("COMMIT")
        rw.close()
        source = LocalSource(open_database(copy))
        window = Window("millwright", week, week + dt.timedelta(days=6), "week")
        answer = min(timed(lambda: [source.ask(q, window) for q in QUESTIONS]) for _ in range(3))
        source.close()
    print(f"answering all {len(QUESTIONS)} canned questions from the releases: {answer * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
