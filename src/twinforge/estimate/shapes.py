"""Transformer shapes the estimates count parameters, FLOPs and activations from.

Named shapes are copied from the models' published `config.json`; a bare parameter count ("8e9", "70b") gets a
made-up dense shape of that size (see `synthetic`). Parameter counts here are of the matrices only (norms and
biases are < 0.1% and left out).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigError

QWEN_VOCAB = 151_936


@dataclass(frozen=True)
class Shape:
    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int  # MLP width (SwiGLU/GeGLU: gate, up, down); per expert for a mixture of experts
    vocab: int
    tied: bool  # the output head shares the embedding matrix
    experts: int = 0  # 0 = dense
    active_experts: int = 0
    source: str = ""

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def attn_params(self) -> int:  # q, k, v, o per layer
        return 2 * self.hidden * self.q_dim + 2 * self.hidden * self.kv_dim

    @property
    def mlp_params(self) -> int:  # per layer, all experts
        one = 3 * self.hidden * self.intermediate
        return one * self.experts + self.hidden * self.experts if self.experts else one

    @property
    def mlp_active(self) -> int:  # per layer, experts one token goes through (+ router)
        one = 3 * self.hidden * self.intermediate
        return one * self.active_experts + self.hidden * self.experts if self.experts else one

    @property
    def mlp_width_active(self) -> int:
        return self.intermediate * (self.active_experts if self.experts else 1)

    @property
    def linear_params(self) -> int:
        """Parameters in the layers' linear maps: what 4-bit QLoRA quantizes."""
        return self.layers * (self.attn_params + self.mlp_params)

    @property
    def embed_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def total_params(self) -> int:
        return self.linear_params + self.embed_params

    @property
    def compute_params(self) -> int:
        """N in the FLOPs formulas: parameters one token multiplies through (active experts, the output head;
        the input embedding is a lookup and costs no FLOPs)."""
        return self.layers * (self.attn_params + self.mlp_active) + self.vocab * self.hidden

    def as_dict(self) -> dict:
        return asdict(self) | {"total_params": self.total_params, "compute_params": self.compute_params}


def _qwen3(size: str, layers: int, hidden: int, heads: int, kv: int, inter: int, tied: bool,
           experts: int = 0, active: int = 0) -> Shape:
    return Shape(f"qwen3-{size}", layers, hidden, heads, kv, 128, inter, QWEN_VOCAB, tied, experts, active,
                 source=f"Qwen/Qwen3-{size.upper()} config.json")


