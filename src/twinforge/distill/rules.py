"""Deterministic distillation for the no-model backend (distill/offline.py), and the meta-move both paths share.

Concepts are the person's salient noun phrases, the meta-move comes from the prototype classifier, axes,
inversions, hypotheses and transition rules from cue patterns, the phrase is their central claim or question. No
model, no paraphrase: every sentence it puts in a module is the person's, verbatim.
"""

from __future__ import annotations

import re

from ..backends.base import Request
from .moves import classify as classify_move
from .offline import draft_fields
from .render import Chunk, Dialog
from .repair import Draft, object_of, validate_draft

EXTRACTIVE_VERSION = "extractive.v6"  # v6: axes of two-branch rules; v5: an "а"-definition against the run of definitions before it (issue 13)
MAX_RULE_ITEMS = 3

_I = re.IGNORECASE

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_BULLET = re.compile(r"^(?:[-*•>]+|\d+[.)])\s+")
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_HYPOTHESIS = re.compile(r"гипотез|предполож|возможно|может быть|вероятно|hypothes|\bsuppose|\bperhaps\b|"
                         r"\bmaybe\b|\bprobably\b", _I)
_TRANSITION = re.compile(r"\bесли\b.*\bто\b|\bкогда\b.*\bто\b|\bif\b.*\bthen\b|\bwhen\b.*\bthen\b", _I)
# Only explicit oppositions: "или"/"or" join too many things that are not axes.
_AXIS = re.compile(r"([^\W\d_]{3,})\s+(?:vs\.?|versus|↔|против)\s+([^\W\d_]{3,})", _I)
_AXIS_STOP = {"нет", "нибудь", "также", "тоже", "более", "менее", "другой", "другое", "something", "anything",
              "other", "more", "less", "otherwise", "whether", "either", "neither", "этого", "того", "чего"}


def meta_move_by_rules(text: str) -> str:
    """The taxonomy's move the text makes: the offline classifier (prototypes by embedding, plus cue words)."""
    return classify_move(text)


def sentences(text: str) -> list[str]:
    """The person's sentences, each a verbatim slice of the text (code blocks left out)."""
    out = []
    for part in _SENTENCE_END.split(_FENCE.sub("\n", text)):
        part = part.strip()
        m = _BULLET.match(part)
        part = part[m.end():] if m else part
        if len(part) >= 3 and any(ch.isalpha() for ch in part):
            out.append(part)
    return out


def _matching(sents: list[str], rx: re.Pattern) -> list[str]:
    return [s for s in sents if rx.search(s)][:MAX_RULE_ITEMS]


def _axes(text: str) -> list[str]:
    out: list[str] = []
    for a, b in _AXIS.findall(text):
        if a.casefold() in _AXIS_STOP or b.casefold() in _AXIS_STOP or a.casefold() == b.casefold():
            continue
        axis = f"{a} ↔ {b}"
        if axis not in out:
            out.append(axis)
    return out[:MAX_RULE_ITEMS]


_SCHEMA = {  # the extractive backend fills strings with its top sentences in order, arrays with keyphrases
    "type": "object",
    "properties": {"phrase": {"type": "string"}, "second": {"type": "string"}, "third": {"type": "string"},
                   "concepts": {"type": "array", "items": {"type": "string"}, "maxItems": 8}},
    "required": ["phrase", "second", "third", "concepts"],
}


class ExtractiveStrategy:
    """The offline distiller (distill/offline.py) over the person's text of each chunk. The request still goes
    through the extractive backend and the call cache, so runs resume and re-runs are free as with any backend."""

    retries = 0  # deterministic: asking again gives the same answer

    def __init__(self) -> None:
        self.version = EXTRACTIVE_VERSION

    def request(self, dialog: Dialog, chunk: Chunk, chunks: int, max_tokens: int | None = None) -> Request:
        return Request([{"role": "user", "content": chunk.user_text}], json_schema=_SCHEMA, max_tokens=max_tokens)

    def draft(self, answer: str, dialog: Dialog, chunk: Chunk) -> Draft:
        object_of(answer)  # a broken cached answer is still reported as one
        return validate_draft(draft_fields(chunk.user_text, dialog.language, dialog.title,
                                           echo=chunk.assistant_text))

    def retry(self, request: Request, answer: str, error: str, dialog: Dialog) -> Request | None:
        return None
