"""Training arithmetic shared by the estimate and the calibration: LoRA parameter counts, FLOPs per trained token,
and the throughput that turns FLOPs into seconds."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .shapes import Shape

BATCH_ROWS = 4  # rows per optimizer step: TrainArgs.batch_size
@dataclass
class Throughput:
    flops_per_second: float
    basis: str
    memory_bytes: float  # per device
    usable: float  # share of it training may fill
    precision: str  # bf16 | fp32
    devices: int = 1
    overhead_seconds: float = 0.0  # fixed start-up (model load), measured only by calibration
    qlora: bool = True
    name: str = ""
    key: str = ""  # the profile name the user typed (rx7900xt, this, ...)
    cpu_flops_per_second: float | None = None  # per second of process CPU time (calibration only)
    cpu_overhead_seconds: float = 0.0


def lora_params(shape: Shape, rank: int, targets: str) -> int:
    """LoRA adds rank·(d_in + d_out) per adapted matrix: q/k/v/o ('attn'), or every linear map ('all')."""
    h, q, kv = shape.hidden, shape.q_dim, shape.kv_dim
    per_layer = rank * ((h + q) * 2 + (h + kv) * 2)
    if targets == "all":
        mats = 3 * (shape.experts or 1)
        per_layer += rank * mats * (h + shape.intermediate)
    elif targets != "attn":
        raise ConfigError(f"unknown LoRA targets {targets!r}", "use attn (q/k/v/o) or all (every linear map)")
    return shape.layers * per_layer


def flops_per_token(shape: Shape, *, context: float, checkpointing: bool, n_lora: int,
                    labelled: float) -> tuple[float, str]:
    """Training FLOPs per trained token of a LoRA step, and the formula as text."""
    n = shape.compute_params - shape.vocab * shape.hidden  # decoder layers (active experts)
    passes = 3 if checkpointing else 2  # forward, backward through activations, (+ recomputed forward)
    body = 2 * passes * n
    head = 4 * shape.vocab * shape.hidden * labelled  # logits + gradient to the hidden state, at targets only
    adapters = (6 + (2 if checkpointing else 0)) * n_lora
    attn_fwd = 2 * shape.layers * shape.q_dim * context  # QKᵀ and AV, causal: each token sees context/2 tokens
    attn = attn_fwd * (passes + 1)  # backward of attention computes two gradients (Q and K,V) per product
    total = body + head + adapters + attn
    text = (f"decoder {2 * passes}·N = 2·N forward + 2·N backward through the activations"
            f"{' + 2·N recomputed forward (checkpointing)' if checkpointing else ''} with N = {n / 1e9:.3g}B "
            f"layer parameters per token{' (active experts)' if shape.experts else ''}; frozen weights need no "
            f"weight gradients (full fine-tuning: 6·N); + output layer 4·vocab·hidden at the {labelled:.0%} of "
            f"tokens that are loss targets; + 6·{n_lora / 1e6:.3g}M LoRA parameters; + attention "
            f"2·layers·q_dim·context×{passes + 1} at context {context:.0f}")
    return total, text
