"""How long LoRA/QLoRA fine-tuning takes, how much memory it needs, and whether it fits — with every assumption
printed beside the figure it produces.

The figures model twinforge's own trainer (train/sft.py): packed rows of seq_len tokens, batch_size rows per
step, and a loss that computes the output layer only at the assistant tokens, a chunk at a time (train/loss.py).

Time comes from FLOPs. Per trained token a LoRA step costs about 4·N in the decoder layers: 2·N forward, 2·N
backward through the activations (the gradient has to flow through every frozen layer to reach the adapters), but
not the 2·N of weight gradients full fine-tuning adds (6·N). Gradient checkpointing recomputes the forward once
more (+2·N). The output layer costs 4·vocab·hidden per assistant token only. The adapters' own matmuls (6 per
LoRA parameter) and attention scores (2·layers·q_dim·context forward) are added. FLOPs become seconds through a
throughput: a named profile's peak × assumed MFU, or this machine's FLOP/s measured by a short real training run
of the demo model (calibrate.py).

Memory is the sum of weights (bf16, fp32 on a CPU, or 4-bit NF4 for QLoRA's linear layers), LoRA parameters with
their gradients and Adam states, activations of one step's rows with or without checkpointing, the loss's logit
chunk, and runtime.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .flops import BATCH_ROWS, Throughput, flops_per_token, lora_params  # noqa: F401  (part of the estimate's API)
from .gpus import THIS, Hardware, profile
from .measure import DEFAULT_LABELLED, TokenCount, measure_dataset, tokens_per_line  # noqa: F401
from .shapes import Shape, parse_count

GB = 1e9
QLORA_SLOWDOWN = 1.3  # dequantizing NF4 weights in every forward and backward; see the figure's basis
NF4_BYTES = 4.127 / 8  # NF4 + double-quantized block constants (Dettmers et al. 2023, QLoRA §3)
LOSS_CHUNK_ELEMENTS = 1 << 25  # logits the loss holds at once: train/loss.py CHUNK_ELEMENTS (a test keeps them equal)


@dataclass
class Figure:
    """One number of the estimate and the assumption that produced it."""

    what: str
    value: float
    shown: str  # the value as printed
    basis: str  # the arithmetic and assumptions behind it

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class FinetuneEstimate:
    model: str
    method: str
    hardware: str
    hardware_key: str
    lines: int
    epochs: float
    seq_len: int
    checkpointing: bool
    tokens: float
    flops: float
    seconds: float
    memory_bytes: float
    memory_limit_bytes: float
    fits: bool
    cpu_seconds: float | None = None  # process CPU time (all threads), when calibrated
    time_figures: list[Figure] = field(default_factory=list)
    memory_figures: list[Figure] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["time_figures"] = [f.as_dict() for f in self.time_figures]
        d["memory_figures"] = [f.as_dict() for f in self.memory_figures]
        return d


# ---- FLOPs -------------------------------------------------------------------------------------------------


# ---- memory ------------------------------------------------------------------------------------------------

def activation_values_per_layer(shape: Shape) -> int:
    """Values autograd keeps per token in one decoder layer: the residual into both norms (2h), the norms'
    outputs (2h), q/k/v with their normed/rotated copies (2·(q + 2·kv)), the attention output (q), and the MLP's
    gate, up, activation and product (4·i). Attention scores are not kept (SDPA/flash attention)."""
    return 4 * shape.hidden + 3 * shape.q_dim + 4 * shape.kv_dim + 4 * shape.mlp_width_active


def finetune_memory(shape: Shape, *, method: str, precision: str, seq_len: int, batch_rows: int,
                    checkpointing: bool, n_lora: int, labelled: float, runtime_gb: float) -> list[Figure]:
    act = 2 if precision == "bf16" else 4
    figs: list[Figure] = []
    if method == "qlora":
        # bitsandbytes replaces nn.Linear modules only; transformers 5 keeps a MoE layer's experts (and router) as
        # fused 3-D parameters, which it does not split for bitsandbytes (Llama 4's alone are): they stay in bf16
        kept = shape.layers * shape.mlp_params if shape.experts else 0
        quant = shape.linear_params - kept
        w = quant * NF4_BYTES + (shape.embed_params + kept) * act
        moe = (f" + {kept / 1e9:.3g}B expert parameters kept in {precision} (transformers stores a MoE layer's "
               "experts as fused 3-D tensors, and bitsandbytes quantizes nn.Linear layers only)") if kept else ""
        figs.append(Figure("weights", w, fmt_gb(w),
                           f"{quant / 1e9:.3g}B linear-layer parameters in 4-bit NF4 at "
                           f"{NF4_BYTES * 8:.3f} bits (double-quantized block scales, QLoRA paper) + "
                           f"{shape.embed_params / 1e9:.3g}B embedding/output-head parameters kept in {precision}"
                           + moe))
    else:
        w = shape.total_params * act
        figs.append(Figure("weights", w, fmt_gb(w),
                           f"{shape.total_params / 1e9:.3g}B parameters × {act} bytes ({precision})"))
    lo = n_lora * 16
    figs.append(Figure("LoRA + gradients + Adam", lo, fmt_gb(lo),
                       f"{n_lora / 1e6:.3g}M LoRA parameters × 16 bytes (fp32 weight 4, gradient 4, Adam m and v 8)"))
    per_layer = activation_values_per_layer(shape)
    tokens = seq_len * batch_rows
    step = f"{batch_rows} rows × {seq_len} tokens"
    if checkpointing:
        a = tokens * act * (shape.layers * shape.hidden + 2 * per_layer)
        basis = (f"gradient checkpointing: each layer's input ({shape.layers} layers × hidden {shape.hidden}) + one "
                 f"layer recomputed with its gradients (2 × {per_layer:,} values), per token, × {step} × "
                 f"{act} bytes")
    else:
        a = tokens * act * shape.layers * per_layer
        basis = (f"no checkpointing: {per_layer:,} values per token per layer (4h + 3·q_dim + 4·kv_dim + "
                 f"4·mlp_width; attention scores not stored with SDPA/flash) × {shape.layers} layers × {step} × "
                 f"{act} bytes")
    figs.append(Figure("activations", a, fmt_gb(a), basis))
    chunk = min(tokens * labelled * shape.vocab, LOSS_CHUNK_ELEMENTS)
    lg = chunk * (4 + act) + tokens * labelled * shape.hidden * act * 2
    figs.append(Figure("loss", lg, fmt_gb(lg),
                       f"one chunk of at most {LOSS_CHUNK_ELEMENTS:,} logits at a time (train/loss.py), "
                       f"{'in bf16 and fp32' if act == 2 else 'fp32'}, + the target positions' hidden states and "
                       "their gradient"))
    rt = runtime_gb * GB
    figs.append(Figure("runtime", rt, fmt_gb(rt),
                       "CUDA/ROCm context, kernels and workspaces" if precision == "bf16"
                       else "Python, PyTorch and tokenizer in RAM"))
    return figs


# ---- tokens ------------------------------------------------------------------------------------------------

def parse_lines(text: str) -> list[int]:
    """'100k,1M,3M' → [100000, 1000000, 3000000]."""
    out = [int(round(parse_count(part, "line count"))) for part in text.split(",") if part.strip()]
    if not out:
        raise ConfigError("--lines is empty", "give counts such as 100k,1M,3M")
    return out


def recipe_defaults(shape: Shape, rank: int | None, targets: str | None,
                    seq_len: int | None) -> tuple[int, str, int]:
    """Rank, targets and sequence length from the train stage's recipe for this model (qwen3-8b → qwen3-8b-base,
    qwen3-32b → qwen3-32b), else r=8 on q/k/v/o at 2048 tokens."""
    from ..models.base import recipes

    recipe = recipes().get(f"{shape.name}-base") or recipes().get(shape.name)  # qwen3-32b has no base release
    if recipe is not None:
        r_targets = "all" if any(t.endswith(("gate_proj", "up_proj", "down_proj")) for t in recipe.target_modules) \
            else "attn"
        return rank or recipe.r, targets or r_targets, seq_len or recipe.max_len
    return rank or 8, targets or "attn", seq_len or 2048


# ---- throughput --------------------------------------------------------------------------------------------

def profile_throughput(hw: Hardware) -> Throughput:
    flops = hw.count * hw.peak_tflops * 1e12 * hw.mfu_lora
    basis = (f"{hw.count} × {hw.peak_tflops:g} TFLOPS {hw.precision} peak × MFU {hw.mfu_lora:g} = "
             f"{flops / 1e12:.3g} TFLOP/s effective ({hw.sources}; MFU {hw.mfu_note})")
    return Throughput(flops, basis, hw.memory_gb * GB, hw.usable_memory, hw.precision, hw.count, 0.0, hw.qlora,
                      hw.name, hw.key)


def throughput(gpu: str, workspace: Path | None) -> Throughput:
    if gpu.strip().lower() == THIS:
        from .calibrate import calibrated_throughput

        return calibrated_throughput(workspace)
    return profile_throughput(profile(gpu))


# ---- the estimate ------------------------------------------------------------------------------------------

def estimate_finetune(shape: Shape, *, lines: int, tokens: TokenCount, hw: Throughput, method: str = "lora",
                      epochs: float = 1.0, seq_len: int = 2048, checkpointing: bool | None = None, rank: int = 8,
                      targets: str = "attn", batch_rows: int = BATCH_ROWS) -> FinetuneEstimate:
    """checkpointing None: as the trainer decides (on for GPUs, off on a CPU)."""
    if method not in ("lora", "qlora"):
        raise ConfigError(f"unknown method {method!r}", "use lora or qlora")
    if epochs <= 0 or seq_len < 16 or rank < 1 or lines < 1 or batch_rows < 1:
        raise ConfigError("epochs, lines, rank and batch size must be positive and the sequence length at least 16",
                          f"got epochs={epochs}, lines={lines}, rank={rank}, batch={batch_rows}, seq-len={seq_len}")
    if checkpointing is None:
        checkpointing = hw.precision != "fp32"
    if method == "qlora" and not hw.qlora:
        raise ConfigError(f"4-bit QLoRA does not run on {hw.name}", "use --method lora")
    n_lora = lora_params(shape, rank, targets)
    per_line = tokens.per_line(seq_len)
    total_tokens = lines * per_line * epochs
    # with packing, a token attends within its own example only: the context is the example's length
    context = per_line
    labelled = tokens.labelled_share(seq_len)
    fpt, fpt_basis = flops_per_token(shape, context=context, checkpointing=checkpointing, n_lora=n_lora,
                                     labelled=labelled)
    flops = total_tokens * fpt
    slowdown = QLORA_SLOWDOWN if method == "qlora" else 1.0
    seconds = flops / hw.flops_per_second * slowdown + hw.overhead_seconds
    tfig = [
        Figure("examples", lines, f"{lines:,}", "lines = training examples (one JSONL line each)"),
        Figure("tokens per example", per_line, f"{per_line:,.0f}",
               tokens.basis + (f"; truncated at {seq_len}" if per_line < tokens.tokens_per_line else "")),
        Figure("tokens trained", total_tokens, fmt_count(total_tokens),
               f"{lines:,} × {per_line:,.0f} × {epochs:g} epoch(s); examples packed into rows, no padding counted"),
        Figure("FLOPs per token", fpt, f"{fpt:.3g}", fpt_basis),
        Figure("training FLOPs", flops, f"{flops:.3g}", "tokens trained × FLOPs per token"),
        Figure("throughput", hw.flops_per_second, f"{hw.flops_per_second / 1e12:.3g} TFLOP/s", hw.basis),
    ]
    if slowdown != 1.0:
        tfig.append(Figure("QLoRA slowdown", slowdown, f"×{slowdown:g}",
                           "assumed, not measured: bitsandbytes dequantizes the 4-bit weights to bf16 before every "
                           "matmul of the forward and backward pass, an extra pass over all weights each time"))
    if hw.overhead_seconds:
        tfig.append(Figure("start-up", hw.overhead_seconds, fmt_duration(hw.overhead_seconds),
                           "measured by calibration for the demo model: a new process importing the libraries, "
                           "loading the model, tokenizing, the first step's one-time costs, saving the adapter"))
    cpu_seconds = None
    if hw.cpu_flops_per_second:
        cpu_seconds = flops / hw.cpu_flops_per_second * slowdown + hw.cpu_overhead_seconds
    tfig.append(Figure("time", seconds, fmt_duration(seconds),
                       "training FLOPs ÷ throughput" + (" × QLoRA slowdown" if slowdown != 1.0 else "")
                       + (" + start-up" if hw.overhead_seconds else "")
                       + (f"; data-parallel over {hw.devices} devices" if hw.devices > 1 else "")))
    if cpu_seconds is not None:
        tfig.append(Figure("CPU time", cpu_seconds, fmt_duration(cpu_seconds),
                           "the same at the calibrated tokens per CPU-second (all threads): what the run costs "
                           "however busy the machine is"))
    precision = hw.precision
    runtime = 1.0 if precision == "bf16" else 0.6
    mfig = finetune_memory(shape, method=method, precision=precision, seq_len=seq_len, batch_rows=batch_rows,
                           checkpointing=checkpointing, n_lora=n_lora, labelled=labelled, runtime_gb=runtime)
    mem = sum(f.value for f in mfig)
    limit = hw.memory_bytes * hw.usable
    fits = mem <= limit
    mfig.append(Figure("total per device", mem, fmt_gb(mem),
                       f"one step: {batch_rows} packed rows of {seq_len} tokens" + (
                           "; each device holds the whole model (data parallel)" if hw.devices > 1 else "")))
    mfig.append(Figure("available", limit, fmt_gb(limit),
                       f"{hw.memory_bytes / GB:.3g} GB × {hw.usable:g} usable (allocator fragmentation, runtime)"))
    return FinetuneEstimate(shape.name, method, hw.name, hw.key, lines, epochs, seq_len, checkpointing, total_tokens,
                            flops, seconds, mem, limit, fits, cpu_seconds, tfig, mfig)


# ---- formatting --------------------------------------------------------------------------------------------

def fmt_gb(b: float) -> str:
    return f"{b / GB:.2f} GB" if b < 10 * GB else f"{b / GB:.1f} GB"


def fmt_count(n: float) -> str:
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def fmt_duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    if s < 2 * 365 * 86400:
        return f"{s / 86400:.1f} days"
    return f"{s / 86400 / 365:,.1f} years"