NAMED: dict[str, Shape] = {s.name: s for s in [
    _qwen3("0.6b", 28, 1024, 16, 8, 3072, True),
    _qwen3("1.7b", 28, 2048, 16, 8, 6144, True),
    _qwen3("4b", 36, 2560, 32, 8, 9728, True),
    _qwen3("8b", 36, 4096, 32, 8, 12288, False),
    _qwen3("14b", 40, 5120, 40, 8, 17408, False),
    _qwen3("32b", 64, 5120, 64, 8, 25600, False),
    _qwen3("30b-a3b", 48, 2048, 32, 4, 768, False, experts=128, active=8),
    _qwen3("235b-a22b", 94, 4096, 64, 4, 1536, False, experts=128, active=8),
    Shape("llama3-70b", 80, 8192, 64, 8, 128, 28672, 128_256, False, source="meta-llama/Meta-Llama-3-70B config.json"),
    Shape("llama3-405b", 126, 16384, 128, 8, 128, 53248, 128_256, False,
          source="meta-llama/Llama-3.1-405B config.json"),
    Shape("gemma3-270m", 18, 640, 4, 1, 256, 2048, 262_144, True,
          source="the embedded demo base (Gemma 3 270M) config.json"),
]}
ALIASES = {"demo": "gemma3-270m", "embedded": "gemma3-270m"}

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_count(text: str, what: str = "number") -> float:
    """'100k', '1.5M', '70b', '8e9', '3000000' → float."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?(?:e\+?\d+)?)\s*([kmbgt]?)", t)
    if not m:
        raise ConfigError(f"cannot read {text!r} as a {what}", "write it like 100k, 1.5M, 70b or 8e9")
    value = float(m.group(1)) * _SUFFIX.get(m.group(2), 1)
    if value <= 0:
        raise ConfigError(f"{what} must be positive, got {text!r}")
    return value


def synthetic(n_params: float, vocab: int = QWEN_VOCAB) -> Shape:
    """A dense Llama/Qwen-style shape with about `n_params` parameters: head_dim 128, 8 KV heads (GQA), SwiGLU
    MLP 3.5× wide, untied head, and depth from the aspect ratio hidden ≈ 100 × layers (Llama-3-70B: 8192/80;
    Kaplan et al. 2020 found loss nearly flat over a wide range of aspect ratios)."""
    if n_params < 2e7:
        raise ConfigError(f"{n_params:.3g} parameters is too small to shape a transformer", "give at least 20M")
    # 12.5·L·h² with h = 100·L ≈ 1.2e5·L³ (embeddings aside)
    layers = max(2, round((n_params / 1.2e5) ** (1 / 3)))
    kv = 8 * 128
    # per layer: q, o: 2h²; k, v: 2·h·kv; MLP: 3·h·3.5h  →  12.5h² + 2·kv·h, plus embeddings 2·vocab·h
    a, b, c = 12.5 * layers, 2 * kv * layers + 2 * vocab, -n_params
    exact = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    unit = 1024 if exact >= 4096 else 128  # big models: a whole number of heads per KV head
    hidden = max(128, unit * round(exact / unit))
    heads = hidden // 128
    per_layer = (n_params - 2 * vocab * hidden) / layers - 2 * hidden * hidden - 2 * hidden * kv
    inter = max(128, 128 * round(per_layer / (3 * hidden) / 128))
    return Shape(f"dense-{_short(n_params)}", layers, hidden, heads, min(8, heads), 128, inter, vocab, False,
                 source="synthetic: Llama-style dense shape (head_dim 128, 8 KV heads, SwiGLU 3.5×, "
                        "hidden≈100×layers)")


def from_hf_config(folder: Path) -> Shape:
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"{folder}: no readable config.json ({e})", "point --model at a Hugging Face folder") from e
    cfg = cfg.get("text_config", cfg)
    try:
        hidden, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
        experts = int(cfg.get("num_experts") or cfg.get("num_local_experts") or 0)
        return Shape(
            name=folder.name, layers=int(cfg["num_hidden_layers"]), hidden=hidden, heads=heads,
            kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or hidden // heads),
            intermediate=int(cfg.get("moe_intermediate_size") or cfg["intermediate_size"]) if experts
            else int(cfg["intermediate_size"]),
            vocab=int(cfg["vocab_size"]), tied=bool(cfg.get("tie_word_embeddings", False)),
            experts=experts, active_experts=int(cfg.get("num_experts_per_tok") or 0),
            source=f"{folder}/config.json")
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{folder}/config.json lacks a field the estimate needs ({e})",
                          "give a named size (qwen3-8b) or a parameter count (8e9) instead") from e


def shape(spec: str) -> Shape:
    """A named model (qwen3-8b, llama3-70b, demo), a Hugging Face folder, or a parameter count (8e9, 70b)."""
    s = spec.strip().lower()
    s = ALIASES.get(s, s)
    if s in NAMED:
        return NAMED[s]
    if s.startswith("qwen3-") or s.startswith("qwen-"):
        raise ConfigError(f"unknown model {spec!r}",
                          f"named sizes: {', '.join(NAMED)}; or give a parameter count such as 8e9")
    path = Path(spec).expanduser()
    if path.is_dir():
        return from_hf_config(path)
    try:
        n = parse_count(spec, "model size")
    except ConfigError:
        raise ConfigError(f"unknown model {spec!r}",
                          f"give a named size ({', '.join(NAMED)}), a parameter count (8e9, 70b) or a "
                          "Hugging Face folder") from None
    return synthetic(n)


def _short(n: float) -> str:
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.3g}"
