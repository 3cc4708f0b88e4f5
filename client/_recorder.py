"""Recording while feedback is on: values aggregated in memory per period, checked as they arrive.

A name that is not declared, a label or value outside the declared set, or a value of the
wrong type is dropped and counted, never raised into the host app. The do-nothing state used
while feedback is off is `NullRecorder` (`_null.py`); both satisfy `Recording`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from optin.contract import Kind, Registry, Value


@dataclass(frozen=True, slots=True)
class Drained:
    values: dict[str, Value]
    dropped: int


class Recorder:
    """Feedback on: thread-safe in-memory aggregation for the current period."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._zero: dict[object, int] = {}
        for metric in registry.metrics.values():
            if metric.kind is Kind.COUNTER:
                if metric.labels:
                    self._zero.update({(metric.name, label): 0 for label in metric.labels})
                else:
                    self._zero[metric.name] = 0
        self._counts = dict(self._zero)
        self._others: dict[str, Value] = {}
        self._dropped = 0

    def count(self, name: str, n: int = 1, label: str | None = None) -> None:
        key: object = name if label is None else (name, label)
        with self._lock:
            try:
                if n.__class__ is int and n >= 0 and key in self._counts:
                    self._counts[key] += n
                    return
            except TypeError:  # an unhashable name or label from the host app
                pass
            self._dropped += 1

    def _metric_of(self, name: str, kind: Kind) -> bool:
        metric = self._registry.metrics.get(name) if isinstance(name, str) else None
        return metric is not None and metric.kind is kind

    def flag(self, name: str, value: bool = True) -> None:
        with self._lock:
            if self._metric_of(name, Kind.BOOLEAN) and isinstance(value, bool):
                self._others[name] = self._others.get(name, False) is True or value
            else:
                self._dropped += 1

    def choose(self, name: str, value: str) -> None:
        with self._lock:
            if (
                self._metric_of(name, Kind.ENUM)
                and isinstance(value, str)
                and value in self._registry.metrics[name].values
            ):
                self._others[name] = value
            else:
                self._dropped += 1

    def quantity(self, name: str, value: float) -> None:
        with self._lock:
            if self._metric_of(name, Kind.QUANTITY) and _finite(value):
                snapped = self._registry.metrics[name].snap(value)
                previous = self._others.get(name)
                # Largest in the period: "largest assembly opened today" is what a quantity answers.
                self._others[name] = snapped if not isinstance(previous, int | float) else max(previous, snapped)
            else:
                self._dropped += 1

    def duration(self, name: str, seconds: float) -> None:
        with self._lock:
            if self._metric_of(name, Kind.DURATION) and _finite(seconds):
                metric = self._registry.metrics[name]
                counts = self._others.get(name)
                if not isinstance(counts, list):
                    counts = self._others[name] = [0] * (len(metric.buckets) + 1)
                counts[metric.bucket_index(seconds)] += 1
            else:
                self._dropped += 1

    def timer(self, name: str) -> Timer:
        """``with feedback.timer(name):`` records the block's duration (monotonic clock) into ``name``."""
        return Timer(self.duration, name)

    def drain(self) -> Drained:
        """Take the values recorded so far (summed, not capped: see `_period.capped`) and start afresh."""
        with self._lock:
            counts, self._counts = self._counts, dict(self._zero)
            others, self._others = self._others, {}
            dropped, self._dropped = self._dropped, 0
        return self._finish(counts, others, dropped)

    def peek(self) -> Drained:
        """The period's values so far, leaving them in place (for the preview)."""
        with self._lock:
            counts = dict(self._counts)
            others = {k: list(v) if isinstance(v, list) else v for k, v in self._others.items()}
            dropped = self._dropped
        return self._finish(counts, others, dropped)

    def _finish(self, counts: dict[object, int], others: dict[str, Value], dropped: int) -> Drained:
        values: dict[str, Value] = {}
        for key, n in counts.items():
            if not n:
                continue
            if isinstance(key, tuple):
                name, label = key
                labelled = values.setdefault(name, {})
                assert isinstance(labelled, dict)
                labelled[label] = n
            else:
                values[str(key)] = n
        values.update(others)
        return Drained(values, dropped)


class Timer:
    __slots__ = ("_record", "_name", "_start")

    def __init__(self, record: Callable[[str, float], None], name: str) -> None:
        self._record, self._name, self._start = record, name, 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._record(self._name, time.perf_counter() - self._start)


def _finite(value: float) -> bool:
    """A non-negative number (a huge int is fine: it only lands in the last bucket)."""
    if value.__class__ is int:
        return value >= 0
    return value.__class__ is float and math.isfinite(value) and value >= 0
