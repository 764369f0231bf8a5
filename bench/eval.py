"""Eval benchmark: probe throughput (generations/s) of the two generation engines of `twinforge eval`.

    .venv/bin/python bench/eval.py                       # 6 probes × greedy + 1 seed, 48 new tokens, 2 rounds
    .venv/bin/python bench/eval.py --adapter twin/adapters/ID --probes 8 --max-new-tokens 64 --rounds 3

Both engines answer the same probes with the same adapter on the embedded Gemma 3 270M base, through the very
engines the eval stage uses (twinforge.backends.adapted, opened by twinforge.eval.generate):

  transformers  load_with_adapters (fp32 base + PEFT LoRA, what the eval also computes perplexity with)
  llamacpp      the base's Q4_K_M GGUF + the adapter exported as a GGUF LoRA (twinforge.adapters.gguf_lora)

Without --adapter a LoRA r=8 on q/k/v/o with random B (std 0.02) stands in: speed does not depend on what the
adapter learned. Rounds alternate which engine goes first so drift in the machine's load hits both alike; load
time is reported apart from generation. generations/s = answers / generation wall time; tokens/s counts the new
tokens actually produced (an answer may stop early at EOS). Results: bench/out/eval-results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

PROMPTS = [
    "Что такое инверсия мысли и зачем она нужна?",
    "Explain in two sentences why a LoRA adapter is small.",
    "Как дистиллировать 15 000 страниц бесед в обучающий корпус?",
    "What is the difference between a concept and a meta-move?",
    "Сформулируй гипотезу о том, как растёт качество модели с данными.",
    "Turn this idea inside out: more data always makes a better twin.",
    "Опиши ось напряжения между точностью и обобщением.",
    "Give one transition rule from doubt to a decision.",
]


def random_adapter(folder: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from twinforge.models.base import load_base

    if (folder / "adapter_config.json").exists():
        return folder
    model, _ = load_base(None)
    pm = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    torch.manual_seed(0)
    for n, p in pm.named_parameters():
        if "lora_B" in n:
            p.data.normal_(0, 0.02)
    pm.save_pretrained(str(folder))
    (folder / "twinforge.json").write_text(json.dumps({"id": folder.name, "base": "embedded", "kind": "full"}))
    return folder


def measure(engine: str, adapter: Path, probes, seeds: list[int], max_new: int) -> dict:
    from twinforge.eval.generate import (
        ModelSpec,
        generate_all,
        open_llamacpp,
        open_model,
    )
    from twinforge.models.base import load_base

    spec = ModelSpec(adapter.name, "adapter", None, [(adapter, 1.0)])
    t0 = time.perf_counter()
    if engine == "transformers":
        runner = open_model(spec)
    else:
        _, tok = load_base(None)  # the tokenizer renders the prompt exactly as the transformers path does
        runner = open_llamacpp(spec, tok, OUT / "gguf-lora")
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    gens = list(generate_all(runner, spec.name, probes, seeds, max_new, 0.8, 0.95))
    gen_s = time.perf_counter() - t1
    runner.close()
    tokens = sum(g.new_tokens for g in gens)
    return {"engine": engine, "load_s": round(load_s, 2), "gen_s": round(gen_s, 2), "generations": len(gens),
            "tokens": tokens, "generations_per_s": round(len(gens) / gen_s, 3), "tokens_per_s": round(tokens / gen_s, 2),
            "sample": gens[0].text[:120]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--adapter", type=Path, help="adapter folder (default: a random LoRA in bench/out)")
    ap.add_argument("--probes", type=int, default=6)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--seeds", default="1", help="sampling seeds besides greedy, comma-separated")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--engines", default="transformers,llamacpp")
    a = ap.parse_args()

    from twinforge.backends.adapted import llamacpp_available
    from twinforge.eval.probes import Probe, probe_id
    from twinforge.text.language import detect

    OUT.mkdir(parents=True, exist_ok=True)
    adapter = a.adapter or random_adapter(OUT / "eval-random-adapter")
    probes = []
    for text in PROMPTS[:a.probes]:
        msgs = [{"role": "user", "content": text}]
        probes.append(Probe(probe_id("user", msgs), "user", msgs, detect(text)))
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    engines = [e for e in a.engines.split(",") if e]
    if "llamacpp" in engines and not llamacpp_available():
        print("llama-cpp-python or twinforge.adapters.gguf_lora missing: transformers only", file=sys.stderr)
        engines.remove("llamacpp")
    runs = []
    for r in range(a.rounds):
        order = engines if r % 2 == 0 else engines[::-1]
        for engine in order:
            res = measure(engine, adapter, probes, seeds, a.max_new_tokens) | {"round": r}
            runs.append(res)
            print(f"round {r} {engine:<12} load {res['load_s']:6.1f} s  {res['generations']} answers in "
                  f"{res['gen_s']:6.1f} s: {res['generations_per_s']:.3f} gen/s, {res['tokens_per_s']:.1f} tok/s",
                  flush=True)
    pooled = {}
    for engine in engines:
        rs = [x for x in runs if x["engine"] == engine]
        gen_s, n, tok = sum(x["gen_s"] for x in rs), sum(x["generations"] for x in rs), sum(x["tokens"] for x in rs)
        pooled[engine] = {"generations_per_s": round(n / gen_s, 3), "tokens_per_s": round(tok / gen_s, 2),
                          "load_s_mean": round(sum(x["load_s"] for x in rs) / len(rs), 2)}
    if len(pooled) == 2:
        pooled["speedup_llamacpp"] = round(pooled["llamacpp"]["generations_per_s"]
                                           / pooled["transformers"]["generations_per_s"], 2)
    print(json.dumps(pooled, indent=1))
    (OUT / "eval-results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(a).items()},
                                                       "runs": runs, "pooled": pooled}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
