"""The persona card file, `<ws>/persona.md`: its sections between hash-carrying markers, its data block, and the
text it gives as the twin's system prompt. Reading it needs no stage: the dataset, memory and serve read the card
through here; the persona stage (persona/card.py) writes it.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..errors import TwinforgeError
from .db import Store

PERSONA_FILE = "persona.md"
SECTIONS = ("summary", "themes", "questions", "moves")  # prose sections, in card order; then "data"
PROMPT_MAX_CHARS = 4000
_BEGIN = re.compile(r"<!-- twinforge:begin ([a-z][a-z-]*) sha=([0-9a-f]{12}) -->\n")
_END = "<!-- twinforge:end {} -->"
_HEADER = """# Persona card

<!-- twinforge:persona — written by `twinforge persona` from your conversations. Edit anything: a generated
section you change keeps your text on every rebuild (its stored sha no longer matches); add your own under
"My notes". `twinforge persona --rebuild --discard-edits` regenerates the sections you edited. -->
"""
_NOTES = """## My notes

<!-- Yours: rebuilds never touch this section, and it goes into the twin's system prompt. -->
"""
_PROMPT_INTRO = ("You are the thinking twin of the person described below, built from their own conversations with "
                 "AI assistants. Think the way they think: their themes, their kinds of questions, their moves. "
                 "Answer in the language of the question, plainly, in their voice, and ground claims in the "
                 "sources you are given.")
class PersonaError(TwinforgeError):
    """The persona card cannot be built or read."""


def _sha(body: str) -> str:
    norm = "\n".join(line.rstrip() for line in body.strip().splitlines())
    return hashlib.sha256(norm.encode()).hexdigest()[:12]


def _section(name: str, body: str, sha: str | None = None) -> str:
    if sha is None:  # generated: a quote that happens to contain a marker must not end the section early
        body = body.replace("<!-- twinforge:", "<!- twinforge:")
    body = body.strip()
    return f"<!-- twinforge:begin {name} sha={sha or _sha(body)} -->\n{body}\n{_END.format(name)}"


def parse(text: str) -> list[tuple]:
    """The card as segments: ("text", str) for free text, ("section", name, sha, body) for generated ones."""
    out: list[tuple] = []
    pos = 0
    while True:
        m = _BEGIN.search(text, pos)
        if not m:
            break
        end = text.find(_END.format(m.group(1)), m.end())
        if end < 0:  # an unclosed marker: leave the rest as the person's text
            break
        out.append(("text", text[pos:m.start()]))
        out.append(("section", m.group(1), m.group(2), text[m.end():end].strip("\n")))
        pos = end + len(_END.format(m.group(1)))
    out.append(("text", text[pos:]))
    return [s for s in out if s[0] == "section" or s[1]]


def edited_sections(text: str) -> list[str]:
    """Names of generated sections whose body no longer matches the hash they were written with."""
    return [s[1] for s in parse(text) if s[0] == "section" and _sha(s[3]) != s[2]]


def render(generated: dict[str, str], old: str | None = None, discard_edits: bool = False) -> tuple[str, list[str]]:
    """The card text from freshly generated section bodies, merged into the old card: edited sections and free
    text are kept. Returns (text, names of sections kept as edited)."""
    order = [*SECTIONS, "data"]
    if old is None:
        segments = [("text", _HEADER), *(("section", n, None, generated[n]) for n in SECTIONS),
                    ("text", "\n\n" + _NOTES), ("section", "data", None, generated["data"])]
        return _compose(segments), []
    out: list[tuple] = []
    kept = []
    for seg in parse(old):
        if seg[0] == "text":
            out.append(seg)
            continue
        _, name, sha, body = seg
        edited = _sha(body) != sha and name != "data"
        if edited and not discard_edits:
            out.append(seg)
            kept.append(name)
        elif name in generated:
            out.append(("section", name, None, generated[name]))
        # a generated section this version no longer writes, never edited: dropped
    present = {s[1] for s in out if s[0] == "section"}
    for name in order:
        if name in present:
            continue
        # a section missing from the old card (new, or its markers deleted) goes after its predecessor
        before = [n for n in order[:order.index(name)] if n in present]
        at = 0 if not out or out[0][0] == "section" else 1
        if before:
            at = max(i for i, s in enumerate(out) if s[0] == "section" and s[1] == before[-1]) + 1
        if name == "data":
            at = len(out)
        out.insert(at, ("section", name, None, generated[name]))
        present.add(name)
    return _compose(out), kept


def _compose(segments: list[tuple]) -> str:
    """Segments back to text: free text verbatim, a blank line before a section and after it."""
    text = ""
    for seg in segments:
        if seg[0] == "text":
            piece = seg[1]
            if text and not piece.startswith("\n"):
                piece = "\n" + piece
        else:
            piece = _section(seg[1], seg[3], seg[2])
            if text:
                text = text.rstrip("\n") + "\n\n"
        text += piece
    return text.rstrip("\n") + "\n"


def persona_path(store: Store) -> Path:
    return store.ws.persona_card


def read_data(store: Store) -> dict | None:
    """The card's machine-readable block, or None when there is no card."""
    path = persona_path(store)
    if not path.exists():
        return None
    for seg in parse(path.read_text(encoding="utf-8")):
        if seg[0] == "section" and seg[1] == "data":
            m = re.search(r"```json\n(.*)\n```", seg[3], re.S)
            if m:
                try:
                    return json.loads(m.group(1))
                except json.JSONDecodeError as e:
                    raise PersonaError(f"the data block of {path} is not valid JSON ({e})",
                                       "run `twinforge persona --rebuild` to regenerate it") from e
    return None


