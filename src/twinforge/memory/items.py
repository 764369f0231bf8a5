"""What the memory holds: modules, paper digests, and passages of kept canonical messages, as `Item` records.

Each item carries a content hash over everything that shapes its index entry, so a build can tell new, changed
and unchanged items apart without looking at vectors. Long messages are cut into overlapping passages at
paragraph or sentence ends near `passage_chars`; every passage keeps its message id, so evidence points back
to the exact message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..distill.schema import Module
from ..store import Store
from ..text.stemming import stem_text
from .config import MemoryConfig

HASH_VERSION = "1"  # bump when what an item's text or stems are made of changes


@dataclass
class Item:
    id: str
    kind: str  # module / paper / message
    conversation_id: str
    message_id: str | None
    module_id: str | None
    title: str
    date: float | None
    language: str | None
    text: str

    @property
    def stems(self) -> str:
        return stem_text(f"{self.title}\n{self.text}", self.language)

    @property
    def embed_text(self) -> str:
        """What the dense model sees: the conversation title gives a short passage its topic."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    @property
    def hash(self) -> str:
        key = "\0".join([HASH_VERSION, self.kind, self.conversation_id, self.message_id or "", self.title,
                         str(self.date or ""), self.language or "", self.text])
        return hashlib.sha1(key.encode()).hexdigest()


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))


def split_passages(text: str, size: int, overlap: int) -> list[str]:
    """Cut `text` into pieces of at most ~`size` characters, each repeating ~`overlap` characters of the one
    before. Cuts prefer a paragraph end, then a line end, a sentence end, a space, in the last third of a piece."""
    text = text.strip()
    if len(text) <= size:
        return [text] if text else []
    out = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            window = text[start + size * 2 // 3:end]
            for br in _BREAKS:
                hits = list(br.finditer(window))
                if hits:
                    end = start + size * 2 // 3 + hits[-1].end()
                    break
        piece = text[start:end].strip()
        if piece:
            out.append(piece)
        if end >= len(text):
            break
        nxt = max(end - overlap, start + 1)
        # start the overlap at a word boundary, not mid-word
        space = text.find(" ", nxt, end)
        start = space + 1 if space != -1 and overlap else nxt
    return out


def module_text(m: Module) -> str:
    """A module as one searchable text: its three layers, then its details."""
    parts = [m.phrase]
    if m.concepts:
        parts.append("; ".join(m.concepts))
    if m.meta_move:
        parts.append(m.meta_move)
    for field in (m.axes, m.inversions, m.hypotheses, m.transition_rules, m.open_questions):
        parts.extend(field)
    if m.paper:
        p = m.paper
        parts += [p.problem, p.method, *p.results, *p.limitations, p.application]
    return "\n".join(x.strip() for x in parts if x and x.strip())


def module_items(store: Store) -> Iterator[Item]:
    for r in store.module_records():
        mod = Module.model_validate(r.data)
        first = mod.quotes[0].message_id if mod.quotes else (mod.message_ids[0] if mod.message_ids else None)
        kind = "paper" if mod.kind == "paper" else "module"
        yield Item(
            id=f"{kind}:{mod.id}", kind=kind, conversation_id=mod.conversation_id, message_id=first,
            module_id=mod.id, title=r.title or mod.title, date=r.created_at,
            language=mod.language or r.language, text=module_text(mod),
        )


def message_items(store: Store, cfg: MemoryConfig) -> Iterator[Item]:
    """Passages of the dialog messages clean kept on the canonical branch (cleaned text: boilerplate stripped,
    secrets redacted)."""
    for k in store.kept_messages(dialog=False):
        for i, piece in enumerate(split_passages(k.text, cfg.passage_chars, cfg.overlap)):
            yield Item(
                id=f"msg:{k.id}:{i}", kind="message", conversation_id=k.conversation_id,
                message_id=k.id, module_id=None, title=k.title,
                date=k.created_at if k.created_at is not None else k.conversation_created_at,
                language=_language(k.language, piece), text=piece,
            )


def _language(stored: str | None, text: str) -> str:
    """Clean's language for the message, else detected here (older workspaces, undetermined short texts)."""
    if stored and stored != "und":
        return stored
    from ..text.language import detect

    return detect(text)


def collect(store: Store, cfg: MemoryConfig) -> Iterator[Item]:
    yield from module_items(store)
    if cfg.messages:
        yield from message_items(store, cfg)
