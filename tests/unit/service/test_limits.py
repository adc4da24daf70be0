"""What serve accepts of a request (service/limits.py): bodies counted while they stream
in, JSON depth scanned without recursion (brackets inside strings do not count), and
/report/ names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from activelearn.service.limits import (
    MAX_DEPTH,
    BadBody,
    BodyTooLarge,
    json_depth,
    json_object,
    read_body,
    report_name,
)


@pytest.mark.parametrize(("text", "depth"), [
    (b"{}", 1),
    (b"12", 0),
    (b'{"a": [1, {"b": []}]}', 4),
    (b'{"a": "[[[[{{{{"}', 1),  # brackets in a string
    (b'{"a": "\\"[[[", "b": [[]]}', 3),  # an escaped quote does not end the string
    (b'["\\\\", [[]]]', 3),  # an escaped backslash does end it
    (b"[" * 100_000, 100_000),
    # counted in blocks of a million brackets: the depth carries across them
    (b"[]" * 600_000 + b"[" * 3_000_000 + b"]" * 2_999_990 + b"[[", 3_000_000),
    (b"[" * 1_048_575 + b"]" * 1_048_575 + b"[[[" + b"]" * 3, 1_048_575),
])
def test_json_depth_counts_brackets_outside_strings(text, depth):
    assert json_depth(text) == depth


def test_json_object_refuses_depth_over_the_bound_and_other_values():
    ok = b'{"t": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert json_object(ok, "the body")["t"]
    with pytest.raises(BadBody, match=f"over {MAX_DEPTH} deep"):
        json_object(b'{"t": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}", "the body")
    with pytest.raises(BadBody, match="the body is not a JSON object"):
        json_object(b"[1]", "the body")
    with pytest.raises(BadBody, match="not UTF-8"):
        json_object(b'{"a": "\xff"}', "the body")
    with pytest.raises(BadBody, match="is not JSON"):
        json_object(b"{'a': 1}", "the body")


async def stream(sizes: list[int], seen: list[int]) -> AsyncIterator[bytes]:
    for size in sizes:
        seen.append(size)
        yield b"x" * size


def test_a_body_is_refused_by_its_length_before_a_chunk_is_read():
    seen: list[int] = []
    with pytest.raises(BodyTooLarge, match=r"over the 100 bytes .*serve.max_body"):
        asyncio.run(read_body("101", stream([10], seen), 100, "max_body"))
    assert seen == []
    with pytest.raises(BadBody, match="Content-Length '-5' is not a number"):
        asyncio.run(read_body("-5", stream([10], seen), 100, "max_body"))


def test_a_chunked_body_is_refused_at_the_chunk_that_passes_the_limit():
    seen: list[int] = []
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(None, stream([40, 40, 40, 40, 40], seen), 100, "max_body"))
    assert seen == [40, 40, 40]  # the rest never read
    assert asyncio.run(read_body(None, stream([50, 50], []), 100, "max_body")) == b"x" * 100


@pytest.mark.parametrize(("name", "why"), [
    ("a\x00b", "control character"),
    ("index.html\n", "control character"),
    ("x" * 1025, "1025 characters"),
])
def test_report_names_the_file_system_would_choke_on(name, why):
    with pytest.raises(BadBody, match=why):
        report_name(name)


def test_an_empty_report_name_is_the_index():
    assert report_name("") == "index.html"
    assert report_name("curve.csv") == "curve.csv"
