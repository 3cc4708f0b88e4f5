"""Report assembly: the one place where categories are checked.

Only metrics of categories the user agreed to go into a report; facts are coarsened to the
registry's closed sets; the finished report is checked by the contract's validator before it
is written, so nothing the registry forbids is ever persisted or sent.
"""

from __future__ import annotations

from collections.abc import Mapping

from optin.contract import Kind, Registry, Report, Value, check_report, new_report_id


def fit_fact(registry: Registry, name: str, value: Value) -> Value | None:
    """A system fact fitted to its declaration, or None when the registry has no place for it."""
    metric = registry.metrics.get(name)
    if metric is None:
        return None
    if metric.kind is Kind.ENUM:
        if value in metric.values:
            return value
        return "other" if "other" in metric.values else None
    if metric.kind is Kind.QUANTITY and isinstance(value, int | float) and not isinstance(value, bool):
        snapped = metric.snap(value)
        return int(snapped) if snapped == int(snapped) else snapped
    return None


def assemble(
    registry: Registry,
    *,
    installation_id: str,
    app_version: str,
    categories: tuple[str, ...],
    period: tuple[int, int],
    values: Mapping[str, Value],
    facts: Mapping[str, Value],
    client_counters: Mapping[str, int],
    sent_at: int,
    report_id: str | None = None,
) -> Report:
    """The report of one period; ``report_id`` when the period reserved one (see `_period.OpenPeriod`)."""
    agreed = set(categories)
    metrics: dict[str, Value] = {}
    for name, value in facts.items():
        fitted = fit_fact(registry, name, value)
        if fitted is not None and registry.metrics[name].category in agreed:
            metrics[name] = fitted
    for name, value in values.items():
        metric = registry.metrics.get(name)
        if metric is not None and metric.category in agreed:
            if metric.kind is Kind.QUANTITY and isinstance(value, float) and value == int(value):
                value = int(value)
            metrics[name] = value
    report = Report(
        report_id=report_id or new_report_id(),
        installation_id=installation_id,
        app=registry.app,
        app_version=app_version,
        registry_version=registry.version,
        registry_hash=registry.hash,
        period_start=period[0],
        period_end=period[1],
        sent_at=sent_at,
        metrics=dict(sorted(metrics.items())),
        client=dict(client_counters),
    )
    check_report(report.to_wire(), {(registry.app, registry.version): registry})
    return report
