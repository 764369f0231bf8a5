"""The persona card: the twin's core card ("ядро ИИ-двойника"), generated from the corpus and kept editable.

`<ws>/persona.md` has three generated sections — recurring themes, the kinds of questions the person asks, their
characteristic thinking moves — each item backed by verbatim user lines with conversation and message ids, plus
a short summary and a machine-readable JSON block. Every generated section sits between markers carrying a hash of
the body as generated:

    <!-- twinforge:begin themes sha=1a2b3c4d5e6f -->
    ## Recurring themes
    …
    <!-- twinforge:end themes -->

A rebuild regenerates a section only while its body still matches that hash; a section the person edited keeps
their text (and its old hash, so it stays "edited" on later rebuilds too). Text outside the markers — the
`## My notes` section, or anything the person added — is never touched. `rebuild(discard_edits=True)` replaces
edited sections as well. The JSON block is always regenerated: it is data, not prose.

`system_prompt(store)` turns the card as it stands (edits and notes included) into a system prompt for `ask`,
`serve` and the dataset's system message.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..store import Store
from ..store.persona_card import (  # noqa: F401  (the card's format, re-exported for its writers)
    PersonaError,
    edited_sections,
    persona_path,
    read_data,
    render,
    system_prompt,
)
from ..text.stemming import stem_words
from ..text.stopwords import CHAT_STOPWORDS

if TYPE_CHECKING:
    from ..backends.config import BackendConfig

VERSION = 1
MAX_THEMES = 8
EXAMPLES = 3  # evidence quotes per item
QUOTE_MAX_CHARS = 320  # longer sentences are not picked as evidence (verbatim quotes are never cut)


# --- evidence: the person's own lines ------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One verbatim sentence of the person, with where it came from."""

    text: str
    conversation_id: str
    message_id: str
    title: str

    def cite(self) -> dict:
        return {"text": self.text, "conversation_id": self.conversation_id, "message_id": self.message_id,
                "title": self.title}


_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+[\"'»”)\]]*|$)", re.M)
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:-[^\W\d_]+)*")


def _user_messages(store: Store) -> list[tuple[str, str, str, str]]:
    """(message id, conversation id, title, cleaned text) of every kept user message, in conversation order."""
    return [(k.id, k.conversation_id, k.title, k.text)
            for k in store.kept_messages(roles=("user",), canonical=False, dialog=False, by_date=True)]


def _sentences(messages) -> list[Line]:
    out = []
    for mid, cid, title, text in messages:
        for s in _SENTENCE.findall(_CODE_FENCE.sub("\n", text)):
            s = s.strip()
            if len(_WORD.findall(s)) >= 3:
                out.append(Line(s, cid, mid, title))
    return out


def _stem(word: str) -> str:
    return stem_words([word.lower().replace("ё", "е")])[0]  # Russian for Cyrillic words, English for the rest


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text)}


@lru_cache(maxsize=1)
def _stop_stems() -> frozenset[str]:
    """Stems of function words: a concept made only of these ("таких", "this") is no theme. The list is the one
    the extractive backend picks concepts with, so it is the one that matches them."""
    return frozenset(_stem(w) for w in CHAT_STOPWORDS)


# --- kinds of questions --------------------------------------------------------------------------------------

# First match wins, so the more specific kinds come first. Patterns see the lowercased sentence.
QUESTION_KINDS: tuple[tuple[str, str, re.Pattern], ...] = tuple((k, d, re.compile(p)) for k, d, p in (
    ("what-if", "what if / suppose — thought experiments",
     r"что,? если|а если|что будет,? если|представь|допустим|предположим|\bwhat if\b|\bsuppose\b|\bimagine\b"
     r"|what would happen"),
    ("critique", "critique and inversion — turning a claim over, looking for blind spots",
     r"переверн|инверси|наоборот|слаб\w* мест|слеп\w* пятн|что не так|ошиба|где ошибк|не прав|контраргумент"
     r"|опроверг|критик|возрази|\bcounter|\bcritique|\bflaw|\bweak|what'?s wrong|devil'?s advocate|push back"
     r"|blind spot|\binvert"),
    ("hypothesis", "hypothesis — proposing an idea to test",
     r"\bможет\b|может быть|стоит ли|нужн\w* ли|гипотез|\bmaybe\b|\bshould (?:i|we)\b|would it|is it worth"
     r"|hypothes"),
    ("compare", "compare — this or that, differences, trade-offs",
     r"сравни|разниц|отлича|\bили\b|\bvs\.?\b|\bversus\b|\bcompare|\bdifference|better than|\bor\b"),
    ("estimate", "estimate — how much, how many, how long",
     r"посчитай|сколько|оцени|прикинь|how many|how much|how long|\bestimate|\bcalculate"),
    ("why", "why — causes and purposes",
     r"почему|зачем|отчего|с чего бы|\bwhy\b|what for\b|what makes"),
    ("how", "how — methods and mechanisms",
     r"\bкак\b|каким образом|\bhow\b"),
    ("explain", "explain — asking to show or explain",
     r"^(?:покажи|объясни|расскажи|разверни|explain|show|walk me)"),
    ("check", "check — testing a claim on a case",
     r"провер|\bverify|\btest\b|\bvalidate"),
    ("what", "what — definitions and identification",
     r"что такое|что значит|что это|\bчто\b|\bкакой|\bкакая|\bкакое|\bкакие|\bwhat\b|\bwhich\b|\bdefine"),
))
OTHER_KIND = ("other", "other questions and requests")
# Sentences without "?" still count as asks when they open with one of these requests.
_ASK_VERB = re.compile(
    r"^(?:(?:да|ну|хорошо|ок|тогда|а|но|yes|ok|so|now|then)[,.]?\s+(?:но\s+|but\s+)?)*"
    r"(посчитай|сравни|переверни|оцени|прикинь|проверь|проверим|объясни|представь|возрази|покажи|докажи|опровергни"
    r"|calculate|compare|estimate|invert|check|explain|imagine|critique|prove|show)\b", re.I)


