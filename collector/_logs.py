"""Structured logs: one JSON object per line, built only from fields we choose (never request metadata).

aiohttp's own loggers would write the peer address ("Error handling request from %s") and the
text of parse errors, which can quote header bytes. `Scrub` rewrites such records in place, on
the logger itself, so whatever handler the host installs sees only the error's type and place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import Any, Final

import orjson

_FIELDS: Final = (
    "event",
    "status",
    "reason",
    "field",
    "port",
    "db",
    "count",
    "where",
    "role",
    "pid",
    "free_bytes",
    "device",
    "loop",
)
HTTP_LOGGER: Final = "optin.collector.http"  # the logger handed to aiohttp's request handler
_AIOHTTP_LOGGERS: Final = ("aiohttp.server", "aiohttp.web", "aiohttp.internal", "aiohttp.access")


class Scrub(logging.Filter):
    """Replace a record's message, arguments and traceback with the exception's type and location."""

    def filter(self, record: logging.LogRecord) -> bool:
        reason, where = "", ""
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            reason = type(error).__name__
            tb = error.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None:
                where = f"{os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
        record.msg, record.args, record.exc_info, record.exc_text, record.stack_info = (
            "http error",
            None,
            None,
            None,
            None,
        )
        record.__dict__.update(event="http_error", reason=reason, where=where)
        return True


class LoopErrors:
    """An event loop's exception handler: one JSON line per kind of error at most every ``every_s``.

    Accept errors under a flood of connections (e.g. out of descriptors) would otherwise write a
    multi-line traceback per attempt; here they are counted and logged by type, without text.
    """

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self.last: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        kind = type(error).__name__ if error is not None else "error"
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = time.monotonic()
        if now - self.last.get(kind, -1e9) < self.every_s:
            return
        self.last[kind] = now
        count, self.counts[kind] = self.counts[kind], 0
        logging.getLogger("optin.collector").error(
            "event loop error", extra={"event": "loop_error", "reason": kind, "count": count}
        )


def http_logger() -> logging.Logger:
    logger = logging.getLogger(HTTP_LOGGER)
    if not any(isinstance(f, Scrub) for f in logger.filters):
        logger.addFilter(Scrub())
    return logger


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            if name in record.__dict__:
                doc[name] = record.__dict__[name]
        return orjson.dumps(doc).decode()


def configure(level: str) -> None:
    """The command-line collector's logging: JSON lines on stderr, aiohttp's loggers scrubbed."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("optin")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    http_logger()
    for name in _AIOHTTP_LOGGERS:
        logger = logging.getLogger(name)
        logger.addFilter(Scrub())
        logger.handlers[:] = [handler]
        logger.propagate = False
    # aiohttp's access log records the peer address and user agent: it is never enabled.
    logging.getLogger("aiohttp.access").disabled = True
