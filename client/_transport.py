"""Sending bytes to the collector: the `Transport` seam, its `Response`, and Retry-After parsing.

The standard-library implementation is `HttpTransport` in `_http.py`, imported only when the
first upload is prepared (on the worker thread): a host app with feedback off never loads
urllib, ssl or email.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    retry_after_s: float | None = None


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Response:
        """Send a POST; raise OSError when no HTTP answer arrives (refused, reset, timed out)."""
        ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # only for the rare HTTP-date form

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
