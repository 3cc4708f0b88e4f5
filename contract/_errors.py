"""Errors of the shared contract. Messages name the reason and the field, never a submitted value."""

from __future__ import annotations


class RegistryError(ValueError):
    """A registry file is not a valid metric registry."""


class ReportError(ValueError):
    """A report does not conform to the wire format or to its application's registry.

    ``code`` is machine-readable, ``path`` is the JSON path of the offending field
    (for example ``metrics.toolpath.pocket``), and ``status`` is the HTTP answer
    (400 malformed, 422 schema violation). The message never contains a submitted value.
    """

    def __init__(self, code: str, path: str, status: int = 422, detail: str = "") -> None:
        self.code = code
        self.path = path
        self.status = status
        self.detail = detail
        super().__init__(f"{code} at {path or '$'}" + (f": {detail}" if detail else ""))
