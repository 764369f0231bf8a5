"""Peek at the head of a JSON file to learn its shape, then stream its conversation objects one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import ijson
import orjson

PROBE_BYTES = 256 * 1024


@dataclass
class JsonShape:
    """What the first part of a JSON file looks like.

    container: 'array'   — [conv, conv, ...]               (ChatGPT, Claude, DeepSeek exports)
               'wrapper' — {"conversations": [conv, ...]}  (some tools; Grok)
               'single'  — one conversation object           (API dumps, browser extensions)
               'map'     — {"name": conv, "name2": conv}     (fixtures keyed by case)
               'unknown' — none of these
    item_keys: keys of the first conversation object seen.
    keys:      every key name seen anywhere in the probed head (for nested hints such as 'fragments').
    """

    container: str
    top_keys: list[str] = field(default_factory=list)
    item_keys: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    complete: bool = False  # the whole file fit in the probe
    too_deep: int | None = None  # nesting passed MAX_DEPTH near this byte offset; the file is refused

    @property
    def item_prefix(self) -> str:
        return {"array": "item", "wrapper": "conversations.item"}.get(self.container, "")


MAX_DEPTH = 256  # chat exports nest about a dozen levels; far deeper is a hostile or broken file


def probe(head: bytes) -> JsonShape:
    """Classify from up to PROBE_BYTES of the file. A truncated head is fine: we stop at the cut.

    Memory and time stay linear in the head: the path is kept as a list (ijson's `parse` would build a prefix
    string per event, quadratic in the depth), and nesting past MAX_DEPTH stops the probe (`too_deep`)."""
    top_type = None
    top_keys: list[str] = []
    keys: set[str] = set()
    first_keys: dict[str, set[str]] = {}  # prefix of a shallow object -> keys of its objects
    complete = True
    path: list[str | None] = []  # ijson's prefix components: a map's current key, or 'item' in an array
    events = _Position(head)
    try:
        for event, value in ijson.basic_parse(events, use_float=True):
            if top_type is None:
                top_type = event
            if event == "map_key":
                keys.add(value)
                if len(path) == 1 and top_type == "start_map":
                    top_keys.append(value)
                if len(path) <= 3:  # shallow objects only: 'item', 'conversations.item', a map's first value
                    first_keys.setdefault(".".join(path[:-1]), set()).add(value)
                path[-1] = value
            elif event in ("start_map", "start_array"):
                path.append(None if event == "start_map" else "item")
                if len(path) > MAX_DEPTH:
                    return JsonShape("unknown", top_keys, set(), keys, False, too_deep=events.pos)
            elif event in ("end_map", "end_array"):
                path.pop()
    except ijson.JSONError:
        complete = False
    except Exception:  # yajl may raise other errors on a cut multibyte sequence
        complete = False

    if top_type == "start_array":
        return JsonShape("array", [], first_keys.get("item", set()), keys, complete)
    if top_type == "start_map":
        if "conversations" in top_keys and "conversations.item" in first_keys:
            return JsonShape("wrapper", top_keys, first_keys["conversations.item"], keys, complete)
        conv_markers = {"mapping", "chat_messages", "messages", "fragments"}
        if conv_markers & set(top_keys):
            return JsonShape("single", top_keys, set(top_keys), keys, complete)
        if top_keys and top_keys[0] in first_keys and conv_markers & first_keys[top_keys[0]]:
            return JsonShape("map", top_keys, first_keys[top_keys[0]], keys, complete)
    return JsonShape("unknown", top_keys, set(), keys, complete)


class _Position:
    """The head as a stream that knows how far the parser has read (for the refusal's byte offset)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        n = 16 * 1024 if n is None or n < 0 else min(n, 16 * 1024)  # small reads: a closer offset
        data = self.data[self.pos : self.pos + n]
        self.pos += len(data)
        return data


def iter_items(stream: BinaryIO, shape: JsonShape) -> Iterator[dict]:
    """Yield each conversation object, holding one at a time in memory (except 'single', which is one)."""
    if shape.container in ("array", "wrapper"):
        for obj in ijson.items(stream, shape.item_prefix, use_float=True):
            if isinstance(obj, dict):
                yield obj
    elif shape.container == "map":
        for key, obj in ijson.kvitems(stream, "", use_float=True):
            if isinstance(obj, dict):
                obj.setdefault("_key", key)
                yield obj
    elif shape.container == "single":
        obj = orjson.loads(stream.read())
        if isinstance(obj, dict):
            yield obj
