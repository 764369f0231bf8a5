"""`twinforge estimate --pretrain`: the arithmetic of pretraining a large model on a corpus, assumption by
assumption.

- tokens in the corpus = bytes × tokens per byte, measured on a sample with the target (Qwen) tokenizer;
- training FLOPs ≈ 6·N·D (Kaplan et al. 2020; 2·N forward + 4·N backward per token; attention scores excluded and
  shown apart);
- compute-optimal tokens ≈ 20·N (Hoffmann et al. 2022, "Chinchilla": 70B → 1.4T tokens);
- GPU-hours = FLOPs ÷ (peak × MFU), days = GPU-hours ÷ GPUs ÷ 24;
- memory per GPU for a parallelism: bf16 weights 2 + bf16 gradients 2 + Adam in fp32 12 bytes per parameter
  (ZeRO paper, Rajbhandari et al. 2020), split by tensor×pipeline parallelism and sharded over data parallelism
  by ZeRO stage; activations per Korthikanti et al. 2022 (sequence parallel, 1F1B pipeline holds ≈ all layers'
  activations of one micro-batch on the first stage).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..store.workspace import Workspace
from .finetune import GB, Figure, activation_values_per_layer, fmt_count, fmt_gb
from .gpus import Hardware, profile
from .shapes import Shape, parse_count, shape

CHINCHILLA_TOKENS_PER_PARAM = 20
SAMPLE_BYTES = 2_000_000  # tokenize at most this much of a sample: the ratio is stable long before
_TEXT_SUFFIXES = {".txt", ".md", ".jsonl", ".json", ".csv", ".tsv", ".html", ".xml", ".yaml", ".yml", ""}
_SIZE_UNITS = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}


# ---- corpus ------------------------------------------------------------------------------------------------

def parse_size(text: str) -> float:
    """'1TB' → 1e12 bytes (decimal units; TiB etc. binary)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgtp]?i?b)?\s*", text.lower())
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"cannot read corpus size {text!r}", "write it like 1TB, 500GB or 2.5TiB")
    return float(m.group(1)) * _SIZE_UNITS[m.group(2) or "b"]


@dataclass
class TokenRatio:
    tokens_per_byte: float
    sample_bytes: int
    sample_tokens: int
    source: str


def _jsonl_texts(line: str) -> list[str]:
    """The text a JSONL line stands for: a hyperphrase (twinforge hypertrain), a `text` field, chat messages'
    contents, else every string in it."""
    try:
        obj = json.loads(line)
    except ValueError:
        return [line]
    if isinstance(obj, dict):
        meta = obj.get("meta") or {}
        if isinstance(meta, dict) and isinstance(meta.get("hyperphrase"), str):
            return [meta["hyperphrase"]] if meta.get("view", "hyper-encode") == "hyper-encode" else []
        if isinstance(obj.get("text"), str):
            return [obj["text"]]
        if isinstance(obj.get("messages"), list):
            return [m["content"] for m in obj["messages"] if isinstance(m, dict) and isinstance(m.get("content"), str)]
    out: list[str] = []

    def walk(x):
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(obj)
    return out


def _file_texts(path: Path) -> Iterator[str]:
    raw = path.read_bytes()[: SAMPLE_BYTES * 2]
    if b"\0" in raw[:4096]:
        return  # binary
    text = raw.decode("utf-8", errors="ignore")
    if path.suffix.lower() == ".jsonl":
        for line in text.splitlines():
            if line.strip():
                yield from _jsonl_texts(line)
    else:
        yield text


def sample_texts(path: Path) -> Iterator[str]:
    if path.is_file():
        yield from _file_texts(path)
        return
    if not path.is_dir():
        raise ConfigError(f"sample {path} does not exist", "give a text/JSONL file or a folder of them")
    for p in sorted(path.rglob("*")):
        if p.is_file() and p.suffix.lower() in _TEXT_SUFFIXES and not p.name.startswith("."):
            yield from _file_texts(p)


