"""Deterministic distillation for the no-model backend, and the meta-move rules both paths share.

The extractive backend ranks the person's sentences and keyphrases (backends/extractive.py); the rest of the
module comes from plain rules over the person's own sentences: a question mark makes an open question, "если … то"
a transition rule, "наоборот" an inversion. No model, no paraphrase: every sentence it puts in a module is the
person's, verbatim. Real distillation needs a model backend.
"""

from __future__ import annotations

import re

from ..backends.base import Request
from .render import Chunk, Dialog
from .repair import Draft, object_of, validate_draft

EXTRACTIVE_VERSION = "extractive.v1"
MAX_RULE_ITEMS = 3

_I = re.IGNORECASE
# Each move's markers; the move with the most hits in the person's text wins, ties going to the earlier one.
MOVE_MARKERS: list[tuple[str, re.Pattern]] = [
    ("inversion", re.compile(r"наоборот|инверс|инверт|переверн|перевор|invert|inversion|the other way round|"
                             r"upside down|the opposite", _I)),
    ("decomposition", re.compile(r"разби|разлож|декомпоз|по шагам|\bшаг|этап|decompos|break (?:it |this )?down|"
                                 r"step by step|\bsteps?\b|\bstages?\b", _I)),
    ("scaling-estimate", re.compile(r"сколько|оцен|прикин|порядок величин|how many|how much|estimate|"
                                    r"order of magnitude|back of the envelope", _I)),
    ("analogy", re.compile(r"как будто|похож|аналоги|словно|подобно|\bas if\b|analog|\bis like\b|similar to|"
                           r"\blike a\b", _I)),
    ("critique-of-premise", re.compile(r"предпосылк|допущени|я ошибаюсь|не прав ли я|premise|assumption|"
                                       r"am i wrong", _I)),
    ("comparison", re.compile(r"сравн|что лучше|или лучше|лучше ли|\bvs\b|versus|плюсы и минусы|компромисс|"
                              r"альтернатив|compar|which is better|trade-?offs?|pros and cons", _I)),
    ("thought-experiment", re.compile(r"представь|вообрази|допустим|мысленн|что будет,? если|imagine|"
                                      r"\bsuppose\b|thought experiment|what would happen if", _I)),
    ("reframing", re.compile(r"другими словами|иначе говоря|переформулир|под другим углом|на самом деле это|"
                             r"in other words|put differently|refram|another angle|is really about", _I)),
    ("synthesis", re.compile(r"объедин|соедин|синтез|свести воедино|combin|synthes|unif|integrat|"
                             r"put (?:it|them|these) together", _I)),
    ("self-reflection", re.compile(r"я замечаю|замечаю за собой|я всегда|я обычно|моё мышление|мое мышление|"
                                   r"как я думаю|i notice|i always|i tend to|my own thinking|how i think", _I)),
]
_NUMBER = re.compile(r"\d")
# No marker found: still a taxonomy name. In the labelled set (tests/data/modules) such dialogs spread over the
# moves with no majority, so this is a plain guess; the classifier that replaces these rules should do better.
DEFAULT_MOVE = "decomposition"

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
    """The taxonomy's move (taxonomy.yaml) whose markers the person's text has most of; DEFAULT_MOVE when none."""
    hits = {move: len(rx.findall(text)) for move, rx in MOVE_MARKERS}
    if hits["scaling-estimate"] and not _NUMBER.search(text):
        hits["scaling-estimate"] = 0  # an estimate talks in numbers
    best = max(hits.values())
    return next(move for move, n in hits.items() if n == best) if best else DEFAULT_MOVE


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
    """The person's key sentence and keyphrases from the extractive backend; everything else by rule."""

    retries = 0  # deterministic: asking again gives the same answer

    def __init__(self) -> None:
        self.version = EXTRACTIVE_VERSION

    def request(self, dialog: Dialog, chunk: Chunk, chunks: int, max_tokens: int | None = None) -> Request:
        return Request([{"role": "user", "content": chunk.user_text}], json_schema=_SCHEMA, max_tokens=max_tokens)

    def draft(self, answer: str, dialog: Dialog, chunk: Chunk) -> Draft:
        data = object_of(answer)
        text = chunk.user_text
        sents = sentences(text)
        picked = [data.get(k) for k in ("phrase", "second", "third")]
        return validate_draft({
            "title": dialog.title,
            "phrase": data.get("phrase") or "",
            "concepts": data.get("concepts") or [],
            "meta_move": meta_move_by_rules(text),
            "axes": _axes(text),
            "inversions": _matching(sents, MOVE_MARKERS[0][1]),
            "hypotheses": _matching(sents, _HYPOTHESIS),
            "transition_rules": _matching(sents, _TRANSITION),
            "open_questions": [s for s in sents if s.endswith("?")][:MAX_RULE_ITEMS],
            "quotes": [p for p in picked if isinstance(p, str) and p],
        })

    def retry(self, request: Request, answer: str, error: str, dialog: Dialog) -> Request | None:
        return None
