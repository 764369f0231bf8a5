"""The expansion ratio, two ways: pages out ÷ pages in, and unique pages out ÷ pages in (uniqueness.py)."""

from __future__ import annotations

import hashlib
import sqlite3

import orjson

from ..records import PAGE_CHARS
from ..store import expand_reads
from . import source, uniqueness
from .views import VIEWS


def pages(chars: int) -> float:
    return round(chars / PAGE_CHARS, 2)


def source_distinct(db: sqlite3.Connection) -> uniqueness.Distinct:
    """Distinct 5-grams of the kept dialogs the expanded modules come from (each conversation once)."""
    inp = uniqueness.Distinct()
    for conversation_id in expand_reads.expanded_conversations(db):
        for turn in source.dialog(db, conversation_id):
            inp.add(turn.text)
    return inp


class _Acc:
    def __init__(self) -> None:
        self.examples = self.chars = self.tokens = 0
        self.distinct = uniqueness.Distinct(uniqueness.template_frame())

    def add(self, messages: list[dict], chars: int, tokens: int) -> None:
        self.examples += 1
        self.chars += chars
        self.tokens += tokens
        for m in messages:
            self.distinct.add(m["content"])


def volumes(db: sqlite3.Connection) -> dict:
    """Pages in (the source dialogs' kept characters, each conversation once) → pages out, per view, per kind of
    view (template: wording around the module's own text; generated: written by a model) and in total.

    A view's ratio is its pages out over all pages in, so the views' ratios add up to the total ratio. Unique
    pages (uniqueness.py) do not add up: text two views share counts once in the total. `duplicates`: examples
    whose whole chat equals an earlier example of another module.
    """
    chars_in = expand_reads.expanded_source_chars(db)
    inp = source_distinct(db)

    def block(acc: _Acc) -> dict:
        share = acc.distinct.count / inp.count if inp.count else None  # unique ratio, unrounded
        return {"examples": acc.examples, "chars": acc.chars, "tokens": acc.tokens, "pages": pages(acc.chars),
                "ratio": round(acc.chars / chars_in, 2) if chars_in else None,
                "unique_pages": pages(round(chars_in * share)) if share is not None else None,
                "unique_ratio": round(share, 2) if share is not None and chars_in else None}

    per_view: dict[str, _Acc] = {}
    kinds = {"template": _Acc(), "generated": _Acc()}
    overall, seen, duplicates = _Acc(), set(), 0
    for e in expand_reads.example_texts(db):
        messages = orjson.loads(e.messages)
        key = hashlib.sha1(e.messages.encode("utf-8", "surrogatepass")).digest()
        duplicates += key in seen
        seen.add(key)
        for acc in (per_view.setdefault(e.view, _Acc()), kinds["template" if e.view in VIEWS else "generated"],
                    overall):
            acc.add(messages, e.chars, e.tokens)
    blocks = {v: block(acc) for v, acc in per_view.items()}
    ordered = {v: blocks.pop(v) for v in list(VIEWS) if v in blocks} | blocks
    return {"pages_in": pages(chars_in), "chars_in": chars_in, "definition": DEFINITION, "views": ordered,
            "kinds": {k: block(acc) for k, acc in kinds.items() if acc.examples}, "total": block(overall),
            "duplicates": duplicates}


DEFINITION = ("unique pages = pages in × distinct word 5-grams out (template frame text cut out) ÷ distinct word "
              "5-grams of the source dialogs")


def unique_of(db: sqlite3.Connection, rows: list[dict]) -> dict:
    """Unique pages of a dataset's rows ({messages, meta: {view, conversation_id}}; system turns left out) per
    view and in total, over the pages in of the source dialogs of their conversations."""
    conversations = sorted({r["meta"]["conversation_id"] for r in rows})
    inp, chars_in = uniqueness.Distinct(), 0
    for cid in conversations:
        turns = source.dialog(db, cid)
        chars_in += source.chars(turns)
        for turn in turns:
            inp.add(turn.text)
    pages_in = pages(chars_in)
    per_view: dict[str, uniqueness.Distinct] = {}
    total = uniqueness.Distinct(uniqueness.template_frame())
    for r in rows:
        acc = per_view.setdefault(r["meta"]["view"], uniqueness.Distinct(uniqueness.template_frame()))
        for m in r["messages"]:
            if m["role"] != "system":
                acc.add(m["content"])
                total.add(m["content"])
    unique = uniqueness.unique_pages(total, inp, pages_in)
    return {"pages_in": pages_in, "unique_pages": unique,
            "unique_ratio": round(total.count / inp.count, 2) if inp.count else None,
            "views": {v: uniqueness.unique_pages(d, inp, pages_in) for v, d in sorted(per_view.items())},
            "definition": DEFINITION}
