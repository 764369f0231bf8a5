"""Cut a big JSON array of conversations into byte ranges that parse on their own, for parallel parsers.

A cut goes just before a conversation object at the top level. Candidates are found by a byte pattern —
`}` `,` `{` then the first key the file's first conversation starts with — and each candidate is proven by
parsing the object that starts there and checking it is a conversation of the same format. A pattern inside a
JSON string cannot match (quotes in strings are escaped), and an inner object is no conversation, so a proven
cut is a real one. When no cut is proven the file is parsed as one range.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import ijson

WINDOW = 4 * 1024 * 1024


@dataclass(frozen=True)
class Span:
    start: int  # first byte of the range in the file
    end: int | None  # one past the last byte; None = to the end of the file
    prefix: bytes = b""  # bytes that make the range a JSON array on its own
    suffix: bytes = b""


class RangeReader:
    """prefix + file[start:end] + suffix, as one readable stream (all ijson needs is `read`)."""

    def __init__(self, f: BinaryIO, span: Span):
        self.f = f
        self.parts = [span.prefix] if span.prefix else []
        f.seek(span.start)
        self.left = None if span.end is None else span.end - span.start
        self.suffix = span.suffix

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> RangeReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, n: int = -1) -> bytes:
        if n == 0:  # ijson probes with read(0) to learn bytes vs str
            return b""
        if self.parts:
            return self.parts.pop()
        if self.left is None or self.left > 0:
            want = n if n and n > 0 else WINDOW
            if self.left is not None:
                want = min(want, self.left)
            data = self.f.read(want)
            if data:
                if self.left is not None:
                    self.left -= len(data)
                return data
            self.left = 0
        out, self.suffix = self.suffix, b""
        return out


def first_key(head: bytes) -> bytes | None:
    m = re.match(rb'\s*\[\s*\{\s*("(?:[^"\\]|\\.){1,64}")\s*:', head)
    return m.group(1) if m else None


def spans(f: BinaryIO, size: int, head: bytes, parts: int, is_conversation: Callable[[dict], bool]) -> list[Span]:
    """Up to `parts` ranges covering the file's top-level array; one range when no cut can be proven."""
    key = first_key(head)
    if key is None or parts < 2:
        return [Span(0, None)]
    boundary = re.compile(rb"\}\s*,\s*(\{\s*" + re.escape(key) + rb"\s*:)")
    cuts: list[tuple[int, int]] = []  # (one past the previous object's `}`, start of the next object)
    for k in range(1, parts):
        cut = _find_cut(f, size, size * k // parts, boundary, is_conversation)
        if cut and (not cuts or cut[1] > cuts[-1][1]):
            cuts.append(cut)
    if not cuts:
        return [Span(0, None)]
    out = []
    start, prefix = 0, b""
    for end, nxt in cuts:
        out.append(Span(start, end, prefix, b"]"))
        start, prefix = nxt, b"["
    out.append(Span(start, None, prefix, b""))
    return out


def _find_cut(f: BinaryIO, size: int, at: int, boundary: re.Pattern[bytes], is_conversation) -> tuple[int, int] | None:
    pos = at
    while pos < size:
        f.seek(pos)
        window = f.read(WINDOW + 256)
        for m in boundary.finditer(window):
            end, nxt = pos + m.start() + 1, pos + m.start(1)
            if _proves(f, nxt, is_conversation):
                return end, nxt
        if len(window) <= WINDOW:
            return None
        pos += WINDOW
    return None


def _proves(f: BinaryIO, start: int, is_conversation) -> bool:
    f.seek(start)
    try:
        obj = next(ijson.items(RangeReader(f, Span(start, None, b"[")), "item", use_float=True))
    except Exception:  # not a parseable object here: not a cut
        return False
    return isinstance(obj, dict) and is_conversation(obj)
