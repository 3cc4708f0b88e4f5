"""The metric registry: every metric an application may ever send, declared in TOML.

The registry is the privacy boundary. A metric has a kind, a category the user agrees to,
and a description the user reads; strings come only from a closed set and numbers only
from declared buckets or bounds. There is no free-text kind. See docs/registry.md.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import orjson

from ._errors import RegistryError
from ._limits import (
    LABEL_PATTERN,
    MAX_BUCKETS,
    MAX_COUNTER,
    MAX_LABELS_PER_METRIC,
    MAX_METRICS_PER_REPORT,
    MAX_NAME_CHARS,
    MAX_REGISTRY_VERSION,
    NAME_PATTERN,
)

REGISTRY_SCHEMA: Final = 1
_NAME = re.compile(NAME_PATTERN)
_LABEL = re.compile(LABEL_PATTERN)


class Kind(StrEnum):
    """What a metric's value is, and so how it is aggregated and validated."""

    COUNTER = "counter"  # uses in the period; with `labels`, one count per label of a closed set
    BOOLEAN = "boolean"  # whether something held during the period
    ENUM = "enum"  # one value of a closed set (the last recorded in the period)
    QUANTITY = "quantity"  # a number snapped down to one of the declared bucket bounds
    DURATION = "duration"  # a histogram of seconds over fixed bucket upper bounds


@dataclass(frozen=True, slots=True)
class Category:
    """A group of metrics the user agrees to as a whole; `description` is shown to the user."""

    name: str
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: Kind
    category: str
    description: str
    labels: tuple[str, ...] = ()  # counter: closed set of labels; empty means a plain counter
    values: tuple[str, ...] = ()  # enum: closed set of values
    buckets: tuple[float, ...] = ()  # quantity: lower bounds; duration: upper bounds in seconds
    unit: str = ""
    max: int = MAX_COUNTER  # counter: largest count accepted per period (per label)

    def snap(self, value: float) -> float:
        """Quantity: the largest declared bucket bound not above ``value`` (the first if below all)."""
        chosen = self.buckets[0]
        for bound in self.buckets:
            if value >= bound:
                chosen = bound
            else:
                break
        return chosen

    def bucket_index(self, seconds: float) -> int:
        """Duration: index of the first bucket whose upper bound holds ``seconds``; last is overflow."""
        for index, bound in enumerate(self.buckets):
            if seconds <= bound:
                return index
        return len(self.buckets)


@dataclass(frozen=True, slots=True)
class Registry:
    """A parsed registry of one application at one version."""

    app: str
    version: int
    categories: Mapping[str, Category]
    metrics: Mapping[str, Metric]
    hash: str

    def categories_hash(self, categories: Iterable[str]) -> str:
        """Hash of the given categories' names and descriptions: what the user agreed to."""
        chosen = sorted(set(categories) & set(self.categories))
        doc = [[c, self.categories[c].title, self.categories[c].description] for c in chosen]
        return hashlib.sha256(orjson.dumps(doc)).hexdigest()


def _fail(where: str, why: str) -> RegistryError:
    return RegistryError(f"{where}: {why}")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS or not _NAME.fullmatch(value):
        raise _fail(where, f"must match {NAME_PATTERN} and be at most {MAX_NAME_CHARS} characters")
    return value


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"needs a non-empty '{key}'")
    return value.strip()


