"""Coarse system facts, collected on the worker thread (psutil is imported there, never at import).

Every fact is coarsened before it leaves this module: OS release to a major version, memory
and disk to a power of two, the locale to its language. Names are the registry's
``system.*`` metrics; facts the registry does not declare are never sent.
"""

from __future__ import annotations

import contextlib
import locale
import platform
import sys
from collections.abc import Callable
from typing import Final

from optin.contract import Value

GIB: Final = 1 << 30
FactsProvider = Callable[[], dict[str, Value]]


def _pow2_floor(value: float) -> int:
    result = 1
    while result * 2 <= value:
        result *= 2
    return result


def os_facts(system: str, release: str, version: str) -> dict[str, Value]:
    if system == "Windows":
        build = version.split(".")[-1] if version else ""
        if "Server" in release:
            os_version = "windows-server"
        elif build.isdigit() and int(build) >= 22000:
            os_version = "windows-11"
        else:
            os_version = "windows-10" if release in {"10", "11"} else "other"
        return {"system.os_family": "windows", "system.os_version": os_version}
    if system == "Darwin":
        major = release.split(".")[0]
        # Darwin kernel majors map to macOS releases: 21 → 12 … 24 → 15, 25 → 26.
        mac = {"21": "macos-12", "22": "macos-13", "23": "macos-14", "24": "macos-15", "25": "macos-26"}.get(
            major, "other"
        )
        return {"system.os_family": "macos", "system.os_version": mac}
    if system == "Linux":
        major = release.split(".")[0]
        return {
            "system.os_family": "linux",
            "system.os_version": f"linux-kernel-{major}" if major in {"4", "5", "6"} else "other",
        }
    return {"system.os_family": "other", "system.os_version": "other"}


def arch_fact(machine: str) -> str:
    machine = machine.lower()
    if machine in {"x86_64", "amd64"}:
        return "x86_64"
    if machine in {"arm64", "aarch64"}:
        return "arm64"
    if machine in {"i386", "i686", "x86"}:
        return "x86"
    return "other"


def cpu_vendor_fact(processor: str, system: str, arch: str) -> str:
    text = processor.lower()
    if "intel" in text or "genuineintel" in text:
        return "intel"
    if "amd" in text or "authenticamd" in text:
        return "amd"
    if system == "Darwin" and arch == "arm64":
        return "apple"
    if "qualcomm" in text or "snapdragon" in text:
        return "qualcomm"
    return "other"


def _cpu_text() -> str:
    text = platform.processor()
    if not text and sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
                for line in info:
                    if line.startswith("vendor_id"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            return ""
    return text


def language_fact() -> str:
    code = locale.getlocale()[0] or ""
    return code.split("_")[0].lower()[:2] if code else "other"


def collect_system_facts() -> dict[str, Value]:
    """Facts about this computer, coarsened. Called on the worker thread only."""
    import psutil  # imported here so that `import optin.client` stays light

    system = platform.system()
    facts = os_facts(system, platform.release(), platform.version())
    arch = arch_fact(platform.machine())
    facts["system.arch"] = arch
    facts["system.cpu_vendor"] = cpu_vendor_fact(_cpu_text(), system, arch)
    facts["system.cpu_cores"] = _pow2_floor(psutil.cpu_count(logical=True) or 1)
    facts["system.ram_gib"] = _pow2_floor(max(1, psutil.virtual_memory().total // GIB))
    with contextlib.suppress(OSError):
        facts["system.disk_gib"] = _pow2_floor(max(1, psutil.disk_usage(sys.prefix).total // GIB))
    facts["system.language"] = language_fact()
    return facts
