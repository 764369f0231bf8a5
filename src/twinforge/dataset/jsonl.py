"""JSON Lines: one example per line, UTF-8, keys in a fixed order, so equal data gives equal bytes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson


def dumps(obj: dict) -> bytes:
    return orjson.dumps(obj) + b"\n"


def write(path: Path, rows: Iterable[dict]) -> int:
    n = 0
    with open(path, "wb") as f:
        for row in rows:
            f.write(dumps(row))
            n += 1
    return n


def read(path: Path) -> Iterator[dict]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)