def _closed_set(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_LABELS_PER_METRIC:
        raise _fail(where, f"must be a non-empty list of at most {MAX_LABELS_PER_METRIC} identifiers")
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_NAME_CHARS or not _LABEL.fullmatch(item):
            raise _fail(where, f"items must match {LABEL_PATTERN}")
    if len(set(value)) != len(value):
        raise _fail(where, "items must be unique")
    return tuple(value)


def _buckets(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_BUCKETS:
        raise _fail(where, f"must be a non-empty list of at most {MAX_BUCKETS} numbers")
    if any(isinstance(b, bool) or not isinstance(b, int | float) or b < 0 for b in value):
        raise _fail(where, "must hold non-negative numbers")
    if any(b >= c for b, c in zip(value, value[1:], strict=False)):
        raise _fail(where, "must be strictly increasing")
    return tuple(float(b) for b in value)


_ALLOWED_KEYS: Final = {
    Kind.COUNTER: {"labels", "max"},
    Kind.BOOLEAN: set(),
    Kind.ENUM: {"values"},
    Kind.QUANTITY: {"buckets", "unit"},
    Kind.DURATION: {"buckets"},
}
_COMMON_KEYS: Final = {"kind", "category", "description"}


def _metric(name: str, table: Any, categories: Mapping[str, Category]) -> Metric:
    where = f"metrics.{name}"
    if not isinstance(table, dict):
        raise _fail(where, "must be a table")
    try:
        kind = Kind(str(table.get("kind")))
    except ValueError:
        raise _fail(where, f"kind must be one of {', '.join(k.value for k in Kind)}") from None
    extra = set(table) - _COMMON_KEYS - _ALLOWED_KEYS[kind]
    if extra:
        raise _fail(where, f"unknown keys for kind {kind.value}: {', '.join(sorted(extra))}")
    category = table.get("category")
    if not isinstance(category, str) or category not in categories:
        raise _fail(where, "category must be one of the declared categories")
    description = _text(table, "description", where)
    if kind is Kind.COUNTER:
        labels = _closed_set(table["labels"], where + ".labels") if "labels" in table else ()
        limit = table.get("max", MAX_COUNTER)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_COUNTER:
            raise _fail(where + ".max", f"must be an integer in 1..{MAX_COUNTER}")
        return Metric(name, kind, category, description, labels=labels, max=limit)
    if kind is Kind.ENUM:
        values = _closed_set(table.get("values"), where + ".values")
        return Metric(name, kind, category, description, values=values)
    if kind is Kind.QUANTITY:
        unit = table.get("unit", "")
        if not isinstance(unit, str):
            raise _fail(where + ".unit", "must be a string")
        return Metric(
            name, kind, category, description, buckets=_buckets(table.get("buckets"), where + ".buckets"), unit=unit
        )
    if kind is Kind.DURATION:
        buckets = _buckets(table.get("buckets"), where + ".buckets")
        return Metric(name, kind, category, description, buckets=buckets, unit="s")
    return Metric(name, kind, category, description)


def _canonical(app: str, version: int, categories: Mapping[str, Category], metrics: Mapping[str, Metric]) -> bytes:
    doc = {
        "app": app,
        "version": version,
        "categories": {c.name: [c.title, c.description] for c in categories.values()},
        "metrics": {
            m.name: [m.kind.value, m.category, m.description, m.labels, m.values, m.buckets, m.unit, m.max]
            for m in metrics.values()
        },
    }
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def parse_registry(text: str) -> Registry:
    """Parse and check a registry document; raises RegistryError naming the offending entry."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"not valid TOML: {exc}") from None
    if doc.get("schema") != REGISTRY_SCHEMA:
        raise _fail("schema", f"must be {REGISTRY_SCHEMA}")
    app = _name(doc.get("app"), "app")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_REGISTRY_VERSION:
        raise _fail("version", f"must be an integer from 1 to {MAX_REGISTRY_VERSION}")
    raw_categories = doc.get("categories")
    if not isinstance(raw_categories, dict) or not raw_categories:
        raise _fail("categories", "at least one category is required")
    categories: dict[str, Category] = {}
    for cname, ctable in raw_categories.items():
        where = f"categories.{_name(cname, 'categories')}"
        if not isinstance(ctable, dict):
            raise _fail(where, "must be a table")
        categories[cname] = Category(cname, _text(ctable, "title", where), _text(ctable, "description", where))
    raw_metrics = doc.get("metrics")
    if not isinstance(raw_metrics, dict) or not raw_metrics:
        raise _fail("metrics", "at least one metric is required")
    if len(raw_metrics) > MAX_METRICS_PER_REPORT:
        raise _fail("metrics", f"at most {MAX_METRICS_PER_REPORT} metrics")
    metrics = {_name(n, "metrics"): _metric(n, t, categories) for n, t in sorted(raw_metrics.items())}
    unknown = set(doc) - {"schema", "app", "version", "categories", "metrics"}
    if unknown:
        raise _fail("registry", f"unknown top-level keys: {', '.join(sorted(unknown))}")
    digest = hashlib.sha256(_canonical(app, version, categories, metrics)).hexdigest()
    return Registry(app, version, categories, metrics, digest)


def load_registry(path: str | Path) -> Registry:
    return parse_registry(Path(path).read_text(encoding="utf-8"))


def bundled_registry(app: str) -> Registry:
    """A registry shipped inside this package (the demo application's)."""
    return load_registry(Path(__file__).with_name("registries") / f"{_name(app, 'app')}.toml")


def load_registry_folder(folder: str | Path) -> dict[tuple[str, int], Registry]:
    """Every ``*.toml`` registry in a folder, keyed by (app, version)."""
    found: dict[tuple[str, int], Registry] = {}
    for path in sorted(Path(folder).glob("*.toml")):
        registry = load_registry(path)
        key = (registry.app, registry.version)
        if key in found:
            raise RegistryError(f"{path.name}: {registry.app} version {registry.version} is declared twice")
        found[key] = registry
    return found
