"""The contract's `encode_value`, precompiled per registry for the writer's hot loop.

`encode_value` decides per call what a metric is; the writer calls it for every value of every
report while holding the GIL that the event loop needs. Here each metric's kind and label
indexes are looked up once, and rows are appended straight into the batch's columns. A test
checks that both give the same rows for every kind.
"""

from __future__ import annotations

from collections.abc import Mapping

from optin.contract import Kind, Registry, Value

_PLAIN, _LABELLED, _BOOLEAN, _INDEXED, _HISTOGRAM = range(5)


class ValueEncoder:
    """(metric name, value) → rows (label_key, count) appended to column lists."""

    def __init__(self, registry: Registry, metric_keys: Mapping[str, int]) -> None:
        self._plan: dict[str, tuple[int, int, dict[object, int]]] = {}
        for metric in registry.metrics.values():
            key = metric_keys[metric.name]
            if metric.kind is Kind.COUNTER and metric.labels:
                self._plan[metric.name] = (key, _LABELLED, {label: i for i, label in enumerate(metric.labels, start=1)})
            elif metric.kind is Kind.COUNTER:
                self._plan[metric.name] = (key, _PLAIN, {})
            elif metric.kind is Kind.BOOLEAN:
                self._plan[metric.name] = (key, _BOOLEAN, {})
            elif metric.kind is Kind.ENUM:
                self._plan[metric.name] = (key, _INDEXED, {value: i for i, value in enumerate(metric.values, start=1)})
            elif metric.kind is Kind.QUANTITY:
                self._plan[metric.name] = (key, _INDEXED, {bound: i for i, bound in enumerate(metric.buckets, start=1)})
            else:
                self._plan[metric.name] = (key, _HISTOGRAM, {})

    def encode(self, report_key: int, metrics: Mapping[str, Value], keys: list[int], metric_keys: list[int], label_keys: list[int], values: list[int]) -> None:
        plan = self._plan
        for name, value in metrics.items():
            metric_key, kind, index = plan[name]
            if kind == _PLAIN:
                keys.append(report_key)
                metric_keys.append(metric_key)
                label_keys.append(0)
                values.append(int(value))  # type: ignore[arg-type]
            elif kind == _INDEXED:
                keys.append(report_key)
                metric_keys.append(metric_key)
                label_keys.append(index[value])  # float(bound) and int(bound) hash alike
                values.append(1)
            elif kind == _BOOLEAN:
                keys.append(report_key)
                metric_keys.append(metric_key)
                label_keys.append(0)
                values.append(1 if value else 0)
            elif kind == _LABELLED:
                assert isinstance(value, dict)
                for label, count in value.items():
                    if count:
                        keys.append(report_key)
                        metric_keys.append(metric_key)
                        label_keys.append(index[label])
                        values.append(count)
            else:
                assert isinstance(value, list)
                for bucket, count in enumerate(value, start=1):
                    if count:
                        keys.append(report_key)
                        metric_keys.append(metric_key)
                        label_keys.append(bucket)
                        values.append(count)
