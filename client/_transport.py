"""Sending bytes to the collector: a `Transport` seam and the standard-library HTTP implementation.

The HTTP transport verifies TLS (with an optional CA bundle), takes proxy settings from the
environment (urllib's ProxyHandler reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY), and bounds
every connect and read by a timeout. It sends no cookies and no identifying headers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import urllib.request

# urllib, ssl and email are imported when the first upload is prepared (on the worker thread),
# never at `import optin.client`: a host app with feedback off pays nothing for them.

USER_AGENT = "optin"  # deliberately no version, platform or app name


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
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpTransport:
    def __init__(self, ca_bundle: str | None = None) -> None:
        import ssl
        import urllib.request

        context = ssl.create_default_context(cafile=ca_bundle)
        self._opener: urllib.request.OpenerDirector = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
        self._opener.addheaders = [("User-Agent", USER_AGENT)]

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Response:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with self._opener.open(request, timeout=timeout_s) as answer:
                answer.read()
                return Response(answer.status, parse_retry_after(answer.headers.get("Retry-After")))
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, parse_retry_after(error.headers.get("Retry-After")))
        except urllib.error.URLError as error:
            reason = error.reason
            raise reason if isinstance(reason, OSError) else OSError(str(reason)) from None
