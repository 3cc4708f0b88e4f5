"""optin client: consent from the Help menu, registry-checked recording, durable queue, upload.

Importing this package imports neither aiohttp, psutil nor duckdb, and loads its parts on first
use (PEP 562): feedback is off until the user turns it on, and off costs almost nothing.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._clock import ManualClock, SystemClock
    from ._consent import Answer, ConsentState, Status
    from ._feedback import Feedback
    from ._history import Sent
    from ._menu import HelpMenu, MenuItem
    from ._paths import AppPaths
    from ._policy import AdminOff, AskPolicy
    from ._protocols import Clock
    from ._transport import HttpTransport, Response, Transport

_HOME = {
    "_clock": ("ManualClock", "SystemClock"),
    "_consent": ("Answer", "ConsentState", "Status"),
    "_feedback": ("Feedback",),
    "_history": ("Sent",),
    "_menu": ("HelpMenu", "MenuItem"),
    "_paths": ("AppPaths",),
    "_policy": ("AdminOff", "AskPolicy"),
    "_protocols": ("Clock",),
    "_transport": ("HttpTransport", "Response", "Transport"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}

__all__ = [
    "AdminOff",
    "Answer",
    "AppPaths",
    "AskPolicy",
    "Clock",
    "ConsentState",
    "Feedback",
    "HelpMenu",
    "HttpTransport",
    "ManualClock",
    "MenuItem",
    "Response",
    "Sent",
    "Status",
    "SystemClock",
    "Transport",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
