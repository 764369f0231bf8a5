"""The recipe's `dataset:` section: expanded examples → train/validation JSONL, exporters and stats."""

from __future__ import annotations

from pydantic import Field, model_validator

from ..strict import Strict

FORMATS = ("jsonl", "sharegpt", "alpaca", "hf")


class DatasetConfig(Strict):
    """How `twinforge dataset` builds `<workspace>/datasets/<name>/` from the `examples` table."""

    val_fraction: float = Field(0.1, ge=0, lt=1, description="share of conversations held out for validation "
                                "(whole conversations, never split between train and validation)")
    split_seed: str = Field("twinforge", description="salt of the conversation hash that decides each "
                            "conversation's side; a conversation keeps its side as the archive grows")
    system_prompt: str | None = Field(None, description="system message put first in every example")
    system_prompt_file: str | None = Field(None, description="read the system message from this text file")
    use_persona: bool = Field(False, description="use the persona card (`twinforge persona`) as system message")
    views: list[str] | None = Field(None, description="only examples of these views (default: all)")
    mix: dict[str, float] = Field(default_factory=dict, description="relative share of examples per view, e.g. "
                                  "{qa: 2, paraphrase: 1, concept: 0.5}: the views named are sampled down (never "
                                  "repeated) until their example counts stand in these proportions; views not "
                                  "named keep all their examples; weight 0 leaves a view out")
    formats: list[str] = Field(default_factory=lambda: list(FORMATS),
                               description="what to write: jsonl (always), sharegpt, alpaca, hf")
    tokenizer: str | None = Field(None, description="Hugging Face tokenizer folder to count tokens with "
                                  "(default: the Qwen tokenizer)")
    dedupe: bool = Field(True, description="drop examples whose messages repeat another's exactly")
    histogram_bins: int = Field(40, ge=5, le=400, description="bars of the length histogram")

    @model_validator(mode="after")
    def _one_system_source(self) -> DatasetConfig:
        given = [n for n, v in (("system_prompt", self.system_prompt), ("system_prompt_file", self.system_prompt_file),
                                ("use_persona", self.use_persona)) if v]
        if len(given) > 1:
            raise ValueError(f"give one system prompt source, not {' and '.join(given)}")
        negative = [v for v, w in self.mix.items() if w < 0]
        if negative:
            raise ValueError(f"mix weights must be 0 or more (not for {', '.join(negative)})")
        if self.mix and not any(self.mix.values()):
            raise ValueError("every mix weight is 0: give at least one view a weight above 0")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown format(s) {', '.join(unknown)}; available: {', '.join(FORMATS)}")
        return self
