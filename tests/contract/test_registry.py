from __future__ import annotations

import pytest

from optin.contract import Kind, Registry, RegistryError, parse_registry

MINIMAL = """
schema = 1
app = "demo"
version = 1
app_versions = ["1.0", "1.1"]
[categories.usage]
title = "Usage"
description = "Which commands are used."
[metrics."cmd.run"]
kind = "counter"
category = "usage"
description = "Runs."
"""


def test_the_demo_registry_declares_about_forty_features_and_the_system_facts(registry: Registry) -> None:
    usage = [m for m in registry.metrics.values() if m.category == "usage"]
    assert 35 <= len(usage) <= 50
    facts = {m.name for m in registry.metrics.values() if m.category == "system"}
    assert {
        "system.os_family",
        "system.os_version",
        "system.arch",
        "system.cpu_vendor",
        "system.cpu_cores",
        "system.ram_gib",
        "system.disk_gib",
        "system.displays",
        "system.display_class",
        "system.language",
    } <= facts
    assert registry.metrics["file.import"].labels[:3] == ("step", "iges", "stl")
    assert {"session.starts", "session.length", "session.usage_seconds"} <= set(registry.metrics)


def test_every_metric_has_a_description_and_no_free_text_kind_exists(registry: Registry) -> None:
    assert {k.value for k in Kind} == {"counter", "boolean", "enum", "quantity", "duration"}
    for metric in registry.metrics.values():
        assert metric.description
        assert metric.category in registry.categories


def test_a_minimal_registry_parses_and_its_hash_is_stable() -> None:
    first, second = parse_registry(MINIMAL), parse_registry(MINIMAL)
    assert first.hash == second.hash and len(first.hash) == 64
    changed = parse_registry(MINIMAL.replace("Runs.", "Runs of a command."))
    assert changed.hash != first.hash
    shipped = parse_registry(MINIMAL.replace('"1.1"]', '"1.1", "1.2"]'))  # a new release is a new registry
    assert shipped.hash != first.hash and shipped.app_versions == ("1.0", "1.1", "1.2")


def test_release_bounds_have_defaults_that_a_registry_without_them_gets() -> None:
    registry = parse_registry(MINIMAL)
    assert registry.max_features == 16 and registry.metrics["cmd.run"].release_bound == 25
    small = parse_registry(MINIMAL.replace('kind = "counter"', 'kind = "counter"\nmax = 5'))
    assert small.metrics["cmd.run"].release_bound == 5  # never above what a report may carry


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('kind = "counter"', 'kind = "text"'), "kind must be one of"),
        (('category = "usage"', 'category = "other"'), "category must be one of"),
        (('description = "Runs."', 'description = ""'), "description"),
        (('kind = "counter"', 'kind = "enum"'), "values"),
        (('kind = "counter"', 'kind = "enum"\nvalues = ["Free Text!"]'), "must match"),
        (('kind = "counter"', 'kind = "quantity"\nbuckets = [4, 2]'), "strictly increasing"),
        (('kind = "counter"', 'kind = "counter"\nunit = "x"'), "unknown keys"),
        (('app = "demo"', 'app = "Demo App"'), "app"),
        (("schema = 1", "schema = 2"), "schema"),
        (("version = 1", "version = 1073741825"), "version"),  # reports can only name versions up to 2^30
        (("version = 1", "version = 0"), "version"),
        (('app_versions = ["1.0", "1.1"]', ""), "app_versions"),  # the versions that may report: a closed set
        (('app_versions = ["1.0", "1.1"]', 'app_versions = ["1.0", "10.0.0.1/8"]'), "dotted numbers"),
        (('app_versions = ["1.0", "1.1"]', 'app_versions = ["1.0", "1.0"]'), "unique"),
        (('kind = "counter"', 'kind = "counter"\nrelease_bound = 0'), "release_bound"),
        (('kind = "counter"', 'kind = "counter"\nmax = 10\nrelease_bound = 11'), "release_bound"),
        (("[categories.usage]", "[release]\nmax_features = 0\n[categories.usage]"), "max_features"),
    ],
)
def test_invalid_registries_are_refused_with_the_entry_named(edit: tuple[str, str], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_registry(MINIMAL.replace(*edit))


def test_quantity_snaps_down_and_duration_buckets_by_upper_bound(registry: Registry) -> None:
    ram = registry.metrics["system.ram_gib"]
    assert ram.snap(31.9) == 16 and ram.snap(32) == 32 and ram.snap(0.5) == 1 and ram.snap(10_000) == 512
    sim = registry.metrics["simulation.duration"]
    assert sim.bucket_index(1) == 0 and sim.bucket_index(1.01) == 1 and sim.bucket_index(10_000) == len(sim.buckets)