def classify_question(sentence: str) -> str:
    """The kind of one question sentence (see QUESTION_KINDS), or "other"."""
    low = sentence.casefold()
    for kind, _, pattern in QUESTION_KINDS:
        if pattern.search(low):
            return kind
    return OTHER_KIND[0]


def is_question(sentence: str) -> bool:
    return sentence.rstrip("\"'»”)] ").endswith("?") or bool(_ASK_VERB.match(sentence.strip()))


def question_kinds(lines: list[Line]) -> list[dict]:
    """Kinds of questions by count, each with a description, its share and example questions."""
    by_kind: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        if is_question(line.text):
            by_kind[classify_question(line.text)].append(line)
    total = sum(len(v) for v in by_kind.values())
    described = {k: d for k, d, _ in QUESTION_KINDS} | {OTHER_KIND[0]: OTHER_KIND[1]}
    out = []
    for kind, found in sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        out.append({"kind": kind, "description": described[kind], "count": len(found),
                    "share": round(len(found) / total, 3), "examples": [x.cite() for x in _pick(found)]})
    return out


def _pick(lines: list[Line], n: int = EXAMPLES) -> list[Line]:
    """Up to n lines, from different conversations first, skipping ones too long to quote whole."""
    fit = [x for x in lines if len(x.text) <= QUOTE_MAX_CHARS] or lines
    picked, seen = [], set()
    for x in fit:
        if x.conversation_id not in seen:
            picked.append(x)
            seen.add(x.conversation_id)
    for x in fit:
        if x not in picked:
            picked.append(x)
    return picked[:n]


# --- recurring themes ----------------------------------------------------------------------------------------

def _modules(store: Store):
    from ..distill.export import load_modules

    return [m for m, _ in load_modules(store, kind="dialog")]


def _graph_communities(store: Store) -> list[list[str]] | None:
    """The memory's concept-graph communities (normalised concepts), largest first; None before `memory build`."""
    from ..memory.graph import graph_json

    groups = [c["concepts"] for c in graph_json(store)["communities"] if c["concepts"]]
    return groups or None


