"""At-rest contract: the DuckDB tables the collector writes and analysis reads, and the snapshot layout.

Every value is one row (report, metric, label, count), with integer surrogate keys, so the
columns stay narrow and dictionary/bit-packing friendly. ``label_key`` 0 means "no label";
otherwise it indexes the metric's closed set (enum value, counter label, quantity bucket,
duration bucket) as listed in ``labels``. Nothing else about a report is stored: no address,
no user agent, no header, no receive time finer than a day.
"""

from __future__ import annotations

from typing import Final

from ._registry import Kind, Metric
from ._report import Value

TABLES: Final = (
    "apps",
    "app_versions",
    "installations",
    "metrics",
    "labels",
    "reports",
    "report_values",
    "rejections",
    "daily_rollup",
)

# The columns of `reports` in schema v1 (SCHEMA_V1 and the collector's migration 2 make exactly these).
# report_key orders reports by arrival; `day` is the skew-corrected UTC day the period ended.
REPORT_COLUMNS_V1: Final = (
    ("report_key", "BIGINT"),
    ("report_id", "UUID"),
    ("inst_key", "INTEGER"),
    ("app_key", "SMALLINT"),
    ("version_key", "INTEGER"),
    ("registry_version", "INTEGER"),
    ("day", "DATE"),
    ("period_seconds", "INTEGER"),
    ("dropped", "INTEGER"),
    ("evicted", "INTEGER"),
    ("rejected", "INTEGER"),
)
# Columns added since, in order, each by a migration of its own that fills older rows with 0:
# `discarded` (the client's fourth counter) by the collector's migration 3.
REPORT_COLUMNS_ADDED: Final = (("discarded", "INTEGER"),)
# The columns of `reports` now, in order: the writer and the snapshot name them from here.
REPORT_COLUMNS: Final = REPORT_COLUMNS_V1 + REPORT_COLUMNS_ADDED
REPORT_COLUMN_NAMES: Final = tuple(name for name, _ in REPORT_COLUMNS)


def report_columns_ddl(*, primary_key: bool) -> str:
    """The v1 column list of `reports` for CREATE TABLE, with or without report_key's PRIMARY KEY."""
    first, *rest = REPORT_COLUMNS_V1
    key = " PRIMARY KEY" if primary_key else " NOT NULL"
    return ", ".join([f"{first[0]} {first[1]}{key}", *(f"{name} {kind} NOT NULL" for name, kind in rest)])


SCHEMA_V1: Final = (
    "CREATE TABLE apps (app_key SMALLINT PRIMARY KEY, name VARCHAR NOT NULL UNIQUE)",
    "CREATE TABLE app_versions (version_key INTEGER PRIMARY KEY, app_key SMALLINT NOT NULL,"
    " version VARCHAR NOT NULL, UNIQUE (app_key, version))",
    "CREATE TABLE installations (inst_key INTEGER PRIMARY KEY, installation_id UUID NOT NULL UNIQUE)",
    "CREATE TABLE metrics (metric_key INTEGER PRIMARY KEY, app_key SMALLINT NOT NULL, name VARCHAR NOT NULL,"
    " kind VARCHAR NOT NULL, category VARCHAR NOT NULL, UNIQUE (app_key, name))",
    "CREATE TABLE labels (metric_key INTEGER NOT NULL, label_key SMALLINT NOT NULL, label VARCHAR NOT NULL,"
    " PRIMARY KEY (metric_key, label_key))",
    f"CREATE TABLE reports ({report_columns_ddl(primary_key=True)})",
    "CREATE TABLE report_values (report_key BIGINT NOT NULL, metric_key INTEGER NOT NULL,"
    " label_key SMALLINT NOT NULL, value BIGINT NOT NULL)",
    "CREATE TABLE rejections (day DATE NOT NULL, reason VARCHAR NOT NULL, count BIGINT NOT NULL,"
    " PRIMARY KEY (day, reason))",
    # Retention keeps only these: per day, metric and label, how many installations and how much.
    "CREATE TABLE daily_rollup (day DATE NOT NULL, app_key SMALLINT NOT NULL, version_key INTEGER NOT NULL,"
    " metric_key INTEGER NOT NULL, label_key SMALLINT NOT NULL, installations BIGINT NOT NULL, total BIGINT NOT NULL)",
)