def workspace_texts(workspace: Path) -> tuple[Iterator[str], str]:
    """Hyperphrases when the workspace has them (`hyper/hypertrain.jsonl`), else the text clean kept."""
    hyper = Workspace(workspace).hyper / "hypertrain.jsonl"
    if hyper.is_file():
        return sample_texts(hyper), f"hyperphrases in {hyper}"
    if Workspace(workspace).db.is_file():
        from ..store import Store

        with Store(workspace, create=False) as store:
            rows = store.kept_texts(20000)
        if rows:
            return iter(rows), f"the cleaned corpus in {workspace / 'twin.db'} (kept messages)"
    raise ConfigError(f"nothing in workspace {workspace} to measure tokens per byte on",
                      "pass --sample PATH (a text/JSONL file or folder), or ingest and clean an archive first")


def measure_tokens_per_byte(texts: Iterator[str], source: str, limit: int = SAMPLE_BYTES) -> TokenRatio:
    from ..text.tokens import count_tokens_batch

    batch: list[str] = []
    size = 0
    for t in texts:
        if not t:
            continue
        b = len(t.encode("utf-8"))
        if size + b > limit:
            t = t.encode("utf-8")[: limit - size].decode("utf-8", errors="ignore")
            b = len(t.encode("utf-8"))
        batch.append(t)
        size += b
        if size >= limit:
            break
    if size == 0:
        raise ConfigError(f"no text in {source}", "give a sample holding UTF-8 text")
    tokens = sum(count_tokens_batch(batch, threads=1))
    return TokenRatio(tokens / size, size, tokens, source)


# ---- parallelism -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Parallel:
    tp: int = 1
    pp: int = 1
    zero: int = 3  # 0 = plain DDP, 1 optimizer states sharded, 2 + gradients, 3 (= FSDP full shard) + weights
    text: str = "zero3"


def parse_parallel(text: str) -> Parallel:
    """'zero3' | 'fsdp' | 'zero1' | 'ddp' | 'tp8-pp4' | 'tp8-pp4-zero1' …"""
    tp = pp = 1
    zero: int | None = None
    for part in text.lower().replace("×", "-").replace("x", "-").split("-"):
        if not part:
            continue
        if m := re.fullmatch(r"(tp|pp)(\d+)", part):
            n = int(m.group(2))
            if n < 1:
                raise ConfigError(f"{part}: degree must be at least 1")
            tp, pp = (n, pp) if m.group(1) == "tp" else (tp, n)
        elif m := re.fullmatch(r"zero([0-3])", part):
            zero = int(m.group(1))
        elif part == "fsdp":
            zero = 3
        elif part == "ddp":
            zero = 0
        else:
            raise ConfigError(f"cannot read parallelism {text!r} (at {part!r})",
                              "use zero1, zero2, zero3, fsdp, ddp, or tensor/pipeline degrees like tp8-pp4 "
                              "(optionally -zero1)")
    if zero is None:  # TP/PP without a stage: Megatron's distributed optimizer shards optimizer states (ZeRO-1)
        zero = 1 if (tp > 1 or pp > 1) else 3
    return Parallel(tp, pp, zero, text)


