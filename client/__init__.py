"""optin client: consent from the Help menu, registry-checked recording, durable queue, upload.

Importing this package imports neither aiohttp, psutil nor duckdb, and loads its parts on first
use (PEP 562): feedback is off until the user turns it on, and off costs almost nothing.
"""

from __future__ import annotations

from optin.contract import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._admin import EnterprisePolicy
    from ._clock import ManualClock, SystemClock
    from ._consent import Answer, ConsentState, Status
    from ._feedback import Feedback
    from ._history import Sent
    from ._http import HttpTransport
    from ._menu import HelpMenu, MenuItem
    from ._options import FeedbackOptions
    from ._paths import AppPaths
    from ._policy import AdminOff, AskPolicy
    from ._protocols import Clock
    from ._transport import Response, Transport
    from ._wording import Wording

_HOME = {
    "_admin": ("EnterprisePolicy",),
    "_clock": ("ManualClock", "SystemClock"),
    "_consent": ("Answer", "ConsentState", "Status"),
    "_feedback": ("Feedback",),
    "_history": ("Sent",),
    "_menu": ("HelpMenu", "MenuItem"),
    "_options": ("FeedbackOptions",),
    "_paths": ("AppPaths",),
    "_policy": ("AdminOff", "AskPolicy"),
    "_protocols": ("Clock",),
    "_http": ("HttpTransport",),
    "_transport": ("Response", "Transport"),
    "_wording": ("Wording",),
}
__all__ = [
    "AdminOff",
    "Answer",
    "AppPaths",
    "AskPolicy",
    "Clock",
    "ConsentState",
    "EnterprisePolicy",
    "Feedback",
    "FeedbackOptions",
    "HelpMenu",
    "HttpTransport",
    "ManualClock",
    "MenuItem",
    "Response",
    "Sent",
    "Status",
    "SystemClock",
    "Transport",
    "Wording",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
