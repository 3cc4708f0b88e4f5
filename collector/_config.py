"""Collector configuration: defaults, then a TOML file, then environment (OPTIN_COLLECTOR_*), then flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

import platformdirs

from optin.analysis import DEFAULT_BUDGET_RHO, DEFAULT_GRACE_DAYS
from optin.contract import MIN_AGGREGATE_K

ENV_PREFIX: Final = "OPTIN_COLLECTOR_"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("optin-collector", appauthor=False)) / "optin.duckdb"


@dataclass(frozen=True, slots=True)
class Config:
    db: Path = Path()  # empty means the embedded default (see default_db_path)
    host: str = "127.0.0.1"
    port: int = 8080
    registries: Path | None = None  # folder of *.toml registries; None means the bundled demo registry
    token_file: Path | None = None  # analysis endpoints need this token; OPTIN_COLLECTOR_TOKEN also works
    token: str = ""
    max_body_bytes: int = 1 << 20  # compressed and decompressed
    workers: int = 0  # HTTP worker processes sharing the port; 0 means one per core
    batch_max_reports: int = 16384  # the loader writes at most this many reports per transaction ...
    catch_up_max_reports: int = 65536  # ... or this many while it is behind (bounded by 64 MiB of records too)
    batch_max_wait_ms: float = 1.0  # journal group commit: wait this long for more records before each fdatasync
    load_interval_ms: float = 750.0  # after a partial batch the loader waits this long for more (bigger transactions)
    max_pending_reports: int = 4096  # records waiting for the disk per worker; beyond it ingest answers 503
    max_unloaded_bytes: int = 256 << 20  # a worker's journal may be this far ahead of the loader; beyond it 503
    segment_bytes: int = 32 << 20  # journal segments are preallocated to this size
    max_requests_in_flight: int = 512  # bodies being read or checked at once; bounds memory
    body_timeout_s: float = 10.0  # a body not received within this long is answered 408 (a slow sender)
    max_connections: int = 0  # open connections per worker; 0: 64 below the descriptor limit (read at start)
    keepalive_timeout_s: float = 15.0  # a connection idle (or with no whole request head) this long is closed
    retry_after_s: int = 5
    min_free_bytes: int = 64 << 20  # below this much room under the database the disk counts as full (not ready)
    retention_days: int = 400  # raw rows older than this are rolled up into daily aggregates and deleted
    maintenance_interval_s: float = (
        3600.0  # retention (and a snapshot, if snapshot_dir is set) at start and then this often
    )
    snapshot_dir: Path | None = None  # Parquet snapshots are written here on the maintenance schedule
    aggregate_k: int = MIN_AGGREGATE_K  # smallest group the aggregate endpoints show (analysis refuses less)
    aggregate_timeout_s: float = 30.0  # an aggregate query is interrupted after this long (503)
    privacy_budget_rho: float = (
        DEFAULT_BUDGET_RHO  # per application and week, zCDP ρ (docs/privacy.md); releases never exceed it
    )
    release_grace_days: int = (
        DEFAULT_GRACE_DAYS  # a closed period is released this many days after it ends (late reports)
    )
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "INFO"
    # Beyond one machine (docs/operations.md): a NATS JetStream stream instead of the file journal.
    journal: str = ""  # empty: the file journal beside the database; nats://HOST:PORT[,nats://HOST:PORT...]
    nats_stream: str = "OPTIN"  # letters, digits and dashes; one loader per stream
    nats_replicas: int = 1  # 3 on a three-node cluster: an acknowledged report is on two nodes at least
    nats_max_bytes: int = 1 << 30  # the stream refuses more than this (503) until the loader catches up
    nats_duplicate_window_s: float = 120.0  # JetStream drops a report id it stored this recently (answered 200)
    nats_publish_timeout_s: float = 5.0  # no acknowledgement within this long: 503 (a retry is stored once)
    nats_creds: Path | None = None  # NATS credentials file (JWT + NKey seed)
    nats_tls_ca: Path | None = None  # CA that signed the NATS servers' certificates (TLS on when given)
    nats_tls_cert: Path | None = None  # client certificate and key, where the servers verify clients
    nats_tls_key: Path | None = None

    def uses_nats(self) -> bool:
        return self.journal.startswith(("nats://", "tls://"))

    def resolved_db(self) -> Path:
        return self.db if str(self.db) not in ("", ".") else default_db_path()

    def journal_dir(self) -> Path:
        """The journals (one folder per worker) and the loader's port file, beside the database."""
        db = self.resolved_db()
        return db.with_name(db.name + ".journal")

    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(Config)}[name]
    text = str(kind)
    if raw is None:
        return None
    if "Path" in text:
        return Path(str(raw)).expanduser()
    if text == "int":
        return int(raw)
    if text == "float":
        return float(raw)
    return str(raw)


def load_config(file: Path | None = None, environ: dict[str, str] | None = None, **flags: Any) -> Config:
    """Layered configuration; unknown keys in the file are an error, so typos do not pass silently."""
    names = {f.name for f in fields(Config)}
    values: dict[str, Any] = {}
    if file is not None:
        doc = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        unknown = set(doc) - names
        if unknown:
            raise ValueError(f"unknown settings in {file.name}: {', '.join(sorted(unknown))}")
        values.update(doc)
    env = os.environ if environ is None else environ
    for name in names:
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = env[key]
    values.update({k: v for k, v in flags.items() if v is not None})
    config = replace(Config(), **{k: _coerce(k, v) for k, v in values.items()})
    if not config.token and config.token_file is not None:
        config = replace(config, token=config.token_file.read_text(encoding="utf-8").strip())
    if not config.privacy_budget_rho > 0:
        raise ValueError("privacy_budget_rho must be positive")
    if config.release_grace_days < 0:
        raise ValueError("release_grace_days must be at least 0")
    if config.aggregate_k < MIN_AGGREGATE_K:
        raise ValueError(f"aggregate_k must be at least {MIN_AGGREGATE_K}: smaller groups are never shown")
    if config.journal and not config.uses_nats():
        raise ValueError("journal must be empty (the file journal) or nats://HOST:PORT[,nats://HOST:PORT...]")
    if not config.nats_stream.replace("-", "").isalnum():
        raise ValueError("nats_stream is letters, digits and dashes")
    if config.segment_bytes < 2 * config.max_body_bytes:
        raise ValueError("segment_bytes must be at least twice max_body_bytes")
    return config
