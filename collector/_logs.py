"""Structured logs: one JSON object per line, built only from fields we choose (never request metadata)."""

from __future__ import annotations

import logging
import sys
from typing import Final

import orjson

_FIELDS: Final = ("event", "status", "reason", "field", "port", "db", "count")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {"level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for name in _FIELDS:
            if name in record.__dict__:
                doc[name] = record.__dict__[name]
        return orjson.dumps(doc).decode()


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("optin")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # aiohttp's access log records the peer address and user agent: it is never enabled.
    logging.getLogger("aiohttp.access").disabled = True
