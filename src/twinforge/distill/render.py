"""What a backend is shown: a dialog cut into chunks that fit its context, rendered through a versioned prompt.

Prompt templates are files, `prompts/<version>.<language>.txt`, with `=== system`, `=== user` and `=== retry`
sections and `{placeholders}` (replaced by name only, so the JSON examples' braces stay as written; `{meta_moves}`
lists the taxonomy's moves with their definitions, so the prompt follows taxonomy.yaml). A dialog gets the
template of its language (clean's majority language), English where there is none.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..backends.base import Request
from . import taxonomy
from .repair import Draft, DraftError, parse_draft
from .schema import output_schema

PROMPT_VERSION = "module.v3"  # v3: the JSON example names no move (a small model copied "inversion" from it); v2: the taxonomy listed
PROMPTS = Path(__file__).with_name("prompts")
FALLBACK_LANGUAGE = "en"
RETRY_ANSWER_CHARS = 1500  # of the failed answer, shown back in the retry: enough to see the slip, small context
HEADER_CHARS = 30  # what a message's "[user 0123abcd…]" header costs in a chunk
LANGUAGE_NAMES = {"ru": "Russian", "en": "English", "uk": "Ukrainian", "de": "German", "fr": "French",
                  "es": "Spanish", "it": "Italian", "pt": "Portuguese", "zh": "Chinese", "ja": "Japanese"}
_SECTION = re.compile(r"^=== (system|user|retry)[ \t]*$", re.MULTILINE)


@dataclass(slots=True)
class Turn:
    id: str  # message id
    role: str  # user / assistant
    text: str  # clean's text (or a piece of it, inside a chunk)


@dataclass
class Dialog:
    conversation_id: str
    title: str
    language: str
    turns: list[Turn]
    input_hash: str = ""  # set by the stage: see compute_hash

    @property
    def user_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.role == "user"]

    @property
    def user_chars(self) -> int:
        return sum(len(t.text) for t in self.user_turns)

    def compute_hash(self, chunk_chars: int, overlap_chars: int) -> str:
        """Everything that shapes what the backend sees; with the prompt version and model it says 'done'."""
        payload = [self.title, self.language, chunk_chars, overlap_chars, [(t.id, t.role, t.text) for t in self.turns]]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Chunk:
    index: int
    turns: list[Turn] = field(default_factory=list)

    @property
    def user_chars(self) -> int:
        return sum(len(t.text) for t in self.turns if t.role == "user")

    @property
    def user_text(self) -> str:
        return "\n\n".join(t.text for t in self.turns if t.role == "user")

    @property
    def assistant_text(self) -> str:
        return "\n\n".join(t.text for t in self.turns if t.role != "user")


# --- chunking --------------------------------------------------------------------------------------------


def chunk_dialog(dialog: Dialog, chunk_chars: int, overlap_chars: int) -> list[Chunk]:
    """Cut at message boundaries into chunks of at most ~chunk_chars; each chunk after the first starts with the
    last ~overlap_chars of the one before, so a thought split by the cut is seen whole once. A message longer
    than a chunk is split at paragraphs, then sentences, then words."""
    room = max(100, chunk_chars - overlap_chars - HEADER_CHARS)
    pieces = [Turn(t.id, t.role, p) for t in dialog.turns for p in split_text(t.text, room)]
    chunks: list[Chunk] = []
    current: list[Turn] = []
    size = 0
    for p in pieces:
        cost = len(p.text) + HEADER_CHARS
        if current and size + cost > chunk_chars:
            chunks.append(Chunk(len(chunks), current))
            current = _tail(current, overlap_chars)
            size = sum(len(t.text) + HEADER_CHARS for t in current)
        current.append(p)
        size += cost
    if current:
        chunks.append(Chunk(len(chunks), current))
    return chunks


def _tail(turns: list[Turn], chars: int) -> list[Turn]:
    """The last ~chars of a chunk, as whole turns where they fit and the end of one turn where not."""
    out: list[Turn] = []
    left = chars
    for t in reversed(turns):
        if left <= 0:
            break
        if len(t.text) <= left:
            out.append(t)
            left -= len(t.text)
        else:
            cut = t.text[-left:]
            if " " in cut:
                cut = cut.split(" ", 1)[1]  # start at a word
            if cut.strip():
                out.append(Turn(t.id, t.role, cut))
            break
    return out[::-1]


def split_text(text: str, size: int) -> list[str]:
    """Consecutive slices of at most `size` characters (joined, they are the text again), each cut at the
    coarsest boundary in its last three quarters: a paragraph, a line, a sentence, a word, else anywhere."""
    pieces, start = [], 0
    while len(text) - start > size:
        window = text[start : start + size]
        cut = start + size
        for sep in ("\n\n", "\n", ". ", " "):
            j = window.rfind(sep)
            if j > size // 4:
                cut = start + j + len(sep)
                break
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return [p for p in pieces if p.strip()]


# --- prompts ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    version: str
    language: str
    system: str
    user: str
    retry: str


@cache
def load_template(language: str, version: str = PROMPT_VERSION) -> Template:
    """The prompt for a dialog in `language`; English where no translation exists."""
    path = PROMPTS / f"{version}.{language}.txt"
    if not path.exists():
        language = FALLBACK_LANGUAGE
        path = PROMPTS / f"{version}.{language}.txt"
    text = path.read_text(encoding="utf-8")
    parts = _SECTION.split(text)  # ['', 'system', body, 'user', body, 'retry', body]
    sections = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
    return Template(version, language, sections["system"], sections["user"], sections["retry"])


def fill(template: str, **values: str) -> str:
    for k, v in values.items():
        template = template.replace("{" + k + "}", v)
    return template


def render_dialog(turns: list[Turn]) -> str:
    return "\n\n".join(f"[{t.role} {t.id}]\n{t.text}" for t in turns)


class PromptStrategy:
    """A model writes the module from the rendered dialog; one retry shows it what was wrong."""

    retries = 1

    def __init__(self, version: str = PROMPT_VERSION):
        self.version = version

    def request(self, dialog: Dialog, chunk: Chunk, chunks: int, max_tokens: int | None = None) -> Request:
        t = load_template(dialog.language, self.version)
        part = "" if chunks == 1 else fill(_PART[t.language], n=str(chunk.index + 1), total=str(chunks))
        values = {"title": dialog.title, "language": dialog.language,
                  "language_name": LANGUAGE_NAMES.get(dialog.language, dialog.language),
                  "part": part, "dialog": render_dialog(chunk.turns), "meta_moves": taxonomy.prompt_list()}
        return Request([{"role": "system", "content": fill(t.system, **values)},
                        {"role": "user", "content": fill(t.user, **values)}],
                       json_schema=output_schema(), max_tokens=max_tokens)

    def draft(self, answer: str, dialog: Dialog, chunk: Chunk) -> Draft:
        return drop_echoes(parse_draft(answer), load_template(dialog.language, self.version).system)

    def retry(self, request: Request, answer: str, error: str, dialog: Dialog) -> Request:
        t = load_template(dialog.language, self.version)
        note = fill(t.retry, error=error)
        shown = answer if len(answer) <= RETRY_ANSWER_CHARS else answer[:RETRY_ANSWER_CHARS] + "…"
        return Request([*request.messages, {"role": "assistant", "content": shown}, {"role": "user", "content": note}],
                       json_schema=request.json_schema, max_tokens=request.max_tokens, temperature=request.temperature)


def drop_echoes(draft: Draft, prompt: str) -> Draft:
    """Small models copy the prompt into the answer ("A ↔ B", "what stays unresolved"): an item that the
    instructions themselves contain is an echo, not content, and goes."""
    lowered = prompt.casefold()

    def echo(x: str) -> bool:
        x = x.casefold().strip()
        return not x.strip(" .…") or x in _EXAMPLE_VALUES or (len(x) >= 12 and x in lowered)

    if echo(draft.phrase):
        raise DraftError("phrase repeats the instructions instead of saying what the dialog says")
    kept = {name: [x for x in getattr(draft, name) if not echo(x)] for name in _ECHO_FIELDS}
    if not kept["concepts"]:
        raise DraftError("concepts only repeat the instructions; name the dialog's own concepts")
    return draft.model_copy(update=kept)


_EXAMPLE_VALUES = {"a ↔ b", "a <-> b", "..."}
_ECHO_FIELDS = ("concepts", "axes", "inversions", "hypotheses", "transition_rules", "open_questions", "quotes")
_PART = {"ru": "Это часть {n} из {total} длинного диалога: выдели то, что есть в этой части.",
         "en": "This is part {n} of {total} of a long dialog: distill what this part contains."}