def themes(store: Store, modules, lines: list[Line]) -> tuple[list[dict], str]:
    """Recurring themes and where they came from ("graph" communities or "concepts" frequencies).

    A concept is matched to the person's lines by word stems (Russian or English Snowball), so inflected forms
    count: «гиперфраза», «гиперфразы» and «гиперфраз» are one theme.
    """
    line_stems = [(line, _stems(line.text)) for line in lines]
    forms: dict[tuple, Counter] = defaultdict(Counter)  # stem key -> surface forms seen
    in_modules: dict[tuple, set[str]] = defaultdict(set)
    for m in modules:
        for c in m.concepts:
            words = _WORD.findall(c)
            if not words or len(c) < 3:
                continue
            key = tuple(sorted({_stem(w) for w in words}))
            if set(key) <= _stop_stems():
                continue
            forms[key][c.strip()] += 1
            in_modules[key].add(m.id)
    per_key = {}
    for key in forms:
        hits = [line for line, st in line_stems if set(key) <= st]
        per_key[key] = hits

    def label(key) -> str:
        return forms[key].most_common(1)[0][0]

    communities = _graph_communities(store)
    source = "graph" if communities else "concepts"
    groups: list[list[tuple]] = []
    if communities:
        from ..memory.graph import normalize_concept

        index = {normalize_concept(f): key for key in forms for f in forms[key]}
        used: set[tuple] = set()
        for community in communities:  # a stem key the lemmatiser split over two communities joins the first
            keys = [k for k in dict.fromkeys(index[c] for c in community if c in index) if k not in used]
            used.update(keys)
            if keys:
                groups.append(keys)
    else:
        groups = [[k] for k in forms]

    out = []
    for keys in groups:
        hits = list(dict.fromkeys(x for k in keys for x in per_key[k]))
        convs = {x.conversation_id for x in hits}
        mods = set().union(*(in_modules[k] for k in keys))
        if not convs and not mods:
            continue
        keys = sorted(keys, key=lambda k: (-len(per_key[k]), label(k)))
        related = Counter()
        for m in modules:
            if m.id in mods:
                for c in m.concepts:
                    ck = tuple(sorted({_stem(w) for w in _WORD.findall(c)}))
                    if ck in forms and ck not in keys:
                        related[label(ck)] += 1
        out.append({
            "theme": label(keys[0]), "concepts": [label(k) for k in keys], "conversations": len(convs),
            "modules": len(mods), "mentions": len(hits),
            "related": [c for c, _ in sorted(related.items(), key=lambda kv: (-kv[1], kv[0]))[:5]],
            "evidence": [x.cite() for x in _pick(hits)],
        })
    out.sort(key=lambda t: (-t["conversations"], -t["modules"], -t["mentions"], t["theme"].casefold()))
    return out[:MAX_THEMES], source


# --- thinking moves ------------------------------------------------------------------------------------------

def thinking_moves(modules, lines: list[Line]) -> list[dict]:
    """The modules' meta-moves by count, each with the phrases that show it and the person's own lines."""
    from ..distill.schema import META_MOVES

    by_message = defaultdict(list)
    for line in lines:
        by_message[line.message_id].append(line)
    counts = Counter(m.meta_move.strip() or "other" for m in modules)
    total = sum(counts.values())
    out = []
    for move, n in sorted(counts.items(), key=lambda kv: (kv[0] == "other", -kv[1], kv[0])):
        mods = [m for m in modules if (m.meta_move.strip() or "other") == move]
        evidence = []
        for m in mods:  # the module's own verbatim quotes, matched back to whole kept sentences
            for q in m.quotes:
                evidence += [x for x in by_message.get(q.message_id, []) if q.text.strip() in x.text
                             or x.text in q.text]
        evidence = list(dict.fromkeys(evidence))
        out.append({"move": move, "known": move in META_MOVES, "count": n, "share": round(n / total, 3),
                    "modules": [{"module_id": m.id, "conversation_id": m.conversation_id, "title": m.title,
                                 "phrase": m.phrase} for m in mods[:EXAMPLES]],
                    "evidence": [x.cite() for x in _pick(evidence)]})
    return out


# --- the card ------------------------------------------------------------------------------------------------

def collect(store: Store) -> dict:
    """Everything the card says, computed from the store (the machine-readable block)."""
    messages = _user_messages(store)
    if not messages:
        raise PersonaError(f"no kept user messages in {store.workspace}",
                           "run `twinforge ingest PATH` and `twinforge clean` first (and `twinforge distill` for "
                           "themes and thinking moves)")
    lines = _sentences(messages)
    modules = _modules(store)
    found_themes, source = themes(store, modules, lines)
    return {
        "version": VERSION,
        "corpus": {"user_messages": len(messages), "conversations": len({m[1] for m in messages}),
                   "sentences": len(lines), "modules": len(modules)},
        "themes_from": source,
        "themes": found_themes,
        "questions": question_kinds(lines),
        "moves": thinking_moves(modules, lines),
    }


def _quote_md(q: dict) -> list[str]:
    return [f"  > {q['text']}", f"  > — «{q['title']}», conversation `{q['conversation_id']}`, "
                                f"message `{q['message_id']}`"]


def _summary_md(data: dict, written: str | None) -> str:
    lines = ["## In short", ""]
    if written:
        return "\n".join(lines + [written.strip()])
    c = data["corpus"]
    parts = [f"Drawn from {c['user_messages']} user messages in {c['conversations']} conversations"
             f" and {c['modules']} thinking modules."]
    if data["themes"]:
        parts.append("Recurring themes: " + ", ".join(t["theme"] for t in data["themes"][:5]) + ".")
    asked = [q for q in data["questions"] if q["kind"] != "other"][:3]
    if asked:
        parts.append("Most questions are " + ", ".join(f"{q['kind']} ({q['count']})" for q in asked) + ".")
    moves = [m for m in data["moves"] if m["move"] != "other"][:3]
    if moves:
        parts.append("Characteristic moves: " + ", ".join(f"{m['move']} ({m['count']})" for m in moves) + ".")
    return "\n".join(lines + [" ".join(parts)])


