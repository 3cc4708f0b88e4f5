"""The open period on disk: one report per period however often the app starts.

Values recorded in a session that ends (or crashes) before the period does are added to
``period.json`` in the user data folder, under a lock, so that every process of the application
adds its share exactly once; the first roll after the period's end turns the file into the
period's one report. The file names its installation id (values of an installation the user
erased are never carried into the next one) and the report id reserved for the period: a crash
between queueing the report and removing the file makes the next roll find that id in the queue
(or the collector answers "duplicate" to it), so nothing is counted twice.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from optin.contract import Kind, Registry, Value, new_report_id

from ._files import private_dir, write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


@dataclass(slots=True)
class OpenPeriod:
    installation_id: str
    start: int  # Unix seconds: when recording in this period began
    report_id: str  # the period's report goes out under this id, whatever happens in between
    values: dict[str, Value] = field(default_factory=dict)  # summed, not yet capped (see `capped`)
    dropped: int = 0  # recording calls refused by the registry so far
    # The end of the last period whose report is queued: a process that still holds values of that
    # period (a second instance, a forked child) adds them to the next one, never a second report.
    closed_until: int = 0

    @property
    def is_open(self) -> bool:
        return bool(self.report_id)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "installation_id": self.installation_id,
                "start": self.start,
                "report_id": self.report_id,
                "values": self.values,
                "dropped": self.dropped,
                "closed_until": self.closed_until,
            }
        )

    @classmethod
    def new(cls, installation_id: str, start: int, closed_until: int = 0) -> OpenPeriod:
        return cls(installation_id, start, new_report_id(), closed_until=closed_until)

    @classmethod
    def closed(cls, installation_id: str, until: int) -> OpenPeriod:
        """No open period: the record that the periods up to ``until`` are reported."""
        return cls(installation_id, until, "", closed_until=until)


def lock_file(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


_IN_PROCESS = threading.Lock()  # record locks are per process: threads (and Feedback objects) take this too


def after_fork() -> None:
    """In a forked child: the parent's threads (one may have held the lock) do not exist here."""
    global _IN_PROCESS
    _IN_PROCESS = threading.Lock()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the period's lock: one process (and one thread in it) at a time reads, adds to, or closes the
    open period. A POSIX record lock (`lockf`), not `flock`: a child forked while it is held does not inherit it."""
    private_dir(path.parent)
    with _IN_PROCESS:
        fd = os.open(lock_file(path), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            else:
                import fcntl

                fcntl.lockf(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def load(path: Path) -> OpenPeriod | None:
    """The open period on disk; None when there is none or the file is not one this client wrote."""
    try:
        doc = orjson.loads(path.read_bytes())
        period = OpenPeriod(
            doc["installation_id"],
            int(doc["start"]),
            doc["report_id"],
            dict(doc["values"]),
            int(doc["dropped"]),
            int(doc.get("closed_until", 0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ok = isinstance(period.installation_id, str) and isinstance(period.report_id, str)
    return period if ok else None


def save(path: Path, period: OpenPeriod) -> None:
    write_atomic(path, period.to_json())


def drop_unless(path: Path, keep: str | None) -> None:
    """Remove the open period (and its lock) unless it holds values of installation ``keep``."""
    if not path.exists() and not lock_file(path).exists():
        return
    period = load(path)
    if keep is None or period is None or period.installation_id != keep:
        path.unlink(missing_ok=True)
        if keep is None:
            lock_file(path).unlink(missing_ok=True)


def merge(registry: Registry, into: dict[str, Value], more: Mapping[str, Value]) -> None:
    """Add ``more`` to ``into`` as the registry's kinds add up: counts sum, flags or, the last enum
    value wins, the largest quantity wins, duration buckets sum. Values of no declared metric go."""
    for name, value in more.items():
        metric = registry.metrics.get(name)
        if metric is None:
            continue
        old = into.get(name)
        if old is None:
            into[name] = value
        elif metric.kind is Kind.COUNTER and isinstance(old, dict) and isinstance(value, dict):
            into[name] = {k: int(old.get(k, 0)) + int(value.get(k, 0)) for k in old.keys() | value.keys()}
        elif metric.kind is Kind.COUNTER and isinstance(old, int) and isinstance(value, int):
            into[name] = old + value
        elif metric.kind is Kind.BOOLEAN:
            into[name] = old is True or value is True
        elif metric.kind is Kind.QUANTITY and isinstance(old, int | float) and isinstance(value, int | float):
            into[name] = max(old, value)
        elif metric.kind is Kind.DURATION and isinstance(old, list) and isinstance(value, list):
            into[name] = [int(a) + int(b) for a, b in zip(old, value, strict=True)]
        else:
            into[name] = value  # an enum: the last recorded


def capped(registry: Registry, values: Mapping[str, Value]) -> tuple[dict[str, Value], int]:
    """The values with every count capped at its metric's maximum, and how many counts were capped
    (each is one dropped value in the report's client counters)."""
    out: dict[str, Value] = {}
    over = 0
    for name, value in values.items():
        metric = registry.metrics.get(name)
        if metric is None:
            continue
        if metric.kind is Kind.COUNTER and isinstance(value, dict):
            over += sum(1 for v in value.values() if v > metric.max)
            out[name] = {k: min(v, metric.max) for k, v in sorted(value.items()) if v}
            if not out[name]:
                del out[name]
        elif metric.kind is Kind.COUNTER and isinstance(value, int):
            over += 1 if value > metric.max else 0
            if value:
                out[name] = min(value, metric.max)
        else:
            out[name] = value
    return out, over
