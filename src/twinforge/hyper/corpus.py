"""What hyperphrases are made from: the dialog messages clean kept (their cleaned text) and the distilled modules'
sentences, each tagged with its conversation, and the train/val split by conversation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import TwinforgeError

# module fields whose sentences are the person's ideas in brief
MODULE_FIELDS = ("phrase", "hypotheses", "inversions", "transition_rules", "open_questions")
_CODE = re.compile(r"```.*?(?:```|$)", re.S)


@dataclass(frozen=True)
class Doc:
    conversation_id: str
    text: str
    language: str | None
    message_id: str | None = None
    module_id: str | None = None
    role: str | None = None


def documents(store, modules: bool = True) -> Iterator[Doc]:
    """Kept canonical dialog messages in conversation order (code blocks removed: they are not ideas), then the
    modules' sentences."""
    if not store.has_cleaned():
        raise TwinforgeError(f"nothing cleaned in {store.workspace}",
                             "run `twinforge ingest PATH` and `twinforge clean` first")
    for k in store.kept_messages(min_chars=0):
        text = _CODE.sub(" ", k.text) if "```" in k.text else k.text
        if text.strip():
            yield Doc(k.conversation_id, text, k.language, message_id=k.id, role=k.role)
    if not modules:
        return
    for rec in store.module_records():
        module_id, cid, lang, m = rec.id, rec.conversation_id, rec.language, rec.data
        for name in MODULE_FIELDS:
            values = m.get(name) or []
            for text in [values] if isinstance(values, str) else values:
                if isinstance(text, str) and text.strip():
                    yield Doc(cid, text, lang, module_id=module_id)


def _bucket(conversation_id: str, seed: int) -> float:
    h = hashlib.sha1(f"{seed}:{conversation_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split(conversation_ids: set[str], val_fraction: float, seed: int = 0) -> set[str]:
    """The held-out conversations: those whose hash falls below `val_fraction` — at least one (and never all)
    when there are two or more and val_fraction > 0, so a small archive still has something to measure on."""
    if val_fraction <= 0 or len(conversation_ids) < 2:
        return set()
    ranked = sorted(conversation_ids, key=lambda c: (_bucket(c, seed), c))
    val = {c for c in ranked if _bucket(c, seed) < val_fraction}
    if not val:
        val = {ranked[0]}
    if len(val) == len(ranked):
        val.discard(ranked[-1])
    return val
