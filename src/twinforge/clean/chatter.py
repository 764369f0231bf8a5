"""Chatter or substance: is a conversation everyday chatter (recipes, shopping, weather, small talk, one-off lookups)
or the substance worth keeping (ideas, engineering, research, plans)?

Offline and cheap, no LLM. Per conversation: one embedding of the title plus the start of the user side (what the
person asked is what makes a conversation substantive; the assistant mostly echoes and pads it), its similarity to
labelled prototype phrases (prototypes.yaml), the length of the user side and a count of technical or abstract terms.
A logistic formula fitted on tests/data/chatter/train.yaml turns these into a chatter score. Conservative by design:
dropping substance is the worst error, so the default threshold sits above every training substance conversation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from ..text.embed import embed

PROTOTYPES = Path(__file__).with_name("prototypes.yaml")
# Cached verdicts are keyed by this: bump it when prototypes, features, coefficients or the threshold change.
VERSION = "2"

# Embedding costs time in proportion to tokens: 250 characters (title first, ~75 Russian tokens) run at ~420
# conversations/s on 2 cores, 1,000 characters at ~130/s; on the train split longer cuts separate no better.
EMBED_CHARS = 250
# Terms are counted in the start of the text only: enough to see what the conversation is about, cheap on huge pastes.
TERM_CHARS = 2000
TERMS_CAP = 6
# Fewer user words than this say too little on their own: the start of the first answer is read with them.
FEW_WORDS = 12
# The largest prototype margin taken as possible when deciding without an embedding. Cosines of USE vectors
# of natural text lie in [0, 1] in practice (none below -0.05 on the eval sets), so best chatter minus best
# substance stays under 1; a test checks the shortcut never changes a verdict on the labelled sets.
MAX_MARGIN = 1.0
# A topic's similarity is the mean of its best few phrases: one lucky phrase should not decide.
TOP_K = 2

# Technical and abstract vocabulary (stems, Russian and English): cheap evidence of substance that survives short
# questions and unusual topics the prototypes miss. Everyday words that also appear in chatter are left out, and so
# are the fillers «в принципе» and «в смысле». Distinct stems are counted, so one word repeated is one term.
_TERMS = re.compile(
    r"\b(?:"
    r"модел|обуч|дообуч|гипотез|архитектур|алгоритм|датасет|лор[аыуе]\b|токен|гпу|нейро|мышлен|мысл|(?<!в )смысл|"
    r"теор|доказ|вероятн|памят|агент|дистил|рассужд|понимани|сознан|инференс|эмбеддинг|трансформер|оптимиз|метрик|"
    r"эксперимент|пайплайн|схем|стратег|исследов|абстракц|онтолог|инверс|сжати|компресс|квен|критери|"
    r"(?<!в )принцип|сущност|концепц|противореч|закономерн|следстви|механизм|гиперфраз|консилиум|уравнен|"
    r"интеграл|производн|матриц|иррацион|"
    r"lora|token|gpu|distill|reason|inference|embedding|transformer|experiment|hypothes|architect|algorithm|"
    r"dataset|model|train(?:ing|ed)\b|fine-?tun|prove|proof|theorem|probabil|memory|agent|understanding|"
    r"conscious|pipeline|schema|strateg|research|abstract|ontolog|invers|compress|thought|thinking|criteri|"
    r"principle|concept|contradict|mechanism|causal|equation|integral|derivative|matri|irrational|"
    r"qwen|llm|agi|rlhf|sft|dpo"
    r")",
    re.IGNORECASE,
)

# Logistic coefficients over (prototype margin, ln(1 + user words), terms), fitted with numpy on the train split
# (tests/data/chatter/train.yaml; refit with `python tests/test_clean_chatter.py --fit` after editing prototypes).
_BIAS = 5.20
_W_MARGIN = 9.49  # per unit of (best chatter topic − best substance topic) cosine
_W_WORDS = -1.39  # per ln(1 + words): long questions are rarely chatter
_W_TERMS = -1.40  # per technical/abstract term, up to TERMS_CAP

# Above every train substance conversation's score in cross-validation (max 0.71): when unsure, keep it.
DEFAULT_THRESHOLD = 0.8


@dataclass
class Sample:
    """One conversation, dialog text only."""

    title: str
    user: list[str]  # user messages, in order
    assistant: list[str]


@dataclass
class Verdict:
    label: str  # "substance" or "chatter"
    score: float  # 0..1, how chatter-like (>= threshold means chatter)
    reason: str  # which features and prototypes decided, in words


@dataclass
class Features:
    """What a verdict is made of."""

    margin: float  # best chatter topic similarity minus best substance topic similarity
    chatter_topic: str
    chatter_sim: float
    substance_topic: str
    substance_sim: float
    words: int
    turns: int
    terms: int
    side: str  # see _Reading


class ChatterClassifier:
    """Scores conversations by how chatter-like they are; the prototypes are embedded once, on construction."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, prototypes: Path | None = None):
        self.threshold = threshold
        spec = yaml.safe_load(Path(prototypes or PROTOTYPES).read_text(encoding="utf-8"))
        self._topics: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}  # names, phrase topics, vectors
        for side in ("chatter", "substance"):
            topics = spec[side]
            names = [t for t, phrases in topics.items() for _ in phrases]
            vectors = embed([p for phrases in topics.values() for p in phrases])
            self._topics[side] = (list(topics), np.array(names), vectors)

    def classify(self, samples: Sequence[Sample]) -> list[Verdict]:
        """Verdicts in order. Embedding is most of the cost, so a conversation whose length and terms make it
        substance even at the largest prototype margin (MAX_MARGIN) is decided without one."""
        reads = [_read(s) for s in samples]
        terms = [_count_terms(r.text) for r in reads]
        out: list[Verdict | None] = [None] * len(samples)
        need = []
        for i, (r, t) in enumerate(zip(reads, terms)):
            ceiling = _score(MAX_MARGIN, r.words, t)
            if ceiling < self.threshold:
                out[i] = Verdict("substance", ceiling, _decided_reason(r, t, ceiling))
            else:
                need.append(i)
        for i, f in zip(need, self._features([reads[i] for i in need], [terms[i] for i in need])):
            out[i] = self._verdict(f)
        return out  # type: ignore[return-value]

    def features(self, samples: Sequence[Sample]) -> list[Features]:
        """What the score is made of, per sample; all texts embedded in one batch."""
        reads = [_read(s) for s in samples]
        return self._features(reads, [_count_terms(r.text) for r in reads])

    def _features(self, reads: list[_Reading], terms: list[int]) -> list[Features]:
        if not reads:
            return []
        vectors = embed([r.text[:EMBED_CHARS] for r in reads])
        chatter = self._best_topic("chatter", vectors)
        substance = self._best_topic("substance", vectors)
        return [
            Features(margin=cs - ss, chatter_topic=ct, chatter_sim=cs, substance_topic=st, substance_sim=ss,
                     words=r.words, turns=r.turns, terms=t, side=r.side)
            for r, t, (ct, cs), (st, ss) in zip(reads, terms, chatter, substance)
        ]

    def _best_topic(self, side: str, vectors: np.ndarray) -> list[tuple[str, float]]:
        topics, names, protos = self._topics[side]
        sims = vectors @ protos.T
        per_topic = np.stack(
            [np.sort(sims[:, names == t], axis=1)[:, ::-1][:, :TOP_K].mean(axis=1) for t in topics], axis=1
        )
        best = per_topic.argmax(axis=1)
        return [(topics[j], float(per_topic[i, j])) for i, j in enumerate(best)]

    def _verdict(self, f: Features) -> Verdict:
        score = _score(f.margin, f.words, f.terms)
        label = "chatter" if score >= self.threshold else "substance"
        return Verdict(label, score, _reason(f))