def pretrain_memory(s: Shape, par: Parallel, dp: int, *, seq_len: int, micro_batch: int,
                    recompute: bool) -> list[Figure]:
    mp = par.tp * par.pp
    p = s.total_params / mp
    figs: list[Figure] = []
    split = f"{s.total_params / 1e9:.3g}B parameters ÷ (TP {par.tp} × PP {par.pp})" if mp > 1 else \
        f"{s.total_params / 1e9:.3g}B parameters"
    shard = {0: "not sharded (plain data parallel)", 1: f"optimizer states sharded over DP {dp} (ZeRO-1)",
             2: f"gradients and optimizer states sharded over DP {dp} (ZeRO-2)",
             3: f"weights, gradients and optimizer states sharded over DP {dp} (ZeRO-3 / FSDP full shard)"}
    w = 2 * p / (dp if par.zero >= 3 else 1)
    g = 2 * p / (dp if par.zero >= 2 else 1)
    o = 12 * p / (dp if par.zero >= 1 else 1)
    figs.append(Figure("weights (bf16)", w, fmt_gb(w), f"{split} × 2 bytes; {shard[par.zero]}"))
    figs.append(Figure("gradients (bf16)", g, fmt_gb(g), f"× 2 bytes{'' if par.zero >= 2 else ', not sharded'}"))
    figs.append(Figure("Adam states (fp32)", o, fmt_gb(o),
                       f"× 12 bytes (fp32 master weights 4, momentum 4, variance 4)"
                       f"{'' if par.zero >= 1 else ', not sharded'}"))
    if par.zero >= 3:
        buf = 2 * 2 * (s.attn_params + s.mlp_params) / par.tp
        figs.append(Figure("gathered layers (ZeRO-3)", buf, fmt_gb(buf),
                           "two whole layers gathered in bf16 at a time (the current one and the prefetched next)"))
    tokens = seq_len * micro_batch
    per_layer = activation_values_per_layer(s)
    layers_held = s.layers  # 1F1B: the first stage keeps PP micro-batches of L/PP layers ≈ L layers of one
    if recompute:
        a = tokens * 2 * (layers_held * s.hidden + 2 * per_layer) / par.tp
        basis = (f"full recompute: each layer's bf16 input kept ({layers_held} layers × hidden {s.hidden}) + one "
                 f"layer recomputed with its gradients, × {tokens} tokens (micro-batch {micro_batch} × seq "
                 f"{seq_len}) ÷ TP {par.tp} (sequence parallel)")
    else:
        a = tokens * 2 * layers_held * per_layer / par.tp
        basis = (f"no recompute: {per_layer:,} bf16 values per token per layer (flash attention: no score "
                 f"matrix; Korthikanti et al. 2022 give ≈34·hidden bytes for GPT layers) × {layers_held} layers "
                 f"(1F1B keeps ≈ all layers' worth on the first stage) × {tokens} tokens ÷ TP {par.tp}")
    figs.append(Figure("activations", a, fmt_gb(a), basis))
    lg = tokens * s.vocab * 12 / par.tp
    figs.append(Figure("logits + loss", lg, fmt_gb(lg),
                       f"{tokens} tokens × vocabulary {s.vocab:,} ÷ TP {par.tp} × 12 bytes (fp32 logits, softmax, "
                       "gradient; counted although with PP it sits on the last stage)"))
    rt = 2 * GB
    figs.append(Figure("runtime + communication", rt, fmt_gb(rt), "CUDA context, NCCL buffers: assumed 2 GB"))
    return figs


# ---- the estimate ------------------------------------------------------------------------------------------

@dataclass
class PretrainEstimate:
    model: str
    params: float
    hardware: str
    gpus: int
    mfu: float
    parallel: str
    corpus_bytes: float | None
    tokens_per_byte: float | None
    corpus_tokens: float
    optimal_tokens: float
    flops_corpus: float
    flops_optimal: float
    gpu_hours_corpus: float
    gpu_hours_optimal: float
    days_corpus: float
    days_optimal: float
    memory_bytes: float
    memory_limit_bytes: float
    fits: bool
    recompute: bool
    figures: list[Figure] = field(default_factory=list)
    memory_figures: list[Figure] = field(default_factory=list)
    verdict: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["figures"] = [f.as_dict() for f in self.figures]
        d["memory_figures"] = [f.as_dict() for f in self.memory_figures]
        return d


def _model(spec: str) -> tuple[Shape, float, float, str]:
    """Shape, N for FLOPs, N for the 20·N rule, and how N was read."""
    s = shape(spec)
    try:
        given = parse_count(spec, "model size")
    except ConfigError:
        given = None
    if given:  # the user's round number is the N they mean; the shape only feeds memory and attention
        return s, given, given, f"N = {given / 1e9:.4g}B as given (shape {s.name}: {s.source})"
    return (s, s.compute_params, s.total_params,
            f"N = {s.compute_params / 1e9:.4g}B per token{' (active experts)' if s.experts else ''}, "
            f"{s.total_params / 1e9:.4g}B in all ({s.source})")


def _corpus_tokens(figs: list[Figure], corpus_bytes: float | None, tokens_per_byte: TokenRatio | None,
                   corpus_tokens: float | None) -> float:
    """The corpus in tokens, as given or from its size in bytes × measured tokens per byte; its figures go to `figs`."""
    if corpus_tokens is not None:
        figs.append(Figure("corpus tokens", corpus_tokens, fmt_count(corpus_tokens), "as given (--tokens)"))
        return corpus_tokens
    if corpus_bytes is None or tokens_per_byte is None:
        raise ConfigError("the corpus size is missing", "pass --corpus 1TB (with --sample PATH) or --tokens 2T")
    corpus_tokens = corpus_bytes * tokens_per_byte.tokens_per_byte
    figs.append(Figure("corpus", corpus_bytes, f"{corpus_bytes / 1e12:.4g} TB",
                       "as given (decimal: 1 TB = 10¹² bytes of UTF-8 text)"))
    figs.append(Figure("tokens per byte", tokens_per_byte.tokens_per_byte, f"{tokens_per_byte.tokens_per_byte:.4f}",
                       f"measured: {tokens_per_byte.sample_tokens:,} Qwen tokens in {tokens_per_byte.sample_bytes:,} "
                       f"bytes of {tokens_per_byte.source}"))
    figs.append(Figure("corpus tokens", corpus_tokens, fmt_count(corpus_tokens), "corpus bytes × tokens per byte"))
    return corpus_tokens