# Privacy releases (SPEC §4a, docs/privacy.md): the only tables analysis surfaces read. A release
# is one question of one application for one closed period, made once and never replaced; its
# cells hold the noisy value of each public key and measure, with the noise's standard deviation.
# The ledger charges each release's ρ (zCDP) to every budget week (its Monday) the period overlaps;
# a release that would overspend a week is not made, and the refusal is recorded.
RELEASE_TABLES: Final = ("releases", "release_cells", "privacy_ledger", "release_refusals")
SCHEMA_RELEASES: Final = (
    "CREATE TABLE IF NOT EXISTS releases (release_id INTEGER PRIMARY KEY, app VARCHAR NOT NULL,"
    " question VARCHAR NOT NULL, period VARCHAR NOT NULL, period_start DATE NOT NULL, period_end DATE NOT NULL,"
    " released_on DATE NOT NULL, rho DOUBLE NOT NULL, UNIQUE (app, question, period, period_start))",
    "CREATE TABLE IF NOT EXISTS release_cells (release_id INTEGER NOT NULL, position SMALLINT NOT NULL,"
    " key VARCHAR NOT NULL, measure VARCHAR NOT NULL, value BIGINT NOT NULL, sd DOUBLE NOT NULL)",
    "CREATE TABLE IF NOT EXISTS privacy_ledger (app VARCHAR NOT NULL, budget_week DATE NOT NULL,"
    " release_id INTEGER NOT NULL, rho DOUBLE NOT NULL)",
    "CREATE TABLE IF NOT EXISTS release_refusals (app VARCHAR NOT NULL, question VARCHAR NOT NULL,"
    " period VARCHAR NOT NULL, period_start DATE NOT NULL, rho DOUBLE NOT NULL, budget_week DATE NOT NULL,"
    " spent DOUBLE NOT NULL, budget DOUBLE NOT NULL, refused_on DATE NOT NULL)",
)

# Parquet snapshots, the read-only copy for offline analysis and other engines:
#   <snapshot_dir>/<table>/day=YYYY-MM-DD/*.parquet  for SNAPSHOT_PARTITIONED (hive partitioning;
#                                                    report_values carries the `day` of its report)
#   <snapshot_dir>/<table>.parquet                   for the other SNAPSHOT_TABLES (small tables)
# `installations` (the installation UUIDs) is never exported: `inst_key` is enough to count.
# A snapshot is written to a temporary folder and renamed into place, so it is read whole or not at all.
SNAPSHOT_TABLES: Final = (
    "apps",
    "app_versions",
    "metrics",
    "labels",
    "reports",
    "report_values",
    "rejections",
    *RELEASE_TABLES,
)
SNAPSHOT_PARTITIONED: Final = ("reports", "report_values")  # partitioned by `day`; others are small dimension tables
SNAPSHOT_PARTITION_COLUMN: Final = "day"


def _bound(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def label_names(metric: Metric) -> tuple[str, ...]:
    """The labels a metric's ``label_key`` 1..n stand for (empty for plain counters and booleans)."""
    if metric.kind is Kind.COUNTER:
        return metric.labels
    if metric.kind is Kind.ENUM:
        return metric.values
    if metric.kind is Kind.QUANTITY:
        return tuple(_bound(b) for b in metric.buckets)
    if metric.kind is Kind.DURATION:
        return tuple(f"<={_bound(b)}s" for b in metric.buckets) + (f">{_bound(metric.buckets[-1])}s",)
    return ()


def encode_value(metric: Metric, value: Value) -> list[tuple[int, int]]:
    """A checked value as (label_key, count) rows; zero counts of labels and buckets are omitted."""
    kind = metric.kind
    if isinstance(value, dict):  # labelled counter
        return [(metric.labels.index(label) + 1, count) for label, count in value.items() if count]
    if isinstance(value, list):  # duration histogram
        return [(index + 1, count) for index, count in enumerate(value) if count]
    if kind is Kind.BOOLEAN:
        return [(0, 1 if value else 0)]
    if kind is Kind.ENUM:
        return [(metric.values.index(str(value)) + 1, 1)]
    if kind is Kind.QUANTITY:
        return [(metric.buckets.index(float(value)) + 1, 1)]
    return [(0, int(value))]
