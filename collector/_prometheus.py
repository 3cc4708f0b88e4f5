"""/metrics in the Prometheus text format, summed over the workers (their last heartbeats) and the loader."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._loader import Loader

LIVE_S: Final = 3.0  # a worker not heard from for this long is gone (its counters still add up)


def _metric(lines: list[str], name: str, kind: str, text: str, value: object, labels: str = "") -> None:
    lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name}{labels} {value}"]


def render_metrics(loader: Loader) -> str:
    stats = loader.stats
    workers = list(loader.workers.values())
    live = [w for w in workers if time.monotonic() - w.heard_at < LIVE_S]
    rejections: Counter[str] = Counter()
    for worker in workers:
        rejections.update(worker.rejections)
    lag_bytes = sum(w.unloaded_bytes for w in live)
    journal_records = sum(w.journal.records for w in workers)
    journal_bytes = sum(w.journal.bytes for w in workers)
    mean_record = journal_bytes / journal_records if journal_records else 0.0
    lines: list[str] = []
    _metric(
        lines,
        "optin_reports_accepted_total",
        "counter",
        "Reports journaled and answered 202.",
        sum(w.accepted for w in workers),
    )
    _metric(lines, "optin_reports_stored_total", "counter", "Reports loaded into the database.", stats.loaded_reports)
    _metric(
        lines,
        "optin_reports_duplicate_total",
        "counter",
        "Report copies stored once: answered 200 by a worker, or dropped by the loader.",
        sum(w.duplicates for w in workers) + stats.duplicates,
    )
    lines += [
        "# HELP optin_requests_rejected_total Requests rejected, by reason.",
        "# TYPE optin_requests_rejected_total counter",
    ]
    lines += [
        f'optin_requests_rejected_total{{reason="{reason}"}} {count}' for reason, count in sorted(rejections.items())
    ]
    _metric(
        lines,
        "optin_slow_bodies_total",
        "counter",
        "Bodies not received within body_timeout_s (408).",
        sum(w.slow_bodies for w in workers),
    )
    _metric(
        lines,
        "optin_deletions_total",
        "counter",
        "Deletions loaded (idempotent; repeats count again).",
        stats.deletions,
    )
    lines += [
        "# HELP optin_aggregate_requests_refused_total Aggregate, dashboard and snapshot requests refused, by reason.",
        "# TYPE optin_aggregate_requests_refused_total counter",
    ]
    lines += [
        f'optin_aggregate_requests_refused_total{{reason="{reason}"}} {count}'
        for reason, count in sorted(stats.auth_failures.items())
    ]
    _metric(lines, "optin_journal_records_total", "counter", "Records written to the journals.", journal_records)
    _metric(lines, "optin_journal_bytes_total", "counter", "Bytes written to the journals.", journal_bytes)
    _metric(
        lines,
        "optin_journal_groups_total",
        "counter",
        "Groups written and fdatasync'ed.",
        sum(w.journal.groups for w in workers),
    )
    _metric(
        lines,
        "optin_journal_failures_total",
        "counter",
        "Groups that failed (answered 503).",
        sum(w.journal.failures for w in workers),
    )
    _metric(
        lines,
        "optin_journal_fsync_seconds_sum",
        "counter",
        "Time in group write + fdatasync.",
        f"{sum(w.journal.fsync_seconds_sum for w in workers):.6f}",
    )
    _metric(
        lines,
        "optin_journal_fsync_seconds_max",
        "gauge",
        "Slowest group write + fdatasync.",
        f"{max((w.journal.fsync_seconds_max for w in workers), default=0.0):.6f}",
    )
    _metric(lines, "optin_load_lag_bytes", "gauge", "Journal bytes not yet loaded.", lag_bytes)
    _metric(
        lines,
        "optin_load_lag_records",
        "gauge",
        "Records not yet loaded (bytes / mean record size).",
        round(lag_bytes / mean_record) if mean_record else 0,
    )
    _metric(
        lines,
        "optin_load_lag_seconds",
        "gauge",
        "Time since every journal was last read to its end.",
        f"{loader.lag_seconds():.3f}",
    )
    _metric(lines, "optin_loader_batches_total", "counter", "Load transactions.", stats.batches)
    _metric(
        lines,
        "optin_stored_questions_total",
        "counter",
        'Workers\' questions "is this report id stored?" (ids the filters call "maybe").',
        stats.lookup_ids,
    )
    _metric(
        lines,
        "optin_stored_lookups_total",
        "counter",
        "Database lookups that answered them (one per batch of questions; ids found before are remembered).",
        stats.lookups,
    )
    _metric(
        lines,
        "optin_loader_batch_reports_max",
        "gauge",
        "Largest load transaction, in reports.",
        stats.batch_reports_max,
    )
    _metric(
        lines,
        "optin_store_batch_seconds_sum",
        "counter",
        "Time in load transactions.",
        f"{stats.batch_seconds_sum:.6f}",
    )
    _metric(
        lines, "optin_store_batch_seconds_max", "gauge", "Slowest load transaction.", f"{stats.batch_seconds_max:.6f}"
    )
    _metric(
        lines,
        "optin_store_write_errors_total",
        "counter",
        "Journal groups (answered 503) and load transactions (retried from the journal) that failed.",
        stats.write_errors + sum(w.journal.failures for w in workers),
    )
    _metric(
        lines,
        "optin_requests_in_flight",
        "gauge",
        "Report requests being read, checked or journaled.",
        sum(w.in_flight for w in live),
    )
    healthy = loader.running and all(w.journal_healthy for w in live)
    _metric(lines, "optin_store_healthy", "gauge", "1 when every journal writes and the loader loads.", int(healthy))
    _metric(lines, "optin_workers", "gauge", "Workers heard from in the last few seconds.", len(live))
    return "\n".join(lines) + "\n"