def estimate_pretrain(*, model: str, gpu: str = "h100", gpus: int | None = None, mfu: float | None = None,
                      parallel: str = "zero3", corpus_bytes: float | None = None,
                      tokens_per_byte: TokenRatio | None = None, corpus_tokens: float | None = None,
                      epochs: float = 1.0, seq_len: int = 4096, micro_batch: int = 1,
                      recompute: str = "auto") -> PretrainEstimate:
    s, n_flops, n_opt, n_basis = _model(model)
    hw: Hardware = profile(gpu)
    gpus = gpus or hw.count
    mfu = hw.mfu_pretrain if mfu is None else mfu
    if not 0 < mfu <= 1:
        raise ConfigError(f"MFU must be in (0, 1], got {mfu}", "typical large runs reach 0.3-0.55")
    if gpus < 1 or epochs <= 0 or seq_len < 16 or micro_batch < 1:
        raise ConfigError("--gpus, --epochs and the micro-batch must be positive and --seq-len at least 16")
    par = parse_parallel(parallel)
    if gpus % (par.tp * par.pp):
        raise ConfigError(f"{gpus} GPUs cannot be split into TP {par.tp} × PP {par.pp} groups",
                          f"use a GPU count divisible by {par.tp * par.pp}")
    dp = gpus // (par.tp * par.pp)
    figs = [Figure("parameters", n_opt, f"{n_opt / 1e9:.4g}B", n_basis)]
    corpus_tokens = _corpus_tokens(figs, corpus_bytes, tokens_per_byte, corpus_tokens)
    trained = corpus_tokens * epochs
    optimal = CHINCHILLA_TOKENS_PER_PARAM * n_opt
    figs.append(Figure("compute-optimal tokens", optimal, fmt_count(optimal),
                       f"20 tokens per parameter × {n_opt / 1e9:.4g}B (Hoffmann et al. 2022, Chinchilla)"
                       + ("; derived for dense models, MoE optima differ" if s.experts else "")))
    flops_c = 6 * n_flops * trained
    flops_o = 6 * n_flops * optimal
    figs.append(Figure("FLOPs, corpus", flops_c, f"{flops_c:.3g}",
                       f"6 × N × D = 6 × {n_flops:.3g} × {trained:.3g} tokens"
                       + (f" ({epochs:g} epochs)" if epochs != 1 else " (one pass)")))
    figs.append(Figure("FLOPs, compute-optimal", flops_o, f"{flops_o:.3g}", f"6 × {n_flops:.3g} × {optimal:.3g}"))
    attn = s.layers * s.q_dim * seq_len / n_flops
    figs.append(Figure("attention not in 6·N·D", attn, f"+{attn:.1%}",
                       f"attention scores add 6·layers·q_dim·seq/2 per token = layers·q_dim·seq/N at seq "
                       f"{seq_len} "
                       f"(shape {s.name}); left out of 6·N·D as the scaling-law papers do"))
    rate = hw.peak_tflops * 1e12 * mfu
    figs.append(Figure("per-GPU throughput", rate, f"{rate / 1e12:.4g} TFLOP/s",
                       f"{hw.name}: {hw.peak_tflops:g} TFLOPS bf16 dense peak × MFU {mfu:g} "
                       f"({hw.sources}; {'as given (--mfu)' if mfu != hw.mfu_pretrain else 'MFU ' + hw.mfu_note})"))
    gh_c, gh_o = flops_c / rate / 3600, flops_o / rate / 3600
    d_c, d_o = gh_c / gpus / 24, gh_o / gpus / 24
    figs.append(Figure("GPU-hours, corpus", gh_c, f"{gh_c:,.0f}", "FLOPs ÷ per-GPU throughput ÷ 3600"))
    figs.append(Figure("days, corpus", d_c, f"{d_c:,.1f} days",
                       f"GPU-hours ÷ {gpus:,} GPUs ÷ 24 (perfect scaling assumed: MFU already includes "
                       "communication)"))
    figs.append(Figure("GPU-hours, compute-optimal", gh_o, f"{gh_o:,.0f}", "FLOPs ÷ per-GPU throughput ÷ 3600"))
    figs.append(Figure("days, compute-optimal", d_o, f"{d_o:,.1f} days", f"GPU-hours ÷ {gpus:,} GPUs ÷ 24"))

    limit = hw.memory_gb * GB * hw.usable_memory

    def mem(rc: bool) -> list[Figure]:
        return pretrain_memory(s, par, dp, seq_len=seq_len, micro_batch=micro_batch, recompute=rc)

    if recompute not in ("auto", "none", "full"):
        raise ConfigError(f"unknown --recompute {recompute!r}", "use auto, none or full")
    rc = recompute == "full" or (recompute == "auto" and sum(f.value for f in mem(False)) > limit)
    mfigs = mem(rc)
    total = sum(f.value for f in mfigs)
    mfigs.append(Figure("total per GPU", total, fmt_gb(total),
                        f"{par.text}: TP {par.tp} × PP {par.pp} × DP {dp} = {gpus:,} GPUs"
                        + ("; recompute chosen because the activations would not fit" if rc and recompute == "auto"
                           else "")))
    mfigs.append(Figure("available per GPU", limit, fmt_gb(limit),
                        f"{hw.memory_gb:g} GB × {hw.usable_memory:g} usable"))
    fits = total <= limit

    verdict = _verdict(s, n_opt, trained, optimal, corpus_tokens, epochs, d_c, d_o, gpus, hw, fits, par, rc)
    return PretrainEstimate(s.name, n_opt, hw.name, gpus, mfu, par.text, corpus_bytes,
                            tokens_per_byte.tokens_per_byte if tokens_per_byte else None, corpus_tokens, optimal,
                            flops_c, flops_o, gh_c, gh_o, d_c, d_o, total, limit, fits, rc, figs, mfigs, verdict)


