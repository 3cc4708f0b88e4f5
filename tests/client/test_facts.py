"""System facts are coarsened before they leave the module, and fitted to the registry's closed sets."""

from __future__ import annotations

import socket

from optin.client._assemble import fit_fact
from optin.client._facts import arch_fact, collect_system_facts, cpu_vendor_fact, os_facts
from optin.contract import Registry


def test_os_releases_are_coarsened_to_a_major_version() -> None:
    assert os_facts("Windows", "10", "10.0.22631") == {"system.os_family": "windows", "system.os_version": "windows-11"}
    assert os_facts("Windows", "10", "10.0.19045") == {"system.os_family": "windows", "system.os_version": "windows-10"}
    assert os_facts("Darwin", "24.1.0", "") == {"system.os_family": "macos", "system.os_version": "macos-15"}
    assert os_facts("Linux", "6.8.0-45-generic", "#45-Ubuntu SMP") == {
        "system.os_family": "linux",
        "system.os_version": "linux-kernel-6",
    }
    assert os_facts("FreeBSD", "14.1", "")["system.os_family"] == "other"
    assert arch_fact("AMD64") == "x86_64" and arch_fact("aarch64") == "arm64" and arch_fact("riscv64") == "other"
    assert cpu_vendor_fact("Intel64 Family 6 Model 154 Stepping 3, GenuineIntel", "Windows", "x86_64") == "intel"
    assert cpu_vendor_fact("", "Darwin", "arm64") == "apple"


def test_this_machines_facts_fit_the_registry_and_carry_nothing_identifying(registry: Registry) -> None:
    facts = collect_system_facts()
    fitted = {name: fit_fact(registry, name, value) for name, value in facts.items()}
    assert all(value is not None for value in fitted.values())
    for name, value in fitted.items():
        metric = registry.metrics[name]
        assert value in metric.values or float(value) in metric.buckets  # type: ignore[arg-type]
    text = repr(facts)
    assert socket.gethostname() not in text
    for value in facts.values():
        if isinstance(value, int):
            assert value & (value - 1) == 0  # memory, disk, cores: powers of two


def test_a_fact_outside_the_declared_set_becomes_other_or_is_left_out(registry: Registry) -> None:
    assert fit_fact(registry, "system.language", "tlh") == "other"
    assert fit_fact(registry, "system.ram_gib", 48) == 32
    assert fit_fact(registry, "system.hostname", "workstation-7") is None
