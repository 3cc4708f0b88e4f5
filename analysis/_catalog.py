"""Every question by its CLI and endpoint name, in the order a product team reads them.

Feature usage first (the relative value of functionalities, then broken down), then adoption,
active installations, retention and usage, platforms, and data quality last. The collector's endpoints,
the dashboard and the offline report serve exactly these, in this order.
"""

from __future__ import annotations

from typing import Final

from ._adoption import adoption
from ._breakdowns import BREAKDOWNS
from ._questions import (
    Question,
    active,
    client_losses,
    feature_usage,
    session_lengths,
    share_question,
    usage_time,
)
from ._retention import retention

QUESTIONS: Final[dict[str, Question]] = {
    "features": feature_usage,
    **BREAKDOWNS,
    "versions": share_question("versions", "App version adoption", "version", False),
    "versions-trend": share_question("versions", "App version adoption", "version", True),
    "adoption": adoption,
    "active-weekly": active("week"),
    "active-monthly": active("month"),
    "active-daily": active("day"),
    "retention": retention,
    "usage-time": usage_time,
    "session-lengths": session_lengths,
    "os": share_question("os", "Operating systems", "value", False),
    "os-trend": share_question("os", "Operating systems", "value", True),
    "os-version": share_question("os-version", "Operating system versions", "value", False),
    "os-version-trend": share_question("os-version", "Operating system versions", "value", True),
    "cpu-cores-trend": share_question("cpu-cores", "CPU cores", "value", True),
    "ram-trend": share_question("ram", "RAM (GiB)", "value", True),
    "display-trend": share_question("display", "Main display class", "value", True),
    "displays-trend": share_question("displays", "Number of displays", "value", True),
    "language": share_question("language", "Interface language", "value", False),
    "client-losses": client_losses,
}