_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)
_CITATION = re.compile(r"^\s*> — .*$\n?", re.M)
def system_prompt(store: Store, max_chars: int = PROMPT_MAX_CHARS) -> str | None:
    """The card as it stands (hand edits and notes included) as a system prompt; None when there is no card.

    The data block, comments and citation lines are left out; quotes stay, as samples of the person's voice.
    Past max_chars the generated sections are shortened — first to one quote per item, then to no quotes, then by
    dropping their last lines — those the person left alone before those they edited; their notes never.
    """
    path = persona_path(store)
    if not path.exists():
        return None
    parts: list[list] = []  # [text, kind]
    for seg in parse(path.read_text(encoding="utf-8")):
        if seg[0] == "section" and seg[1] == "data":
            continue
        body = seg[1] if seg[0] == "text" else seg[3]
        body = _CITATION.sub("", _COMMENT.sub("", body))
        body = re.sub(r"^# Persona card\s*$", "", body, flags=re.M).strip()
        if body and body != "## My notes":
            # True: generated and untouched, False: generated and edited, None: the person's own text
            parts.append([body, (_sha(seg[3]) == seg[2]) if seg[0] == "section" else None])
    if not parts:
        return None
    _shorten(parts, max_chars - len(_PROMPT_INTRO) - 2)
    return _PROMPT_INTRO + "\n\n" + "\n\n".join(p[0] for p in parts)


def _shorten(parts: list[list], budget: int) -> None:
    """Generated sections the person left alone shrink first, the ones they edited only if that is not enough;
    free text (notes, their own sections) never."""
    def size() -> int:
        return sum(len(p[0]) + 2 for p in parts)

    for tier in (True, False):  # untouched sections, then edited ones
        for keep in (1, 0):
            if size() <= budget:
                return
            for p in parts:
                if p[1] is tier:
                    p[0] = _thin_quotes(p[0], keep)
        while size() > budget:
            cuttable = [p for p in parts if p[1] is tier and "\n" in p[0]]
            if not cuttable:
                break
            longest = max(cuttable, key=lambda p: len(p[0]))
            longest[0] = longest[0].rsplit("\n", 1)[0]


def _thin_quotes(text: str, keep: int) -> str:
    """At most `keep` quote lines after each item."""
    out, run = [], 0
    for line in text.splitlines():
        if line.lstrip().startswith("> "):
            run += 1
            if run > keep:
                continue
        else:
            run = 0
        out.append(line)
    return "\n".join(out)
