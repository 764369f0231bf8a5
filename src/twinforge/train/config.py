"""The recipe's `train:` section (the `twinforge train` flags override it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..models.layers import check_spec
from ..strict import Strict


class TrainConfig(Strict):
    """Dataset JSONL + base model → LoRA/QLoRA adapter(s) in WORKSPACE/adapters/<id>/."""

    base: str | None = Field(None, description="base model: null/'embedded' = the embedded Gemma 3 270M base; a "
                             "Hugging Face folder; a .gguf file (converted once, cached); or a named recipe such as "
                             "qwen3-8b-base (weights must already be on disk)")
    dataset: str = Field("default", description="dataset name: WORKSPACE/datasets/<name>/train.jsonl")
    name: str | None = Field(None, description="adapter id (default: <dataset>-full, <dataset>-scene-<module>, "
                             "<dataset>-batch-NNNN)")
    r: int | None = Field(None, ge=1, description="LoRA rank (default: the base's recipe, else 8)")
    alpha: float | None = Field(None, gt=0, description="LoRA alpha (default: the base's recipe, else 2×r)")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    target_modules: list[str] | None = Field(None, description="modules to adapt (default: q/k/v/o projections)")
    lr: float = Field(2e-4, gt=0, description="peak learning rate (linear warmup, cosine decay)")
    epochs: float = Field(1.0, gt=0, description="passes over the data (ignored when max_steps is set)")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps in all (default: from epochs)")
    max_len: int | None = Field(None, ge=16, description="tokens per row; longer examples are cut (default: the "
                                "base's recipe, else 1024)")
    batch_size: int = Field(4, ge=1, description="rows per optimizer step")
    packing: bool = Field(True, description="pack several examples into each row (position ids restart per "
                          "example, attention stays inside it): no padding is computed")
    grad_checkpointing: bool | None = Field(None, description="recompute activations in backward to save memory "
                                            "(default: on for GPU, off for CPU where it only costs time)")
    layers: str | None = Field(None, description="decoder layers to adapt: 20-23, last:3, first:2, 0,2,4-6 or "
                               "all (the default); checked against the base's layer count before loading it")
    qlora: bool = Field(False, description="load the base in 4-bit NF4 (bitsandbytes, GPU only)")
    per_scene: bool = Field(False, description="one adapter per module/scene (examples grouped by meta.module_id)")
    batch_lines: int | None = Field(None, ge=1, description="one adapter per batch of this many examples")
    on_top_of: list[str] = Field(default_factory=list, description="adapter ids kept frozen underneath the new one")
    save_steps: int = Field(50, ge=1, description="checkpoint every this many steps (a killed run resumes there)")
    eval_steps: int | None = Field(None, ge=1, description="validation loss every this many steps (default: at "
                                   "the end only)")
    seed: int = Field(0, description="data order, LoRA init and dropout")
    # chained batches (train/chain.py): batch k trained after batch k-1, checked by the forgetting gate
    chain: bool = Field(False, description="with batch_lines: train batch k after batch k-1 instead of on the "
                        "bare base")
    chain_mode: Literal["continue", "stack"] = Field(
        "stack", description="stack: a new adapter per batch over the earlier ones kept frozen (on_top_of; the "
        "better one on the sample: see README); continue: batch k starts from batch k-1's adapter weights")
    replay: float = Field(0.0, ge=0, lt=1, description="share of each chained batch drawn from earlier batches' "
                          "examples and bundled general text (train/general.yaml), half each")
    gate: Literal["off", "warn", "strict"] = Field(
        "warn", description="forgetting gate after each chained batch: warn flags a batch that makes control or an "
        "earlier batch worse than gate_tolerance; strict rejects it and the chain goes on from its parent")
    gate_tolerance: float = Field(0.10, ge=0, description="allowed relative perplexity rise on control text and "
                                  "on earlier batches (0.10 = 10%); also the allowed drop in concept coverage")
    gate_examples: int = Field(8, ge=1, description="examples per set the gate measures (held-out, each batch)")
    gate_probes: int = Field(2, ge=0, description="concept probes per earlier batch with distilled modules "
                             "(answers generated on CPU: keep it small; 0 = perplexity only)")

    @field_validator("layers", mode="before")
    @classmethod
    def _layers(cls, v):
        return check_spec(v)

    @model_validator(mode="after")
    def _one_split(self) -> TrainConfig:
        if self.per_scene and self.batch_lines:
            raise ValueError("per_scene and batch_lines exclude each other: pick one way to split the data")
        if self.chain and not self.batch_lines:
            raise ValueError("chain needs batch_lines: the chain trains one batch after another")
        if self.chain and self.on_top_of:
            raise ValueError("chain and on_top_of exclude each other: a chain puts its own batches underneath")
        return self
