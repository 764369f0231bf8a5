"""The meta-move of a person's text, offline: their sentences against labelled prototypes, by embedding.

As the chatter filter does (clean/chatter.py): each move of the taxonomy has prototype sentences
(move_prototypes.yaml plus the taxonomy's own ru/en examples), embedded once. A text's similarity to a move is
the mean of its best few sentence-to-prototype cosines, so one sentence that makes the move can decide. Cue words
that name a move outright ("наоборот", "представь", "сколько … 15 000") add a fixed weight, fitted with the
similarity weight on the labelled set's tuning part (bench/fit_moves.py); held-out dialogs are never read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import numpy as np
import yaml

from ..text.embed import embed
from .cues import sentences
from .taxonomy import moves as taxonomy

TOP_K = 2  # a move's similarity: the mean of its best TOP_K (sentence, prototype) cosines
MAX_SENTENCES = 40  # of a long text, the first ones (the person states the move early)
# Weight of one cue-word hit (at most CUE_CAP counted) against cosine similarity: fitted on the tuning part.
CUE_WEIGHT = 0.2
CUE_CAP = 2

_I = re.IGNORECASE
# Words that name a move outright, either language. Kept narrow: an ambiguous word here costs more than it gives.
CUES: dict[str, re.Pattern] = {
    "inversion": re.compile(r"наоборот|а что,? если|переверн|инверси|invert|inversion|what if|flip it|"
                            r"the other way (?:round|around)|upside down", _I),
    "decomposition": re.compile(r"разби|разлож|декомпоз|по шагам|по этапам|поэтапн|decompos|break (?:it |this )?down|"
                                r"step by step|factori[sz]", _I),
    "scaling-estimate": re.compile(r"сколько|посчитай|прикин|порядок величин|how many|how much|how long|estimate|"
                                   r"order of magnitude|back of the envelope", _I),
    "analogy": re.compile(r"как будто|похож|аналоги|словно|подобно|это как|\bas if\b|analog|\bis like\b|similar to|"
                          r"think of it as", _I),
    "critique-of-premise": re.compile(r"предпосылк|допущени|я ошибаюсь|где я ошибаюсь|не тот инструмент|"
                                      r"premise|assumption|am i wrong|wrong tool|where my instinct breaks", _I),
    "comparison": re.compile(r"что лучше|или лучше|лучше ли|сравни|плюсы и минусы|компромисс|\bvs\b|versus|"
                             r"which is better|what'?s better|trade-?offs?|pros and cons|argue both", _I),
    "thought-experiment": re.compile(r"представь|вообрази|допустим|мысленн|что будет,? если|imagine|\bsuppose\b|"
                                     r"thought experiment|what would happen|simulat|\bassume\b", _I),
    "reframing": re.compile(r"вопрос не в том|дело не в том|другими словами|иначе говоря|под другим углом|"
                            r"in other words|put differently|the real question|it'?s not about", _I),
    "synthesis": re.compile(r"объедин|соедин|синтез|свести воедино|сведём|combin|synthes|unif|integrat|"
                            r"put (?:it|them|these) together", _I),
    "self-reflection": re.compile(r"я замечаю|замечаю за собой|за собой|моё мышление|мое мышление|как я думаю|"
                                  r"i notice|i tend to|my own thinking|how i think|about myself", _I),
}
_NUMBER = re.compile(r"\d")


@dataclass
class MoveScore:
    name: str
    score: float
    similarity: float  # mean of the best TOP_K cosines
    cues: int
    sentence: str  # the person's sentence nearest the move's prototypes


@cache
def _prototypes() -> tuple[list[str], np.ndarray, np.ndarray]:
    """(move names, the move of each prototype, prototype vectors)."""
    data = yaml.safe_load(files(__package__).joinpath("move_prototypes.yaml").read_text(encoding="utf-8"))
    names = list(taxonomy())
    texts, owners = [], []
    for name in names:
        move = taxonomy()[name]
        for t in [move.ru, move.en, *(data.get(name) or [])]:
            texts.append(t)
            owners.append(name)
    return names, np.array(owners), embed(texts)


def cue_hits(text: str) -> dict[str, int]:
    hits = {name: min(len(rx.findall(text)), CUE_CAP) for name, rx in CUES.items()}
    if hits["scaling-estimate"] and not _NUMBER.search(text):
        hits["scaling-estimate"] = 0  # an estimate talks in numbers
    return hits


def score_moves(text: str, cue_weight: float = CUE_WEIGHT) -> list[MoveScore]:
    """Every move of the taxonomy scored for `text` (the person's words), best first."""
    sents = sentences(text)[:MAX_SENTENCES] or [text[:2000] or " "]
    names, owners, protos = _prototypes()
    sims = embed(sents) @ protos.T  # (sentences, prototypes)
    hits = cue_hits(text)
    out = []
    for name in names:
        block = sims[:, owners == name]
        flat = np.sort(block.ravel())[::-1]
        sim = float(flat[:TOP_K].mean()) if flat.size else 0.0
        best_sentence = sents[int(block.max(axis=1).argmax())] if block.size else ""
        out.append(MoveScore(name, sim + cue_weight * hits[name], sim, hits[name], best_sentence))
    return sorted(out, key=lambda m: -m.score)


def classify(text: str) -> str:
    """The taxonomy name of the move the text makes most."""
    return score_moves(text)[0].name
