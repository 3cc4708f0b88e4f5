"""optin client: consent from the Help menu, registry-checked recording, durable queue, upload.

Importing this package imports neither aiohttp, psutil nor duckdb; feedback is off until the
user turns it on.
"""

from ._clock import Clock, ManualClock, SystemClock
from ._consent import Answer, ConsentState, Status
from ._feedback import Feedback
from ._history import Sent
from ._menu import HelpMenu, MenuItem
from ._paths import AppPaths
from ._policy import AdminOff, AskPolicy
from ._transport import HttpTransport, Response, Transport

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