def _themes_md(data: dict) -> str:
    out = ["## Recurring themes", ""]
    if not data["themes"]:
        out.append("No concepts yet: run `twinforge distill`, then rebuild the card.")
    for t in data["themes"]:
        also = f" (with {', '.join(t['concepts'][1:])})" if len(t["concepts"]) > 1 else ""
        out.append(f"- **{t['theme']}**{also} — in {t['conversations']} conversations, {t['modules']} modules"
                   + (f"; related: {', '.join(t['related'])}" if t["related"] else ""))
        for q in t["evidence"]:
            out += _quote_md(q)
    return "\n".join(out)


def _questions_md(data: dict) -> str:
    out = ["## Kinds of questions asked", ""]
    if not data["questions"]:
        out.append("No questions found in the kept messages.")
    for q in data["questions"]:
        out.append(f"- **{q['kind']}** — {q['description']}: {q['count']} ({q['share']:.0%})")
        for e in q["examples"]:
            out += _quote_md(e)
    return "\n".join(out)


def _moves_md(data: dict) -> str:
    out = ["## Characteristic thinking moves", ""]
    if not data["moves"]:
        out.append("No modules yet: run `twinforge distill`, then rebuild the card.")
    for m in data["moves"]:
        out.append(f"- **{m['move']}** — {m['count']} modules ({m['share']:.0%})")
        for mod in m["modules"]:
            out.append(f"  - «{mod['title']}»: {mod['phrase']}")
        for e in m["evidence"]:
            out += _quote_md(e)
    return "\n".join(out)


def _data_md(data: dict) -> str:
    return ("## Data\n\n<!-- machine-readable; regenerated on every rebuild, edits here are not kept -->\n\n"
            "```json\n" + json.dumps(data, ensure_ascii=False, indent=1) + "\n```")


@dataclass
class PersonaBuild:
    path: Path
    problems: list[str] = field(default_factory=list)  # e.g. the model's summary failed: the counted one stands in


def build_persona(store: Store, backend: BackendConfig | None = None, *, discard_edits: bool = False,
                  progress: bool = False) -> PersonaBuild:
    """Write (or update) `<ws>/persona.md` from the corpus, keeping hand edits.

    With a model backend (not extractive) the summary is written by the model from the card's data; otherwise it
    is composed from the counts. The rest never needs a model: it is counted and quoted from the store. A model
    summary that failed is reported in `problems`, and the card gets the counted summary instead.
    """
    data = collect(store)
    path = persona_path(store)
    written, problems = None, []
    if backend and backend.name != "extractive":
        written, error = _model_summary(store, backend, data)
        if error:
            problems.append(f"the summary by {backend.name} failed ({error}); the card has the counted one")
    generated = {"summary": _summary_md(data, written), "themes": _themes_md(data),
                 "questions": _questions_md(data), "moves": _moves_md(data)}
    old = path.read_text(encoding="utf-8") if path.exists() else None
    # the data block names what was kept as edited, so computing it needs the merge first
    _, kept = render(generated | {"data": ""}, old, discard_edits)
    data["edited"] = kept
    text, _ = render(generated | {"data": _data_md(data)}, old, discard_edits)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return PersonaBuild(path, problems)


def _model_summary(store: Store, backend: BackendConfig, data: dict) -> tuple[str | None, str | None]:
    """(three sentences about the person as a thinker, from the card's data; None and why when the model fails)."""
    from ..backends import get_backend
    from ..backends.base import BackendError, Request
    from ..backends.cache import CachedBackend

    brief = {"themes": [t["theme"] for t in data["themes"]],
             "questions": {q["kind"]: q["count"] for q in data["questions"]},
             "moves": {m["move"]: m["count"] for m in data["moves"]},
             "examples": [e["text"] for t in data["themes"][:3] for e in t["evidence"][:1]]}
    request = Request(messages=[
        {"role": "system", "content": "You describe a person as a thinker from statistics of their conversations. "
                                      "Write three plain sentences in the second person, in the language of the "
                                      "examples. No lists, no praise."},
        {"role": "user", "content": json.dumps(brief, ensure_ascii=False)}], max_tokens=200)
    try:
        answer = CachedBackend(store, get_backend(backend), "persona.v1").complete_many([request])[0]
    except BackendError as e:
        return None, str(e)
    if answer.error is not None:  # complete_many returns a failed call as a value, not an exception
        return None, str(answer.error)
    text = (answer.text or "").strip()
    return (text, None) if text else (None, "the model answered nothing")


