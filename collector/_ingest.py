"""Ingest, as pure functions: from request bytes and headers to a checked report, or a named rejection.

Nothing here logs or keeps a body; every rejection carries a reason code and, for schema
errors, the path of the offending field, never a submitted value.
"""

from __future__ import annotations

import zlib
from typing import Final

from optin.contract import CheckedReport, ReportChecker, ReportError

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


class Rejected(Exception):
    """A request the collector refuses; ``status`` is the HTTP answer, ``code`` the counted reason."""

    def __init__(self, status: int, code: str, path: str = "", detail: str = "") -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.path = path
        self.detail = detail

    def body(self) -> dict[str, str]:
        out = {"error": self.code}
        if self.path:
            out["path"] = self.path
        if self.detail:
            out["detail"] = self.detail
        return out


def check_headers(content_type: str, encoding: str, length: int | None, max_bytes: int) -> None:
    if content_type != "application/json" and content_type.split(";")[0].strip().lower() != "application/json":
        raise Rejected(415, "unsupported_media_type", detail="send application/json")
    if encoding and encoding.strip().lower() not in ("", "identity", "gzip"):
        raise Rejected(415, "unsupported_encoding", detail="send identity or gzip")
    if length is not None and length > max_bytes:
        raise Rejected(413, "too_large", detail=f"at most {max_bytes} bytes")


def inflate(body: bytes, max_bytes: int) -> bytes:
    """Gunzip without ever producing more than ``max_bytes``: a gzip bomb stops at the limit.

    One call: zlib stops at ``max_bytes + 1`` bytes of output (then the body is refused), and below
    that it has read all of the input, so the stream must have ended there, with nothing after it.
    """
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        raise Rejected(400, "bad_gzip") from None
    if len(out) > max_bytes:
        raise Rejected(413, "too_large_decompressed", detail=f"at most {max_bytes} bytes after decompression")
    if not inflater.eof or inflater.unused_data:
        raise Rejected(400, "bad_gzip", detail="truncated or trailing data")
    return out


def ingest(body: bytes, encoding: str, checker: ReportChecker, now: int, max_bytes: int) -> CheckedReport:
    """Bytes of one request → a report checked against its registry (as rows), or Rejected."""
    if len(body) > max_bytes:
        raise Rejected(413, "too_large", detail=f"at most {max_bytes} bytes")
    if encoding and encoding.strip().lower() == "gzip":
        body = inflate(body, max_bytes)
    try:
        return checker.check(body, now)
    except ReportError as error:
        raise Rejected(error.status, error.code, error.path, error.detail) from None
