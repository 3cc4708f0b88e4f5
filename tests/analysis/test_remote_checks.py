"""What the HTTP source does with an answer that breaks the rules (defence in depth)."""

from __future__ import annotations

import pytest

from optin.analysis import RemoteError, Table
from optin.analysis._remote import checked


def test_rows_under_k_are_blanked_and_a_low_k_is_refused() -> None:
    sent = Table(
        "OS",
        ("value", "installations", "share"),
        [("windows", 40, 0.8), ("linux", 3, 0.06), ("macos", None, None)],
        10,
        1,
    )
    got = checked(sent, 10)
    assert got.rows == [("windows", 40, 0.8), ("linux", None, None), ("macos", None, None)] and got.suppressed == 2
    assert checked(sent, 50).rows[0] == ("windows", None, None)
    with pytest.raises(RemoteError):
        checked(Table("OS", sent.columns, sent.rows, 5), 10)
    with pytest.raises(RemoteError):
        checked(Table("raw", ("inst_key", "value"), [(1, 2)], 10), 10)
    with pytest.raises(RemoteError):  # every answer counts installations; anything else is refused
        checked(Table("Rejected", ("period", "reason", "reports"), [("2026-03-02", "schema", 4)], 10), 10)
