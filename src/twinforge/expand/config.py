"""The recipe's `expand:` section: modules → training examples in several views."""

from __future__ import annotations

from pydantic import Field

from ..strict import Strict

DEFAULT_VIEWS = ["qa", "dialog", "next_move", "concept", "inversion", "hypothesis", "transition", "continue",
                 "poles", "critique", "own_words", "reverse"]


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
