"""The fast JSON path of ingest decides exactly as the strict decoder, on valid and hostile bodies."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings, strategies as st

from optin.contract import ReportError, decode_json
from optin.contract._report import _decode_strict

_text = st.text(alphabet=st.sampled_from(list('ab:"\\/{}[],\u00e9\u20ac\U0001f600 \t\n')), max_size=12)
_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | _text
)
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5), max_leaves=30
)


def _outcome(decode: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "ok", decode(body)
    except ReportError as error:
        return "error", (error.code, error.status)


def _same(body: bytes) -> None:
    assert _outcome(decode_json, body) == _outcome(_decode_strict, body)


@settings(max_examples=400, deadline=None)
@given(_json, st.booleans())
def test_fast_and_strict_decoding_agree_on_valid_json(doc: Any, ascii_only: bool) -> None:
    _same(json.dumps(doc, ensure_ascii=ascii_only).encode())


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_text, _scalars, min_size=1, max_size=4), _text, _scalars, st.integers(0, 3))
def test_fast_and_strict_decoding_agree_when_a_key_is_repeated(
    doc: dict[str, Any], key: str, value: Any, where: int
) -> None:
    text = json.dumps(doc, ensure_ascii=False)
    extra = f"{json.dumps(key, ensure_ascii=False)}: {json.dumps(value)}"
    first = json.dumps(next(iter(doc)), ensure_ascii=False)
    body = (
        text[:-1] + ", " + extra + ", " + f"{first}: 1" + "}" if where else "{" + extra + ", " + extra + ", " + text[1:]
    )
    _same(body.encode())


def test_fast_and_strict_decoding_agree_on_the_edges() -> None:
    for body in (
        b'{"a": 1, "a": 2}',
        b'{"a:": 1, "a:": 2}',
        b'{"a": ":", "a": ":"}',
        b'{"a": 1, "\\u0061": 2}',
        b'{"x": "\\u003a", "y": 1, "y": 2}',
        b"[" * 7 + b"]" * 7,
        b"[" * 6 + b"]" * 6,
        json.dumps(list(range(1025))).encode(),
        json.dumps(list(range(1024))).encode(),
        json.dumps({str(i): i for i in range(1025)}).encode(),
        b'{"a": NaN}',
        b"1e999",
        b"9" * 400,
        b"\xef\xbb\xbf{}",
        b"",
        b"  {} ",
        b"{} {}",
        b'"\xff"',
    ):
        _same(body)
