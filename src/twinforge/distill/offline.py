"""A whole module draft from the person's text alone, no model: the offline ("extractive") distiller.

Concepts are their most salient noun phrases (text/salience.py), the meta-move comes from the prototype classifier
(moves.py), axes, inversions, hypotheses and transition rules from cue patterns (cues.py), and the phrase is the
person's central claim or question, chosen by salience (not simply their first sentence). Every sentence put in
the draft is a verbatim slice of the person's text; concepts are lemma phrases found in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..text.salience import Concept, Ranked, concepts, rank_sentences
from . import cues
from .moves import classify

MAX_ITEMS = 3
QUOTES = 3
MIN_QUOTE_CHARS = 10  # assemble's floor: a shorter sentence ("т.е.") says nothing as a quote
CONTRAST_THINGS = 8  # the salient concepts a contrast sentence is read for (cues.contrasts)
CUE_BONUS = 0.25  # a sentence that states a hypothesis or weighs two options is likelier the central one


@dataclass
class Candidates:
    """What the offline distiller found: the draft's material, also what the decomposed mode lets a model choose
    from (distill/decomposed.py)."""

    concepts: list[Concept]
    axes: list[cues.Axis]
    sentences: list[Ranked]  # best first
    inversions: list[str]
    hypotheses: list[str]
    transition_rules: list[str]
    open_questions: list[str]


def candidates(text: str, lang: str, echo: str = "") -> Candidates:
    """What the person's `text` offers; `echo`: the assistant's side of the same chunk, which only weighs the
    person's phrases (text/salience.py)."""
    spans = cues.sentence_spans(text)
    top = concepts(text, lang, echo=echo)
    axes = cues.axes(text, lang)
    hyps = cues.hypotheses(text)
    weighed = {a.sentence for a in axes} | set(hyps)
    named = {frozenset((a.left.casefold(), a.right.casefold())) for a in axes}
    for a in cues.contrasts(text, [(c.text, c.surfaces) for c in top[:CONTRAST_THINGS]]):
        key = frozenset((a.left.casefold(), a.right.casefold()))
        if key not in named:  # the patterns' axes first: they name their poles from the sentence itself
            named.add(key)
            axes.append(a)
    bonus = {s: CUE_BONUS for s, e in spans if text[s:e] in weighed}
    ranked = rank_sentences(spans, text, lang, top, bonus)
    questions = [text[s:e] for s, e in spans if text[s:e].rstrip().endswith("?")]
    return Candidates(top, axes, ranked, cues.inversions(text), hyps, cues.transition_rules(text), questions)


def draft_fields(text: str, lang: str, title: str, found: Candidates | None = None, echo: str = "") -> dict:
    """The draft's fields (repair.Draft's names) for the person's text (`found`: its candidates, if at hand;
    `echo`: the assistant's side, see `candidates`)."""
    c = found or candidates(text, lang, echo)
    phrase = c.sentences[0].text if c.sentences else text.strip()[:300]
    return {
        "title": title,
        "phrase": phrase,
        "concepts": [x.text for x in c.concepts],
        "meta_move": classify(text),
        "axes": [str(a) for a in c.axes][:MAX_ITEMS],
        "inversions": c.inversions[:MAX_ITEMS],
        "hypotheses": c.hypotheses[:MAX_ITEMS],
        "transition_rules": c.transition_rules[:MAX_ITEMS],
        "open_questions": c.open_questions[:MAX_ITEMS],
        "quotes": [r.text for r in c.sentences if len(r.text) >= MIN_QUOTE_CHARS][:QUOTES],
    }
