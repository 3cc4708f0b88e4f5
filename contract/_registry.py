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
    VERSION_PATTERN,
)

REGISTRY_SCHEMA: Final = 1
_NAME = re.compile(NAME_PATTERN)
_LABEL = re.compile(LABEL_PATTERN)
_APP_VERSION = re.compile(VERSION_PATTERN)
# Privacy releases (docs/privacy.md): what one installation may add to a released table, per period.
DEFAULT_RELEASE_BOUND: Final = 25  # counters and duration buckets: a sum counts at most this much per installation
DEFAULT_MAX_FEATURES: Final = 16  # the feature table counts at most this many features per installation
MAX_APP_VERSIONS: Final = 256


class Kind(StrEnum):
    """What a metric's value is, and so how it is aggregated and validated."""

    COUNTER = "counter"  # uses in the period; with `labels`, one count per label of a closed set
    BOOLEAN = "boolean"  # whether something held during the period
    ENUM = "enum"  # one value of a closed set (the last recorded in the period)
    QUANTITY = "quantity"  # a number snapped down to one of the declared bucket bounds
    DURATION = "duration"  # a histogram of seconds over fixed bucket upper bounds


@dataclass(frozen=True, slots=True)
class Category:
    """A group of metrics the user agrees to as a whole; `description` is shown to the user.

    ``translations`` holds (language, title, description) for the languages the registry words it in;
    the English ``title`` and ``description`` are the reference (and what the hashes cover).
    """

    name: str
    title: str
    description: str
    translations: tuple[tuple[str, str, str], ...] = ()

    def in_language(self, language: str) -> tuple[str, str]:
        """Title and description in ``language`` (``de``), or in English when the registry has none."""
        for code, title, description in self.translations:
            if code == language:
                return title, description
        return self.title, self.description


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
    # counter and duration: the most one installation adds to a released sum per period (per label
    # or bucket); larger values are clamped to it before noise is added (docs/registry.md)
    release_bound: int = DEFAULT_RELEASE_BOUND

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
    app_versions: tuple[str, ...] = ()  # the closed set of application versions that may report
    max_features: int = DEFAULT_MAX_FEATURES  # released feature table: features counted per installation

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


def _positive(value: Any, where: str, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= most:
        raise _fail(where, f"must be an integer in 1..{most}")
    return value


def _app_versions(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_APP_VERSIONS:
        raise _fail("app_versions", f"must list the application's versions (1 to {MAX_APP_VERSIONS})")
    if any(not isinstance(v, str) or not _APP_VERSION.fullmatch(v) for v in value):
        raise _fail("app_versions", f"items must be dotted numbers ({VERSION_PATTERN})")
    if len(set(value)) != len(value):
        raise _fail("app_versions", "items must be unique")
    return tuple(value)


def _release(value: Any) -> int:
    if value is None:
        return DEFAULT_MAX_FEATURES
    if not isinstance(value, dict) or set(value) - {"max_features"}:
        raise _fail("release", "may only set max_features")
    return _positive(value.get("max_features", DEFAULT_MAX_FEATURES), "release.max_features", MAX_METRICS_PER_REPORT)


def _buckets(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_BUCKETS:
        raise _fail(where, f"must be a non-empty list of at most {MAX_BUCKETS} numbers")
    if any(isinstance(b, bool) or not isinstance(b, int | float) or b < 0 for b in value):
        raise _fail(where, "must hold non-negative numbers")
    if any(b >= c for b, c in zip(value, value[1:], strict=False)):
        raise _fail(where, "must be strictly increasing")
    return tuple(float(b) for b in value)


_ALLOWED_KEYS: Final = {
    Kind.COUNTER: {"labels", "max", "release_bound"},
    Kind.BOOLEAN: set(),
    Kind.ENUM: {"values"},
    Kind.QUANTITY: {"buckets", "unit"},
    Kind.DURATION: {"buckets", "release_bound"},
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
        limit = _positive(table.get("max", MAX_COUNTER), where + ".max", MAX_COUNTER)
        bound = _positive(
            table.get("release_bound", min(DEFAULT_RELEASE_BOUND, limit)), where + ".release_bound", limit
        )
        return Metric(name, kind, category, description, labels=labels, max=limit, release_bound=bound)
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
        bound = _positive(table.get("release_bound", DEFAULT_RELEASE_BOUND), where + ".release_bound", MAX_COUNTER)
        return Metric(name, kind, category, description, buckets=buckets, unit="s", release_bound=bound)
    return Metric(name, kind, category, description)


_LANGUAGE: Final = re.compile(r"[a-z]{2,3}")
_CATEGORY_KEYS: Final = {"title", "description", "translations"}


def _category(name: str, table: Mapping[str, Any], where: str) -> Category:
    extra = set(table) - _CATEGORY_KEYS
    if extra:
        raise _fail(where, f"unknown keys: {', '.join(sorted(extra))}")
    translations = table.get("translations", {})
    if not isinstance(translations, dict):
        raise _fail(where + ".translations", "must be a table of languages")
    words = []
    for language, words_table in sorted(translations.items()):
        at = f"{where}.translations.{language}"
        if not _LANGUAGE.fullmatch(language) or not isinstance(words_table, dict):
            raise _fail(at, "must be a table named by a language code (two or three lower-case letters)")
        if set(words_table) != {"title", "description"}:
            raise _fail(at, "needs exactly 'title' and 'description'")
        words.append((language, _text(words_table, "title", at), _text(words_table, "description", at)))
    return Category(name, _text(table, "title", where), _text(table, "description", where), tuple(words))


def _canonical(
    app: str,
    version: int,
    categories: Mapping[str, Category],
    metrics: Mapping[str, Metric],
    app_versions: tuple[str, ...],
    max_features: int,
) -> bytes:
    doc = {
        "app": app,
        "version": version,
        "app_versions": app_versions,
        "max_features": max_features,
        "categories": {c.name: [c.title, c.description] for c in categories.values()},
        "metrics": {
            m.name: [
                m.kind.value,
                m.category,
                m.description,
                m.labels,
                m.values,
                m.buckets,
                m.unit,
                m.max,
                m.release_bound,
            ]
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
        categories[cname] = _category(cname, ctable, where)
    raw_metrics = doc.get("metrics")
    if not isinstance(raw_metrics, dict) or not raw_metrics:
        raise _fail("metrics", "at least one metric is required")
    if len(raw_metrics) > MAX_METRICS_PER_REPORT:
        raise _fail("metrics", f"at most {MAX_METRICS_PER_REPORT} metrics")
    metrics = {_name(n, "metrics"): _metric(n, t, categories) for n, t in sorted(raw_metrics.items())}
    unknown = set(doc) - {"schema", "app", "version", "app_versions", "release", "categories", "metrics"}
    if unknown:
        raise _fail("registry", f"unknown top-level keys: {', '.join(sorted(unknown))}")
    app_versions = _app_versions(doc.get("app_versions"))
    max_features = _release(doc.get("release"))
    digest = hashlib.sha256(_canonical(app, version, categories, metrics, app_versions, max_features)).hexdigest()
    return Registry(app, version, categories, metrics, digest, app_versions, max_features)


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
