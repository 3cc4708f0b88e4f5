"""What the client removes from disk: temp files of interrupted writes, and everything of an installation
the user erased (queued reports, counters, the open period), including what a crash left of a purge.

Each runs where it is needed: `remove_stale` at every start, `sweep` at every start while off and at
every turn-on, `purge` when feedback is turned off (its steps are the crash tests' seam, `_steps.py`).
"""

from __future__ import annotations

from ._files import remove_leftovers
from ._log import debug

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from ._history import History
    from ._paths import AppPaths
    from ._queue import ReportQueue

STALE_TEMP_S: Final = 60.0  # a temp file this old is no other process's write in progress


def remove_stale(paths: AppPaths) -> None:
    """Temp files of writes a crash interrupted (a history's can hold a report) go at start, in every folder."""
    for folder in (paths.config_dir, paths.data_dir, paths.queue_dir):
        try:
            remove_leftovers(folder, min_age_s=STALE_TEMP_S)
        except OSError:
            debug("optin: could not remove leftovers of interrupted writes")


def sweep(paths: AppPaths, queue: ReportQueue | None, keep: str | None) -> None:
    """Remove what an earlier installation left behind (a purge a crash interrupted): queued reports,
    counters and the open period of any id but ``keep``. Costs a few file lookups when there is none;
    ``queue`` is None when there is no queue folder."""
    try:
        if queue is not None:
            queue.purge(keep)
        if paths.counters_file.exists() or paths.period_file.exists():
            from . import _counts, _period

            _counts.drop_unless(paths.counters_file, keep)
            _period.drop_unless(paths.period_file, keep)
        remove_leftovers(paths.config_dir, min_age_s=STALE_TEMP_S)  # a consent file a crash left unrenamed
    except OSError:
        debug("optin: could not remove what an earlier installation left")


def purge(paths: AppPaths, queue: ReportQueue, history: History, keep: str | None) -> None:
    """Feedback turned off (``keep`` None) or adopted another id: reports, counters and the open period of
    every other id go, and the local history forgets what the reports said."""
    from . import _counts, _period
    from ._steps import reached

    try:
        queue.purge(keep, on_removed=lambda: reached("report_removed"))
        reached("queue_purged")
        _counts.drop_unless(paths.counters_file, keep)
        _period.drop_unless(paths.period_file, keep)
        reached("counters_removed")
        history.erase_contents()  # "turning it off erases what was sent": here too
    except OSError:
        debug("optin: could not purge the queue")
