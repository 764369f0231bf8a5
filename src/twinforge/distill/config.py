"""The recipe's `distill:` section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..backends.config import BackendConfig
from ..strict import Strict


class DistillConfig(Strict):
    """Dialogs kept by clean → thinking modules (one per conversation)."""

    backend: BackendConfig = Field(default_factory=BackendConfig, description="who writes the modules "
                                   "(default: extractive, no model)")
    languages: list[str] | None = Field(None, description="only dialogs in these languages, e.g. [ru, en] "
                                        "(default: all)")
    chunk_chars: int = Field(4000, ge=500, description="longer dialogs are cut into chunks of about this many "
                             "characters, distilled one by one and merged; fit it to the model's context "
                             "(4000 suits 4096 tokens)")
    overlap_chars: int = Field(400, ge=0, description="characters each chunk repeats from the one before")
    min_user_chars: int = Field(20, ge=0, description="skip dialogs where the person wrote less than this")
    limit: int | None = Field(None, ge=1, description="at most this many conversations per run (default: all)")
    tokens_per_second: float | None = Field(None, gt=0, description="generation speed for --dry-run's time "
                                            "estimate (default: by backend)")
    output_tokens: int = Field(400, ge=1, description="expected answer length per call, for the estimate")
    mode: Literal["auto", "one-shot", "decomposed"] = Field(
        "auto", description="how a model backend distills: one-shot (the whole module in one answer), decomposed "
        "(the offline distiller proposes, the model makes narrow grammar-constrained choices), or auto (decomposed "
        "for the embedded model, one-shot for others; see distill/run.py EMBEDDED_AUTO_MODE)")
    quality_threshold: float = Field(0.5, ge=0, le=1, description="a module scoring below this (0-1, see "
                                     "`twinforge modules score`) is flagged: listed by `twinforge rejects`, left out "
                                     "by expand where expand.skip_flagged is on")

    @model_validator(mode="after")
    def _overlap_fits(self) -> DistillConfig:
        if self.overlap_chars * 2 > self.chunk_chars:
            raise ValueError(f"overlap_chars ({self.overlap_chars}) must be at most half of chunk_chars "
                             f"({self.chunk_chars})")
        return self
