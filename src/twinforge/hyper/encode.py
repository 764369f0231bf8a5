"""Text → hyperphrase: per scene (sentence or paragraph), the most salient concept lemmas in order of first
occurrence; one line per scene ("1 line = 1 scene").

Salience is part of speech × inverse document frequency in the workspace's corpus (`hyper vocab` writes the
frequencies), so "модель" in a corpus about models weighs less than "тревога". Without frequencies every unseen
lemma weighs the same and the part of speech alone decides. Ties go to the earlier word, so encoding is a pure
function of (text, config, frequencies): deterministic.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TwinforgeError
from ..text.lemmas import analyze, language
from .config import HyperConfig

POS_WEIGHT = {"NOUN": 1.0, "VERB": 0.8, "ADJ": 0.7, "ADV": 0.5, "NUM": 0.4}
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"»)\]]*\s+|\n+")
_PARAGRAPH_END = re.compile(r"\n\s*\n+")


class HyperError(TwinforgeError):
    """A hyperphrase cannot be made or read from this input."""


@dataclass
class Idf:
    """Document frequencies of concept lemmas in the corpus."""

    docs: int = 0
    df: dict[str, int] = field(default_factory=dict)

    def weight(self, lemma: str) -> float:
        # smoothed, so a lemma the corpus never saw weighs most but stays finite
        return math.log((1 + self.docs) / (1 + self.df.get(lemma, 0))) + 1.0

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"docs": self.docs, "df": dict(sorted(self.df.items()))}, ensure_ascii=False),
                       encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Idf | None:
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(int(data["docs"]), {k: int(v) for k, v in data["df"].items()})


@dataclass
class Hyperphrase:
    scenes: list[list[str]]  # concept lemmas per scene, in order
    language: str
    join: str = "sep"
    separator: str = "·"

    @property
    def concepts(self) -> list[str]:
        return [c for s in self.scenes for c in s]

    @property
    def text(self) -> str:
        glue = "" if self.join == "concat" else self.separator
        return "\n".join(glue.join(s) for s in self.scenes)

    def as_dict(self) -> dict:
        return {"hyperphrase": self.text, "scenes": self.scenes, "concepts": len(self.concepts),
                "language": self.language, "join": self.join}


def split_scenes(text: str, unit: str = "sentence") -> list[str]:
    """Sentences (or paragraphs) of `text`, stripped, empty ones dropped."""
    parts = (_PARAGRAPH_END if unit == "paragraph" else _SENTENCE_END).split(text)
    return [p.strip() for p in parts if p and p.strip()]


def candidates(text: str, pos: set[str] | frozenset[str], lang: str | None = None) -> list[tuple[str, str, int]]:
    """(lemma, coarse POS, count) of the content words of `text` that may be concepts, in order of first
    occurrence."""
    seen: dict[str, list] = {}
    for t in analyze(text, lang):
        if t.pos not in pos or len(t.lemma) < 2 and not t.lemma.isdigit():
            continue
        if t.lemma in seen:
            seen[t.lemma][2] += 1
        else:
            seen[t.lemma] = [t.lemma, t.pos, 1]
    return [tuple(v) for v in seen.values()]


def content_lemmas(text: str, cfg: HyperConfig, lang: str | None = None) -> set[str]:
    """Every concept-eligible lemma of `text`, without the per-scene cap (what concept recall looks for)."""
    return {c[0] for c in candidates(text, frozenset(cfg.pos), lang)}


class Encoder:
    def __init__(self, cfg: HyperConfig, idf: Idf | None = None):
        self.cfg = cfg
        self.idf = idf if cfg.salience == "tfidf" else None
        self.pos = frozenset(cfg.pos)
        unknown = self.pos - set(POS_WEIGHT)
        if unknown:
            raise HyperError(f"unknown part(s) of speech in hyper.pos: {', '.join(sorted(unknown))}",
                             f"choose from {', '.join(POS_WEIGHT)}")

    def scene(self, text: str, lang: str) -> list[str]:
        found = candidates(text, self.pos, lang)
        if len(found) <= self.cfg.max_concepts:
            return [c[0] for c in found]

        def score(item: tuple[int, tuple[str, str, int]]) -> tuple[float, int]:
            i, (lemma, pos, count) = item
            idf = self.idf.weight(lemma) if self.idf else 1.0
            return (-(POS_WEIGHT[pos] * idf * (1 + math.log(count))), i)

        top = sorted(sorted(enumerate(found), key=score)[: self.cfg.max_concepts])  # back to text order
        return [c[0] for _, c in top]

    def encode(self, text: str, lang: str | None = None) -> Hyperphrase:
        if not isinstance(text, str) or not text.strip():
            raise HyperError("nothing to encode: the text is empty", "give a sentence or more of text")
        lang = lang or language(text)
        scenes = [s for s in (self.scene(p, lang) for p in split_scenes(text, self.cfg.scene)) if s]
        return Hyperphrase(scenes, lang, self.cfg.join, self.cfg.separator)


def hyper_dir(store) -> Path:
    path = store.ws.hyper
    path.mkdir(parents=True, exist_ok=True)
    return path


def encoder_for(store, cfg: HyperConfig) -> Encoder:
    """The encoder with the workspace's corpus frequencies, where `hyper vocab` wrote them."""
    return Encoder(cfg, Idf.load(store.ws.hyper / "idf.json") if store is not None else None)


def encode(text: str, cfg: HyperConfig | None = None, idf: Idf | None = None) -> Hyperphrase:
    return Encoder(cfg or HyperConfig(), idf).encode(text)


def parse(hyperphrase: str, vocabulary: set[str] | None = None, separator: str = "·") -> list[list[str]]:
    """A hyperphrase back into concepts per scene. Concatenated chains ("ночьгрудьтьма") are split into the
    fewest known concepts when a vocabulary is given; a run it cannot split stays one piece."""
    if not hyperphrase or not hyperphrase.strip():
        raise HyperError("the hyperphrase is empty", "give concepts joined by '·' or spaces, one scene a line")
    scenes = []
    for line in hyperphrase.strip().splitlines():
        pieces = [p for p in re.split(rf"[\s{re.escape(separator)}|,;/]+", line.strip().lower()) if p]
        out: list[str] = []
        for p in pieces:
            out.extend(segment(p, vocabulary) if vocabulary and p not in vocabulary else [p])
        if out:
            scenes.append(out)
    return scenes


def segment(run: str, vocabulary: set[str], longest: int = 40) -> list[str]:
    """Split a concatenated run into the fewest vocabulary words (dynamic programming); unsplittable → [run]."""
    n = len(run)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(1, n + 1):
        for start in range(max(0, end - longest), end):
            prev = best[start]
            word = run[start:end]
            if prev is not None and word in vocabulary and (best[end] is None or len(prev) + 1 < len(best[end])):
                best[end] = prev + [word]
    return best[n] or [run]
