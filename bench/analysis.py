#!/usr/bin/env python3
"""bench/analysis.py: every canned question against the equivalent hand-written DuckDB SQL (SPEC §6).

    python bench/analysis.py [--reports 1000000] [--repeats 5]

Generates (once, cached under bench/out/) a collector database of at least a million reports
with DuckDB's range(), then, in one run on the same read-only connection, times each question
through the gateway (SQL, suppression, Python post-processing) and a hand-written query that an
analyst would write for the same numbers, unsuppressed. Interleaved repeats after a warm-up run;
the ratio of the best times (the medians' ratio is printed too, as a noise gauge). Target: <= 1.2x.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import duckdb

from optin.analysis import QUESTIONS, Gateway, Window, open_database
from optin.contract import SCHEMA_V1, bundled_registry, label_names

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


# What an analyst would write by hand for the same numbers in the same order (no suppression;
# app and metric keys looked up inline).
WEEK = "CAST(date_trunc('week', r.day) AS DATE)"
METRIC = "(SELECT metric_key FROM metrics WHERE name = '{0}')"
RANGE = "r.app_key = 1 AND r.day BETWEEN $first AND $last"


def latest(metric: str, period: str | None) -> str:
    per = f"{WEEK} AS period, " if period else ""
    group = "period, " if period else ""
    return f"""
        SELECT {group} l.label, count(*), count(*) / sum(count(*)) OVER ({"PARTITION BY period" if period else ""})
        FROM (SELECT {per} r.inst_key, arg_max(v.label_key, r.report_key) AS label_key
              FROM reports r JOIN report_values v USING (report_key)
              WHERE {RANGE} AND v.metric_key = {METRIC.format(metric)} GROUP BY ALL) x
        JOIN labels l ON l.metric_key = {METRIC.format(metric)} AND l.label_key = x.label_key
        GROUP BY {group} l.label ORDER BY {group} 3 DESC, l.label"""


def version(period: str | None) -> str:
    per = f"{WEEK} AS period, " if period else ""
    group = "period, " if period else ""
    return f"""
        SELECT {group} av.version, count(*), count(*) / sum(count(*)) OVER ({"PARTITION BY period" if period else ""})
        FROM (SELECT {per} r.inst_key, arg_max(r.version_key, r.report_key) AS version_key FROM reports r WHERE {RANGE} GROUP BY ALL) x
        JOIN app_versions av USING (version_key) GROUP BY {group} av.version ORDER BY {group} 3 DESC, av.version"""


HAND: dict[str, str] = {
    "features": f"""
        WITH active AS (SELECT count(DISTINCT inst_key) AS n FROM reports r WHERE {RANGE}),
        per AS (SELECT v.metric_key, r.inst_key, sum(v.value) AS uses FROM reports r JOIN report_values v USING (report_key)
                WHERE {RANGE} AND v.metric_key IN (SELECT metric_key FROM metrics WHERE kind = 'counter' AND category = 'usage')
                GROUP BY ALL HAVING sum(v.value) > 0)
        SELECT m.name, count(*), count(*) / any_value(a.n), sum(uses) / any_value(a.n), median(uses), quantile_cont(uses, 0.9)
        FROM per JOIN metrics m USING (metric_key), active a GROUP BY m.name ORDER BY 2 DESC, 4 DESC, 1""",
    "os": latest("system.os_family", None),
    "os-version": latest("system.os_version", None),
    "versions": version(None),
    "active-daily": f"SELECT r.day, count(DISTINCT r.inst_key) FROM reports r WHERE {RANGE} GROUP BY 1 ORDER BY 1",
    "active-weekly": f"SELECT {WEEK}, count(DISTINCT r.inst_key) FROM reports r WHERE {RANGE} GROUP BY 1 ORDER BY 1",
    "active-monthly": f"SELECT CAST(date_trunc('month', r.day) AS DATE), count(DISTINCT r.inst_key) FROM reports r WHERE {RANGE} GROUP BY 1 ORDER BY 1",
    "os-trend": latest("system.os_family", "week"),
    "os-version-trend": latest("system.os_version", "week"),
    "cpu-cores-trend": latest("system.cpu_cores", "week"),
    "ram-trend": latest("system.ram_gib", "week"),
    "display-trend": latest("system.display_class", "week"),
    "displays-trend": latest("system.displays", "week"),
    "versions-trend": version("week"),
    "usage-time": f"""
        SELECT period, count(*), sum(h), avg(d), median(h / d), quantile_cont(h / d, 0.9)
        FROM (SELECT {WEEK} AS period, r.inst_key, sum(v.value) / 3600.0 AS h, count(DISTINCT r.day) AS d
              FROM reports r JOIN report_values v USING (report_key)
              WHERE {RANGE} AND v.metric_key = {METRIC.format("session.usage_seconds")} AND v.value > 0 GROUP BY ALL)
        GROUP BY period ORDER BY period""",
    "session-lengths": f"""
        SELECT l.label, count(*), sum(s), sum(s) / count(*)
        FROM (SELECT v.label_key, r.inst_key, sum(v.value) AS s FROM reports r JOIN report_values v USING (report_key)
              WHERE {RANGE} AND v.metric_key = {METRIC.format("session.length")} GROUP BY ALL HAVING sum(v.value) > 0) x
        JOIN labels l ON l.metric_key = {METRIC.format("session.length")} AND l.label_key = x.label_key GROUP BY l.label_key, l.label ORDER BY l.label_key""",
    "client-losses": f"""
        SELECT period, count(*) FILTER (WHERE d > 0), sum(d), count(*) FILTER (WHERE d > 0) / count(*),
               count(*) FILTER (WHERE e > 0), sum(e), count(*) FILTER (WHERE j > 0), sum(j)
        FROM (SELECT {WEEK} AS period, inst_key, sum(dropped) AS d, sum(evicted) AS e, sum(rejected) AS j
              FROM reports r WHERE {RANGE} GROUP BY ALL) GROUP BY period ORDER BY period""",
    "rejections": f"SELECT {WEEK}, r.reason, sum(r.count) FROM rejections r WHERE r.day BETWEEN $first AND $last GROUP BY ALL ORDER BY 1, 3 DESC, 2",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--only", nargs="*", help="question names (default: all)")
    args = parser.parse_args()
    assert set(HAND) == set(QUESTIONS), "every question needs its hand-written SQL"
    OUT.mkdir(exist_ok=True)
    db = OUT / f"analysis-{args.reports}.duckdb"
    if not db.exists():
        print(f"generating {args.reports:,} reports into {db} ...", file=sys.stderr)
        started = time.perf_counter()
        generate(db, args.reports)
        print(f"  done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    con = open_database(db)
    n_reports, n_values, first, last = con.execute(
        "SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM report_values), min(day), max(day) FROM reports"
    ).fetchone()  # type: ignore[misc]
    print(
        f"{n_reports:,} reports, {n_values:,} values, {first} to {last}; best of {args.repeats} interleaved runs each\n"
    )
    window = Window("millwright", first, last, "week")
    gateway = Gateway(con)
    params = {"first": first, "last": last}
    print(f"{'question':18} {'gateway ms':>11} {'hand SQL ms':>12} {'ratio':>7} {'median ratio':>14}")
    ratios = []
    for name in args.only or list(QUESTIONS):
        ours, hand = [], []
        QUESTIONS[name](gateway, window)  # warm both: the first run pays for loading column segments
        con.execute(HAND[name], params).fetchall()
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            QUESTIONS[name](gateway, window)
            t1 = time.perf_counter()
            con.execute(HAND[name], params).fetchall()
            t2 = time.perf_counter()
            ours.append(t1 - t0)
            hand.append(t2 - t1)
        a, b = min(ours), min(hand)
        ratios.append(a / b)
        spread = statistics.median(ours) / statistics.median(hand)
        print(f"{name:18} {a * 1000:11.1f} {b * 1000:12.1f} {a / b:6.2f}x {spread:13.2f}x", flush=True)
    print(f"\nworst {max(ratios):.2f}x, geometric mean {statistics.geometric_mean(ratios):.2f}x (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
