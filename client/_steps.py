"""The named steps of turning feedback off, and a seam to observe them.

Turning off is ordered so that a crash at any step leaves nothing of the old installation that
could ever be sent (see `Feedback.turn_off` and docs/client.md). Crash tests prove it for every
step: a child process sets `observer`, and its parent kills it (SIGKILL) when a step is reached.
The seam only observes; nothing here can turn feedback on or change what is kept.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

# In order. "report_removed" is reached once per queued report.
TURN_OFF_STEPS: Final = (
    "begin",  # nothing changed on disk yet
    "consent_staged",  # the new consent file is written and synced beside the old one, not yet renamed
    "consent_saved",  # the consent file says off: from here no report of the old id is ever sent
    "report_removed",  # one queued report of the old installation removed
    "queue_purged",  # every queued report removed
    "counters_removed",  # the old installation's data-quality counters removed
    "done",
)

observer: Callable[[str], None] | None = None


def reached(step: str) -> None:
    if observer is not None:
        observer(step)
