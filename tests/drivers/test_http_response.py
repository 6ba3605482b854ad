"""PosResponse.json: pydantic-core's parser first, ``json.loads`` for what it refuses, so
that a POS's answer is read exactly as ``json.loads`` reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_drivers._http_response import PosResponse

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _answer(body: bytes) -> PosResponse:
    return PosResponse(200, "OK", {"Content-Type": "application/json"}, body)


@given(json_values)
def test_any_json_reads_as_json_loads_reads_it(value: Any) -> None:
    body = json.dumps(value).encode()

    assert _answer(body).json() == json.loads(body)


@pytest.mark.parametrize("body", [
    "\ufeff{\"tableId\": \"T1\"}".encode(),  # a byte-order mark
    json.dumps({"tableId": "T1"}).encode("utf-16"),
    b'{"name": "\\ud800"}',  # a lone surrogate, escaped
    b'{"price": NaN}',
])
def test_what_pydantic_core_refuses_json_loads_still_reads(body: bytes) -> None:
    read = _answer(body).json()

    assert json.dumps(read) == json.dumps(json.loads(body))


@pytest.mark.parametrize("body", [b"", b"{", b"<html>", b'{"a": 1,}', b"\xff\xfe\x00"])
def test_a_body_that_is_not_json_is_json_loads_own_error(body: bytes) -> None:
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
        _answer(body).json()
