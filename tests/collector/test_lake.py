"""The Parquet lake (the loader's snapshots) answers the same question in DuckDB and in Spark.

Spark runs in local mode on loopback; the test needs the `lake` extra (pyspark) and a Java
runtime, so it is a long form (`-m slow`), skipped where either is missing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pytest

from optin.collector import CollectorThread, Config
from optin.contract import Registry
from tests.helpers import make_report, post_json

pytestmark = pytest.mark.slow


def test_duckdb_and_spark_count_the_same_reports_per_day_in_the_lake(tmp_path: Path, registry: Registry) -> None:
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="PySpark missing: pip install 'optin-telemetry[lake]'")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime for Spark (Debian: openjdk-17-jre-headless)")
    lake = tmp_path / "lake"
    config = Config(db=tmp_path / "db" / "optin.duckdb", port=0, snapshot_dir=lake, maintenance_interval_s=3600)
    with CollectorThread(config) as running:
        for days_ago in (1, 1, 2, 3, 3, 3):
            end = int(time.time()) - days_ago * 86400
            doc = make_report(registry, None, period={"start": end - 3600, "end": end}, sent_at=int(time.time()) - 60)
            assert post_json(running.url, doc)[0] == 202
        running.maintain()  # load, retention, then the snapshot into the lake
    ours = (
        duckdb.connect()
        .execute(
            f"SELECT CAST(day AS VARCHAR), count(*) FROM read_parquet('{lake}/reports/*/*.parquet',"
            " hive_partitioning = true) GROUP BY day ORDER BY day"
        )
        .fetchall()
    )
    spark = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    try:
        rows = spark.read.parquet(str(lake / "reports")).groupBy("day").count().orderBy("day").collect()
        theirs = [(str(row["day"]), int(row["count"])) for row in rows]
    finally:
        spark.stop()
    assert [n for _, n in ours] == [3, 1, 2]  # three days ago, two, one
    assert theirs == ours