def _verdict(s: Shape, n: float, trained: float, optimal: float, corpus: float, epochs: float, d_c: float,
             d_o: float, gpus: int, hw: Hardware, fits: bool, par: Parallel, rc: bool) -> list[str]:
    ratio = trained / optimal
    size = f"{n / 1e9:.4g}B"
    out = []
    if ratio < 0.9:
        out.append(f"The corpus gives {fmt_count(trained)} tokens, {ratio:.2f}× the ~{fmt_count(optimal)} that is "
                   f"compute-optimal for {size}: below Chinchilla-optimal. Reaching it means ~{optimal / corpus:.1f} "
                   f"passes over the corpus (Muennighoff et al. 2023: up to ~4 epochs of repeated data are almost as "
                   f"good as new data, beyond that returns fall fast), more data, or a smaller model: "
                   f"the corpus is compute-optimal for ~{corpus / CHINCHILLA_TOKENS_PER_PARAM / 1e9:.3g}B parameters.")
    elif ratio > 1.1:
        out.append(f"The corpus gives {fmt_count(trained)} tokens, {ratio:.2f}× the ~{fmt_count(optimal)} "
                   "compute-optimal "
                   f"for {size}: above Chinchilla-optimal. Training on all of it costs more than the optimum but "
                   f"gives a better model of this size (Llama 3 8B saw ~15T tokens); the corpus alone would be "
                   f"compute-optimal for ~{corpus / CHINCHILLA_TOKENS_PER_PARAM / 1e9:.3g}B parameters.")
    else:
        out.append(f"The corpus gives {fmt_count(trained)} tokens, about the compute-optimal {fmt_count(optimal)} "
                   f"for {size}.")
    out.append(f"On {gpus:,} × {hw.name}: {d_c:,.1f} days for the corpus, {d_o:,.1f} days for the compute-optimal "
               "token count, at the stated MFU and with no failures, restarts or evaluation time counted.")
    if fits:
        out.append(f"Memory: {par.text}{' with full activation recompute' if rc else ''} fits in one GPU's memory.")
    else:
        out.append(f"Memory: {par.text} does not fit per GPU: shard more (zero3/fsdp), add tensor or pipeline "
                   "parallelism (e.g. tp8-pp8), or use --recompute full.")
    return out
