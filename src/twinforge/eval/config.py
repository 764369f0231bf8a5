"""The recipe's `eval:` section."""

from __future__ import annotations

from pydantic import Field

from ..backends.config import BackendConfig
from ..strict import Strict


class Thresholds(Strict):
    """When a number becomes a failure in the catalogue (eval/failures.py says why each default)."""

    overfit_gap: float = Field(0.35, ge=0, description="overfitting: log(val ppl) − log(train ppl) above this "
                               "(0.35 ≈ validation perplexity 1.4× the training one)")
    forgetting_ratio: float = Field(1.25, ge=1, description="forgetting: control perplexity above this × the base's")
    repetition_rate: float = Field(0.5, ge=0, le=1, description="format collapse: share of repeated 4-grams in an "
                                   "answer above this")
    template_leaks: int = Field(1, ge=1, description="format collapse: at least this many answers with a chat "
                                "template token (<|im_start|>, <think>, <start_of_turn> …)")
    language_drift: float = Field(0.25, ge=0, le=1, description="language drift: share of answers not in the "
                                  "probe's language above this, and above the base's share")
    regurgitation_ngram: int = Field(12, ge=4, description="verbatim regurgitation: a run of this many words copied "
                                     "from train.jsonl")
    regurgitation_share: float = Field(0.2, ge=0, le=1, description="… in more than this share of answers")


class EvalConfig(Strict):
    """Base vs adapters vs stacks on the same probes: generations side by side, metrics, failure catalogue."""

    dataset: str = Field("default", description="dataset whose val.jsonl gives held-out probes and perplexity "
                         "texts, and whose train.jsonl is checked for regurgitation")
    base: str | None = Field(None, description="base model (default: the adapters' own base, else embedded)")
    adapters: list[str] = Field(default_factory=list, description="adapter ids to evaluate (default in a recipe "
                                "run: every registered adapter)")
    stacks: dict[str, list[str]] = Field(default_factory=dict, description="named stacks: name → adapter ids, "
                                         "each optionally `id:weight`")
    probes_file: str | None = Field(None, description="a YAML of your own probes (list of {prompt, concepts?, "
                                    "language?, id?})")
    max_probes: int = Field(12, ge=1, description="at most this many probes (held-out, module, yours), "
                            "spread over the kinds")
    max_new_tokens: int = Field(64, ge=1, description="tokens per generated answer")
    sample_seeds: list[int] = Field(default_factory=lambda: [1], description="one sampled answer per seed "
                                    "besides the greedy one ([] for greedy only)")
    temperature: float = Field(0.8, gt=0, description="for the sampled answers")
    top_p: float = Field(0.95, gt=0, le=1)
    engine: str = Field("auto", description="auto | transformers | llamacpp (GGUF base + GGUF LoRA, one adapter at "
                        "most); auto = llamacpp on a CPU when it can run the model (2.33x the generations/s of "
                        "transformers in bench/eval.py), else transformers")
    ppl_max_len: int = Field(256, ge=16, description="tokens per perplexity text (longer ones are cut)")
    ppl_texts: int = Field(24, ge=1, description="at most this many texts per perplexity set")
    judge: BackendConfig | None = Field(None, description="optional LLM judge for pairwise preference vs the base")
    thresholds: Thresholds = Field(default_factory=Thresholds)
