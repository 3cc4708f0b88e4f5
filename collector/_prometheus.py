"""/metrics in the Prometheus text format: accepted, duplicates, rejected by reason, batches, queue depth."""

from __future__ import annotations

from ._store import Store


def render_metrics(store: Store, in_flight: int) -> str:
    stats = store.stats
    lines = [
        "# HELP optin_reports_stored_total Reports committed to storage.",
        "# TYPE optin_reports_stored_total counter",
        f"optin_reports_stored_total {stats.committed_reports}",
        "# HELP optin_reports_duplicate_total Reports answered 200 because their id was already stored.",
        "# TYPE optin_reports_duplicate_total counter",
        f"optin_reports_duplicate_total {stats.duplicates}",
        "# HELP optin_requests_rejected_total Requests rejected, by reason.",
        "# TYPE optin_requests_rejected_total counter",
    ]
    lines += [
        f'optin_requests_rejected_total{{reason="{reason}"}} {count}'
        for reason, count in sorted(stats.rejections.items())
    ]
    lines += [
        "# HELP optin_deletions_total Deletion requests committed (idempotent; repeats count again).",
        "# TYPE optin_deletions_total counter",
        f"optin_deletions_total {stats.deletions}",
        "# HELP optin_aggregate_requests_refused_total Aggregate, dashboard and snapshot requests refused, by reason.",
        "# TYPE optin_aggregate_requests_refused_total counter",
    ]
    lines += [
        f'optin_aggregate_requests_refused_total{{reason="{reason}"}} {count}'
        for reason, count in sorted(stats.auth_failures.items())
    ]
    lines += [
        "# HELP optin_store_batch_seconds Group-commit batch latency.",
        "# TYPE optin_store_batch_seconds summary",
        f"optin_store_batch_seconds_sum {stats.batch_seconds_sum:.6f}",
        f"optin_store_batch_seconds_count {stats.batches}",
        "# HELP optin_store_batch_seconds_max Slowest batch so far.",
        "# TYPE optin_store_batch_seconds_max gauge",
        f"optin_store_batch_seconds_max {stats.batch_seconds_max:.6f}",
        "# HELP optin_store_write_errors_total Batches that failed to commit (answered 503).",
        "# TYPE optin_store_write_errors_total counter",
        f"optin_store_write_errors_total {stats.write_errors}",
        "# HELP optin_store_queue_depth Reports waiting for the writer.",
        "# TYPE optin_store_queue_depth gauge",
        f"optin_store_queue_depth {store.queue_depth}",
        "# HELP optin_requests_in_flight Report requests being read or checked.",
        "# TYPE optin_requests_in_flight gauge",
        f"optin_requests_in_flight {in_flight}",
        "# HELP optin_store_healthy 1 when storage is committing, 0 when degraded.",
        "# TYPE optin_store_healthy gauge",
        f"optin_store_healthy {1 if store.healthy else 0}",
    ]
    return "\n".join(lines) + "\n"
