"""The client's own diagnostics: logged under ``optin.client``, never raised into the host app."""

from __future__ import annotations


def debug(message: str) -> None:
    """A failure the client absorbs (a full disk, a vanished file); the traceback goes to the debug log."""
    import logging  # only on the rare failure path: the start-up path imports no logging

    logging.getLogger("optin.client").debug(message, exc_info=True)
