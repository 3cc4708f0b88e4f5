"""A report in words a person reads: each value beside its metric's description from the registry.

"What is sent…" and "View sent data…" show reports this way first; the exact JSON is one click away.
Counts read "used 12 times", quantities their bucket ("16–32 GiB"), durations how many fell in each
range ("1–5 min: 3"). Every word goes through the catalogs (`HelpMenu.text`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from optin.contract import Kind, Registry

from ._i18n import N_

USED_ONCE: Final = N_("used once")
USED_TIMES: Final = N_("used {count} times")
YES: Final = N_("yes")
NO: Final = N_("no")
AT_LEAST: Final = N_("{low} or more")
RANGE: Final = N_("{low}–{high}")
UP_TO: Final = N_("up to {high}")
COUNTERS: Final = N_(
    "Not recorded because the registry does not allow it: {dropped}; reports removed unsent because the queue was "
    "full: {evicted}; refused by the collector: {rejected}"
)

Words = Callable[[str], str]  # a message id to the user's language


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _seconds(value: float) -> str:
    if value < 60:
        return f"{_number(value)} s"
    if value < 3600:
        return f"{_number(value / 60)} min"
    return f"{_number(value / 3600)} h"


def value_in_words(registry: Registry, name: str, value: Any, words: Words) -> list[str]:
    """One line per value (a labelled counter or a duration histogram has several)."""
    metric = registry.metrics.get(name)
    if metric is None:
        return []
    described = metric.description.rstrip(".")

    def row(value_words: str, detail: str = "") -> str:
        description = f"{described} ({detail})" if detail else described
        return f"{description}: {value_words}"

    def used(count: int) -> str:
        return words(USED_ONCE) if count == 1 else words(USED_TIMES).format(count=count)

    if metric.kind is Kind.COUNTER and isinstance(value, Mapping):
        return [row(used(int(count)), str(label)) for label, count in sorted(value.items())]
    if metric.kind is Kind.COUNTER:
        return [row(used(int(value)))]
    if metric.kind is Kind.BOOLEAN:
        return [row(words(YES) if value else words(NO))]
    if metric.kind is Kind.QUANTITY and isinstance(value, int | float):
        unit = f" {metric.unit}" if metric.unit else ""
        higher = [bound for bound in metric.buckets if bound > value]
        if not higher:
            return [row(words(AT_LEAST).format(low=_number(value)) + unit)]
        return [row(words(RANGE).format(low=_number(value), high=_number(higher[0])) + unit)]
    if metric.kind is Kind.DURATION and isinstance(value, list):
        lines = []
        lows = (0.0, *metric.buckets)
        for index, count in enumerate(value):
            if not count:
                continue
            if index == 0:
                span = words(UP_TO).format(high=_seconds(metric.buckets[0]))
            elif index < len(metric.buckets):
                span = words(RANGE).format(low=_seconds(lows[index]), high=_seconds(metric.buckets[index]))
            else:
                span = words(AT_LEAST).format(low=_seconds(lows[index]))
            lines.append(row(f"{span}: {count}"))
        return lines
    return [row(str(value))]  # an enum: its declared value


def report_in_words(registry: Registry, report: Mapping[str, Any], words: Words) -> list[str]:
    """Every metric of a report in words, in the registry's order, then the client's own counters."""
    metrics = report.get("metrics", {})
    lines = []
    for name in registry.metrics:
        if name in metrics:
            lines += value_in_words(registry, name, metrics[name], words)
    client = report.get("client", {})
    lines.append(words(COUNTERS).format(**{key: client.get(key, 0) for key in ("dropped", "evicted", "rejected")}))
    return lines
