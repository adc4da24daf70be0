"""What `activelearn serve` accepts of a request before any route looks at it: a body of
at most the route's bytes (serve.max_body, serve.max_setup_body), JSON objects at most
MAX_DEPTH deep, and /report/ names that can be files of the report. No web framework
here: app.py hands in the header and the body's chunks.

A body is refused by its Content-Length first, and else counted chunk by chunk as it
streams in (a chunked upload tells no length), so a body over the limit never sits in
memory whole. The JSON depth is scanned without recursion before json.loads, whose
scanner recurses once per level: 100,000 brackets would end in a RecursionError, and
64 levels are far more than any body Label Studio sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable
from typing import Any

import numpy as np

MAX_DEPTH = 64  # JSON arrays and objects inside each other
MAX_PATH = 1024  # characters of a /report/ name
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BLOCK = 1 << 20  # brackets counted at a time (json_depth: 8 bytes of numpy each)


class BadBody(ValueError):
    """A body that is not what the route reads (HTTP 400; the message says why)."""


class BodyTooLarge(ValueError):
    """A body over the route's byte limit (HTTP 413)."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(f"the body is over the {limit} bytes this route reads "
                         f"(serve.{setting})")


async def read_body(length: str | None, chunks: AsyncIterable[bytes], limit: int,
                    setting: str) -> bytes:
    """The body, refused with BodyTooLarge once it is known to exceed limit bytes
    (length: the Content-Length header, None for a chunked body; setting: the key that
    sets the limit, for the message)."""
    if length is not None:
        if not length.strip().isdigit():
            raise BadBody(f"Content-Length {length[:20]!r} is not a number of bytes")
        if int(length) > limit:
            raise BodyTooLarge(limit, setting)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit, setting)
    return bytes(body)


def json_depth(data: bytes) -> int:
    """How deep arrays and objects nest in a JSON text (strings skipped), without
    recursion: brackets outside strings, +1 per opening, -1 per closing."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for start in range(0, len(brackets), _BLOCK):  # in blocks: a 32 MB body of brackets
        steps = np.frombuffer(brackets[start:start + _BLOCK], dtype=np.uint8)  # would
        opening = (steps == ord("[")) | (steps == ord("{"))  # take 0.5 GB in one go
        levels = depth + np.cumsum(np.where(opening, 1, -1))
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """The JSON object a body holds; BadBody when it is no JSON, nests deeper than
    MAX_DEPTH or is another JSON value (what: the body's name, e.g. "the /predict body")."""
    if json_depth(data) > MAX_DEPTH:
        raise BadBody(f"{what} nests arrays or objects over {MAX_DEPTH} deep")
    try:
        body = json.loads(data)
    except UnicodeDecodeError:
        raise BadBody(f"{what} is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise BadBody(f"{what} is not JSON: {str(exc)[:120]}") from None
    if not isinstance(body, dict):
        raise BadBody(f"{what} is not a JSON object")
    return body


def report_name(path: str) -> str:
    """A name under the report folder as /report/ receives it (percent-decoded), checked
    for what the file system would choke on: BadBody when it holds a NUL or control
    character or is over MAX_PATH characters. Whether it names a file of the report is
    the caller's to check (resolved, inside the folder)."""
    if len(path) > MAX_PATH:
        raise BadBody(f"a report path of {len(path)} characters (at most {MAX_PATH})")
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise BadBody("a report path with a control character")
    return path or "index.html"
