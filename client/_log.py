"""The client's own diagnostics: logged under ``optin.client``, counted, never raised into the host app.

A failure the client absorbs (a full disk, a vanished file) goes to the debug log. A problem the
embedding developer must fix (a registry that is missing or names another application, an app
version the registry does not declare, a folder that cannot be written) is a `Problem`: a warning
in the log, counted by code in `Feedback.problems`, with a sentence that says what to do. No
message names a folder path (it holds the user's name): only which folder and why.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

REGISTRY: Final = "registry"  # missing, unreadable, invalid, or names another application
APP_VERSION: Final = "app_version"  # the host's version is not declared in the registry
CONFIG_FOLDER: Final = "config_folder"  # the consent file cannot be written
DATA_FOLDER: Final = "data_folder"  # the queue, period or history cannot be written


def debug(message: str) -> None:
    """A failure the client absorbs; the traceback goes to the debug log."""
    import logging  # only on the rare failure path: the start-up path imports no logging

    logging.getLogger("optin.client").debug(message, exc_info=True)


def os_reason(error: BaseException) -> str:
    """Why an OS call failed, without the path it names."""
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return str(error)


class Problems:
    """Counts of the problems met so far, by code, and the last one's message."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.last: str | None = None

    def report(self, code: str, message: str) -> None:
        import logging

        self.counts[code] = self.counts.get(code, 0) + 1
        self.last = message
        logging.getLogger("optin.client").warning("optin: %s", message)
