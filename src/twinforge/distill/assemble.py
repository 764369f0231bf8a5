"""From drafts to a module: quotes pinned to the person's messages, chunk drafts merged, ids made stable."""

from __future__ import annotations

import hashlib

from .render import Dialog, Turn
from .repair import Draft
from .rules import normalize_meta_move
from .schema import Module, Quote

MIN_QUOTE_CHARS = 10  # shorter "quotes" ("Да.", "ok") say nothing about the person
MAX_QUOTES = 8
MAX_ITEMS = {"concepts": 12}  # after merging chunks
MAX_OTHER_ITEMS = 8
LIST_FIELDS = ("concepts", "axes", "inversions", "hypotheses", "transition_rules", "open_questions")
_WRAP = " \t\n\"'«»“”„`…"


def module_id(conversation_id: str) -> str:
    return "m-" + hashlib.sha256(conversation_id.encode()).hexdigest()[:16]


def _squash(text: str) -> tuple[str, list[int]]:
    """Whitespace runs as one space, with each kept character's position in the original."""
    chars, pos = [], []
    space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if space:
                continue
            ch, space = " ", True
        else:
            space = False
        chars.append(ch)
        pos.append(i)
    return "".join(chars), pos


def match_quotes(quotes: list[str], user_turns: list[Turn]) -> tuple[list[Quote], int]:
    """Quotes that are the person's own text, verbatim (up to whitespace and wrapping quote marks), with the id
    of the message they come from. Returns them and how many were dropped."""
    squashed = [(t, *_squash(t.text)) for t in user_turns]
    out: list[Quote] = []
    dropped = 0
    for q in quotes:
        q = q.strip(_WRAP).removesuffix("...").strip(_WRAP)
        needle = " ".join(q.split())
        found = None
        if len(needle) >= MIN_QUOTE_CHARS:
            for turn, flat, pos in squashed:
                j = flat.find(needle)
                if j >= 0:
                    found = Quote(text=turn.text[pos[j] : pos[j + len(needle) - 1] + 1], message_id=turn.id)
                    break
        if found is None:
            dropped += 1
        elif all(found.text != o.text for o in out) and len(out) < MAX_QUOTES:
            out.append(found)
    return out, dropped


def merge(drafts: list[tuple[Draft, int]]) -> Draft:
    """One draft from the chunks' drafts: title, phrase and meta-move from the chunk with the most of the
    person's text (the first on a tie); lists united, first mention first, without repeats."""
    main = max(drafts, key=lambda d: d[1])[0] if drafts else None
    if main is None:
        raise ValueError("nothing to merge")
    if len(drafts) == 1:
        return main
    fields = {}
    for name in (*LIST_FIELDS, "quotes"):
        seen: set[str] = set()
        items: list[str] = []
        for d, _ in drafts:
            for x in getattr(d, name):
                if x.casefold() not in seen:
                    seen.add(x.casefold())
                    items.append(x)
        fields[name] = items
    return main.model_copy(update=fields)


def build_module(dialog: Dialog, draft: Draft, backend: str, prompt_version: str) -> tuple[Module, int]:
    """The module for a dialog from its merged draft; returns it and how many quotes were dropped."""
    quotes, dropped = match_quotes(draft.quotes, dialog.user_turns)
    if not any(q.text == draft.phrase for q in quotes):  # a phrase in the person's exact words is a quote too
        quotes += match_quotes([draft.phrase], dialog.user_turns)[0][: MAX_QUOTES - len(quotes)]
    lists = {name: getattr(draft, name)[: MAX_ITEMS.get(name, MAX_OTHER_ITEMS)] for name in LIST_FIELDS}
    module = Module(
        id=module_id(dialog.conversation_id),
        conversation_id=dialog.conversation_id,
        message_ids=list(dict.fromkeys(t.id for t in dialog.turns)),
        title=draft.title or dialog.title,
        language=dialog.language,
        phrase=draft.phrase,
        meta_move=normalize_meta_move(draft.meta_move),
        quotes=quotes,
        backend=backend,
        prompt_version=prompt_version,
        **lists,
    )
    return module, dropped
