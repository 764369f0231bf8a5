"""From drafts to a module: quotes pinned to the person's messages, chunk drafts merged, ids made stable."""

from __future__ import annotations

import hashlib
import re

from . import taxonomy
from .render import Dialog, Turn
from .repair import Draft
from .rules import meta_move_by_rules, sentences
from .schema import Module, Quote

MIN_QUOTE_CHARS = 10  # shorter "quotes" ("Да.", "ok") say nothing about the person
MAX_QUOTES = 8
MIN_QUOTES = 2  # fewer surviving quotes are topped up with the person's own closest sentences
PHRASE_OWN_WORDS = 0.5  # a phrase sharing less of its words with the person's text is not in their words
MAX_ITEMS = {"concepts": 12}  # after merging chunks
MAX_OTHER_ITEMS = 8
RANK_FUSION_K = 5  # a concept's weight from one chunk's list: 1 / (K + its place there), summed over chunks
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


_WORD = re.compile(r"\w{4,}")


def _stems(text: str) -> set[str]:
    # five-letter prefixes: a crude stem that lets Russian case endings and English suffixes meet
    return {w[:5] for w in _WORD.findall(text.lower()) if not w.isdigit()}


def _user_sentences(user_turns: list[Turn]) -> list[tuple[str, Turn]]:
    return [(s, t) for t in user_turns for s in sentences(t.text) if MIN_QUOTE_CHARS <= len(s) <= 400]


def ground_phrase(phrase: str, user_turns: list[Turn]) -> str:
    """The phrase in the person's words. Small models often lift it from the assistant's reply; when most of its
    words are not the person's, the person's own sentence closest to it stands in (ties: the earlier one)."""
    own = set().union(*(_stems(t.text) for t in user_turns)) if user_turns else set()
    words = _stems(phrase)
    if not words or len(words & own) / len(words) >= PHRASE_OWN_WORDS:
        return phrase
    best, score = None, 0.0
    for sent, _ in _user_sentences(user_turns):
        ws = _stems(sent)
        sc = len(ws & words) / len(ws | words) if ws else 0.0
        if sc > score:
            best, score = sent, sc
    return best if best is not None else phrase


def top_up_quotes(quotes: list[Quote], user_turns: list[Turn], about: str) -> list[Quote]:
    """Up to MIN_QUOTES, the person's sentences that share most words with the module (verbatim, with ids)."""
    if len(quotes) >= MIN_QUOTES:
        return quotes
    topic = _stems(about)
    ranked = sorted(((len(_stems(s) & topic), -i, s, t) for i, (s, t) in enumerate(_user_sentences(user_turns))),
                    reverse=True)
    out = list(quotes)
    for overlap, _, sent, turn in ranked:
        if len(out) >= MIN_QUOTES or overlap == 0:
            break
        if all(sent not in q.text and q.text not in sent for q in out):  # no quote twice, even trimmed
            out.append(Quote(text=sent, message_id=turn.id))
    return out


def resolve_meta_move(value: str, person_text: str) -> tuple[str, str]:
    """(taxonomy name, the backend's own word where it was not that name). A word the taxonomy maps (a synonym,
    another language) is kept as its entry; one it cannot map is rejected and the rules choose from the person's
    text. The raw word travels with the module either way (`meta_move_raw`), so a rejection is never silent."""
    name, how = taxonomy.map_meta_move(value)
    if name is None:
        return meta_move_by_rules(person_text), value
    return name, ("" if how == "name" else value)  # "Inversion", "scaling estimate": the name itself


def meta_move_outcome(module: Module) -> str | None:
    """'mapped' (the backend's word named a taxonomy entry), 'rejected' (it named none: rules chose), or None."""
    if not module.meta_move_raw:
        return None
    return "mapped" if taxonomy.map_meta_move(module.meta_move_raw)[0] is not None else "rejected"


def _merge_ranked(lists: list[list[str]]) -> list[str]:
    """Ranked lists (each chunk's concepts, best first) as one, by rank fusion: each list gives an item
    1 / (RANK_FUSION_K + its place), summed (ties: first mention first). What several chunks name rises; taking
    the first chunk's list whole would leave a long dialog's later chunks almost no room under the cap."""
    score: dict[str, float] = {}
    text: dict[str, str] = {}
    for ranked in lists:
        for place, x in enumerate(ranked):
            key = x.casefold()
            text.setdefault(key, x)
            score[key] = score.get(key, 0.0) + 1.0 / (RANK_FUSION_K + place)
    return [text[k] for k in sorted(score, key=lambda k: -score[k])]


def merge(drafts: list[tuple[Draft, int]]) -> Draft:
    """One draft from the chunks' drafts: title, phrase and meta-move from the chunk with the most of the
    person's text (the first on a tie); lists united, first mention first, without repeats; concepts by how many
    chunks name them and how high."""
    main = max(drafts, key=lambda d: d[1])[0] if drafts else None
    if main is None:
        raise ValueError("nothing to merge")
    if len(drafts) == 1:
        return main
    fields = {"concepts": _merge_ranked([d.concepts for d, _ in drafts])}
    for name in (*LIST_FIELDS, "quotes"):
        if name == "concepts":
            continue
        seen: set[str] = set()
        items: list[str] = []
        for d, _ in drafts:
            for x in getattr(d, name):
                if x.casefold() not in seen:
                    seen.add(x.casefold())
                    items.append(x)
        fields[name] = items
    return main.model_copy(update=fields)


def build_module(dialog: Dialog, draft: Draft, backend: str, prompt_version: str,
                 person: bool = True) -> tuple[Module, int]:
    """The module for a dialog from its merged draft; returns it and how many quotes were dropped. `person`: the
    text is the person's own (a dialog), so the phrase is grounded in their words and quotes topped up; a paper's
    text is its authors', so neither applies."""
    quotes, dropped = match_quotes(draft.quotes, dialog.user_turns)
    phrase = ground_phrase(draft.phrase, dialog.user_turns) if person else draft.phrase
    if not any(q.text == phrase for q in quotes):  # a phrase in the person's exact words is a quote too
        quotes += match_quotes([phrase], dialog.user_turns)[0][: MAX_QUOTES - len(quotes)]
    lists = {name: getattr(draft, name)[: MAX_ITEMS.get(name, MAX_OTHER_ITEMS)] for name in LIST_FIELDS}
    if person:
        quotes = top_up_quotes(quotes, dialog.user_turns, " ".join([phrase, *lists["concepts"]]))
    meta_move, raw_move = resolve_meta_move(draft.meta_move, "\n\n".join(t.text for t in dialog.user_turns))
    module = Module(
        id=module_id(dialog.conversation_id),
        conversation_id=dialog.conversation_id,
        message_ids=list(dict.fromkeys(t.id for t in dialog.turns)),
        title=draft.title or dialog.title,
        language=dialog.language,
        phrase=phrase,
        meta_move=meta_move,
        meta_move_raw=raw_move,
        quotes=quotes,
        backend=backend,
        prompt_version=prompt_version,
        **lists,
    )
    return module, dropped
