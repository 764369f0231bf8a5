"""Peek at the head of a JSON file to learn its shape, then stream its conversation objects one at a time."""

from __future__ import annotations

import io
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

    @property
    def item_prefix(self) -> str:
        return {"array": "item", "wrapper": "conversations.item"}.get(self.container, "")


def probe(head: bytes) -> JsonShape:
    """Classify from up to PROBE_BYTES of the file. A truncated head is fine: we stop at the cut."""
    top_type = None
    top_keys: list[str] = []
    keys: set[str] = set()
    first_keys: dict[str, set[str]] = {}  # prefix of an object -> its keys, first object only per prefix
    complete = True
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head)):
            if top_type is None:
                top_type = event
            if event == "map_key":
                keys.add(value)
                if prefix == "" and top_type == "start_map":
                    top_keys.append(value)
                first_keys.setdefault(prefix, set()).add(value)
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
