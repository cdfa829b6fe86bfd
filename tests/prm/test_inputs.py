"""prm.inputs: what every outside text and JSON body goes through."""

from __future__ import annotations

import json

import pytest

from prm.inputs import MAX_DEPTH, InputError, clean_text, json_depth, parse_json


def test_clean_text_removes_nul_replaces_lone_surrogates_and_caps() -> None:
    assert clean_text("a\x00b\ud800c\udfff", 100) == "ab\ufffdc\ufffd"
    assert clean_text("x" * 50, 10) == "x" * 10
    assert clean_text("ключ \U0001f600") == "ключ \U0001f600"  # real characters stay
    clean_text("\ud800" * 10).encode()  # encodable: what psycopg needs


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[[[[[[["}', 1),  # brackets inside strings do not count
        ('["\\"[[[[", "]]"]', 1),  # nor after an escaped quote
        ("[" * 5000 + "]" * 5000, 5000),
        ('"unterminated [[[[', 0),
    ],
)
def test_json_depth_counts_real_nesting_only(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_parse_json_cleans_every_string_keys_too() -> None:
    body = json.dumps({"k\u0000": ["v\u0000", {"\ud800": "\udfff"}]}).encode()
    assert parse_json(body) == {"k": ["v", {"\ufffd": "\ufffd"}]}


@pytest.mark.parametrize(
    "body, status",
    [
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), 400),
        (b"[" * 100_000, 400),  # never a RecursionError
        (b'{"a": ' * 1100 + b"1" + b"}" * 1100, 400),
        (b"\xff\xfe{}", 400),
        (b'{"a": NaN}', 400),
        (b'{"a": 1', 400),
        (b"x" * 5000, 413),
    ],
)
def test_parse_json_refuses_with_a_4xx(body: bytes, status: int) -> None:
    with pytest.raises(InputError) as caught:
        parse_json(body, max_bytes=None if status == 400 else 4096)
    assert caught.value.status == status


def test_parse_json_takes_nesting_up_to_the_limit() -> None:
    body = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert json_depth(body) == MAX_DEPTH
    parse_json(body)
