"""Counters of the loader and of each worker, and how the loader sums them for /metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LoaderStats:
    loaded_reports: int = 0
    duplicates: int = 0
    deletions: int = 0
    batches: int = 0
    batch_reports_max: int = 0
    batch_seconds_sum: float = 0.0
    batch_seconds_max: float = 0.0
    write_errors: int = 0
    segments_deleted: int = 0
    checkpoints: int = 0
    sweeps: int = 0  # deletions of erased reports' value rows (each covers every deletion since the last)
    lookups: int = 0  # queries answering the workers' "is this id stored?" (one per batch of questions)
    lookup_ids: int = 0  # questions asked (one per id, those answered from memory included)
    auth_failures: Counter[str] = field(default_factory=Counter)  # aggregate endpoints: unauthorized, not_found


@dataclass
class JournalStats:
    """One worker's journal since the worker started (`JournalWriter.stats`)."""

    records: int = 0
    bytes: int = 0
    groups: int = 0
    fsync_seconds_sum: float = 0.0
    fsync_seconds_max: float = 0.0
    failures: int = 0
    segments_created: int = 0


@dataclass
class WorkerStats:
    """One worker's counters, sent to the loader with every heartbeat (totals since the worker started)."""

    accepted: int = 0
    duplicates: int = 0
    deletions: int = 0
    in_flight: int = 0
    slow_bodies: int = 0
    unloaded_bytes: int = 0
    journal_healthy: bool = True
    journal: JournalStats = field(default_factory=JournalStats)
    rejections: Counter[str] = field(default_factory=Counter)
    heard_at: float = 0.0  # the loader's monotonic clock when this arrived (gauges count only live workers)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["rejections"] = {str(reason): count for reason, count in self.rejections.items()}
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> WorkerStats:
        plain = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__ and k not in ("rejections", "journal")}
        stats = cls(**plain)
        journal = doc.get("journal", {})
        stats.journal = JournalStats(**{k: v for k, v in journal.items() if k in JournalStats.__dataclass_fields__})
        stats.rejections = Counter({str(k): int(v) for k, v in doc.get("rejections", {}).items()})
        return stats