def _score(margin: float, words: int, terms: int) -> float:
    z = _BIAS + _W_MARGIN * margin + _W_WORDS * math.log1p(words) + _W_TERMS * terms
    return round(1.0 / (1.0 + math.exp(-z)), 4)


def _count_terms(text: str) -> int:
    return min(len({t.lower() for t in _TERMS.findall(text[:TERM_CHARS])}), TERMS_CAP)


def _decided_reason(r: _Reading, terms: int, ceiling: float) -> str:
    return (f"{r.words} words and {terms}{'+' if terms == TERMS_CAP else ''} technical/abstract terms: chatter score "
            f"at most {ceiling:.2f} whatever the topic, so not embedded")


@dataclass
class _Reading:
    side: str  # "user"; "user+answer" when the user said little; "assistant" when the user said nothing
    text: str  # title, then what is read
    words: int  # words of the side counted (the user's, or the assistant's when the user said nothing)
    turns: int


def _read(s: Sample) -> _Reading:
    """What decides a conversation: the title and the user's messages. When the user wrote only a few words
    ("продолжай", "сделай схему"), the start of the first answer says what they were about; when the user wrote
    nothing at all (an assistant-only fragment), the assistant's messages stand in."""
    user = [m for m in s.user if m and m.strip()]
    answers = [m for m in s.assistant if m and m.strip()]
    title = s.title.strip() + ". " if s.title and s.title.strip() else ""
    if not user and answers:
        return _Reading("assistant", title + "\n".join(answers), len(" ".join(answers).split()), len(answers))
    text = "\n".join(user)
    words = len(text.split())
    if words < FEW_WORDS and answers:
        return _Reading("user+answer", f"{title}{text}\n{answers[0][:EMBED_CHARS]}", words, len(user))
    return _Reading("user", title + text, words, len(user))


def _reason(f: Features) -> str:
    near, far = (f.chatter_topic, f.chatter_sim), (f.substance_topic, f.substance_sim)
    if f.margin <= 0:
        near, far = far, near
    who = "assistant" if f.side == "assistant" else "user"
    size = f"{f.turns} {who} turn{'' if f.turns == 1 else 's'}, {f.words} words"
    size += {"assistant": " (no user text)", "user+answer": " (read with the first answer)"}.get(f.side, "")
    terms = f"{f.terms}{'+' if f.terms == TERMS_CAP else ''} technical/abstract terms" if f.terms else "no technical terms"
    return f"nearer '{near[0]}' prototypes ({near[1]:.2f}) than '{far[0]}' ({far[1]:.2f}); {size}; {terms}"
