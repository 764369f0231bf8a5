"""The recipe's `expand:` section: modules → training examples in several views."""

from __future__ import annotations

from pydantic import Field

from ..backends.config import BackendConfig
from ..strict import Strict

DEFAULT_VIEWS = ["qa", "dialog", "next_move", "concept", "inversion", "hypothesis", "transition", "continue",
                 "poles", "critique", "own_words", "reverse"]


GENERATED_VIEWS = ["paraphrase", "new_question", "walkthrough", "transfer", "depth", "paper_applied"]


class GateConfig(Strict):
    """The quality gate every generated example passes or is set aside by (expand/gate.py), with its reason."""

    min_chars: int = Field(12, ge=1, description="a paraphrased question is at least this long")
    min_answer_chars: int = Field(30, ge=1, description="each answer the model wrote is at least this long")
    max_chars: int = Field(6000, ge=100, description="all an example's model-written text is at most this long")
    min_concepts: float = Field(0.34, ge=0, le=1, description="grounded: the share of the module's concepts "
                                "(or, for paraphrase, of the question's content words) the text names, by lemma")
    near_duplicate: float = Field(0.7, gt=0, le=1, description="a text whose word-3-gram MinHash Jaccard with "
                                  "another example's message (any module) reaches this is a near-duplicate")
    max_repeat: float = Field(0.3, gt=0, le=1, description="degenerate: more than this share of the text's word "
                              "4-grams are repeats (a loop)")
    judge: bool = Field(False, description="also ask a model to score each example 1-5")
    judge_backend: BackendConfig | None = Field(None, description="who judges (default: the generation backend)")
    judge_threshold: float = Field(3, ge=1, le=5, description="with judge on: examples scored below this are "
                                   "set aside")


class GenerateConfig(Strict):
    """Model-written views beside the template views; every example passes the quality gate or is kept aside."""

    views: list[str] = Field(default_factory=list, description="generated views to produce (none by default): "
                             + ", ".join(GENERATED_VIEWS) + "; they need a model backend (extractive skips them)")
    per_view: int = Field(2, ge=0, description="at most this many requests (items) per view per module")
    counts: dict[str, int] = Field(default_factory=dict, description="per-view overrides of per_view, "
                                   "e.g. {paraphrase: 3, depth: 1}")
    tries: int = Field(3, ge=1, le=8, description="requests at most per item: what the gate set aside is asked "
                       "again (the prompt's examples in another order, a little warmer) until it passes or the "
                       "tries are spent")
    backend: BackendConfig = Field(default_factory=BackendConfig, description="who writes them (default: "
                                   "extractive, which writes nothing: set a model backend)")
    gate: GateConfig = Field(default_factory=GateConfig)


class ExpandConfig(Strict):
    """Modules → training examples in several views (names checked by the expand stage)."""

    views: list[str] = Field(default_factory=lambda: list(DEFAULT_VIEWS),
                             description="views to produce: " + ", ".join(DEFAULT_VIEWS))
    per_view: int = Field(8, ge=0, description="at most this many items (questions, dialog windows, concepts, "
                          "quotes, …) of each view per module; each item gives one example per wording")
    counts: dict[str, int] = Field(default_factory=dict, description="per-view overrides of per_view, "
                                   "e.g. {qa: 20, continue: 4}")
    phrasings: int = Field(2, ge=1, le=8, description="wordings per item in the views whose question comes from "
                           "the template files (distinct template variants; the answer is the same, so extra "
                           "wordings add pages but not new content)")
    window: int = Field(3, ge=2, le=12, description="dialog and next_move: at most this many exchanges of the "
                        "original dialog in one multi-turn example")
    seed: int = Field(0, description="picks each example's wording and, past the cap, which items are kept")
    own_words_min_chars: int = Field(200, ge=0, description="qa: the person's own later statement answers "
                                     "their question when at least this long; otherwise the assistant's reply")
    skip_flagged: bool = Field(True, description="leave out modules the quality score flagged (below "
                               "distill.quality_threshold, or a phrase or quote that is not the person's; see "
                               "`twinforge rejects --reason module-flagged`)")
    generated: GenerateConfig = Field(default_factory=GenerateConfig, description="model-written "
                                      "views and their quality gate")

