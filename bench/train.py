"""Training benchmark: our train_adapter against a plain TRL SFTTrainer script, same data, same model, on CPU.

    .venv/bin/python bench/train.py                    # 1 round each (~10-20 min on a quiet 2-core CPU)
    .venv/bin/python bench/train.py --rounds 2 --examples 64 --max-len 512

Data: the sample archive (examples/sample-archive) ingested and cleaned into bench/out/ws-train (once), every
user → assistant pair of the canonical dialogs as one example (whole texts, cut to --max-chars), cycled to
--examples lines; the last 4 conversations' pairs are the validation set. Model: the embedded Gemma 3 270M base
(fp32), LoRA r=8, alpha=16, dropout 0.05 on q/k/v/o for both.

  ours  twinforge.train.sft.train_adapter: packed rows (--max-len tokens, --batch-size rows a step), assistant-
        only loss computed only where labels are, no gradient checkpointing on CPU
  trl   trl.SFTTrainer with SFTConfig defaults (batch 8 per device, no packing, max_length 1024, gradient
        checkpointing on, loss on every token, 1 epoch) except: output_dir; use_cpu and bf16=False (this CPU has
        no fast bf16, and ours trains in fp32); learning_rate = ours (2e-4, not the default 2e-5, so the final
        losses compare like with like); report_to none; save_strategy no

Each run is a fresh child (bench/child.py: peak RSS from wait4). tokens/s = real (non-padding) tokens of one epoch
/ training-loop seconds. Both adapters are then scored by the same function (twinforge.train.sft.eval_loss:
mean loss on assistant tokens of the validation set) so the losses compare even though TRL trains on all
tokens. Rounds alternate which runs first. Results: bench/out/train-results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from child import run_child  # noqa: E402
from sample_pairs import kept_pairs  # noqa: E402

LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
LR = 2e-4


def build_data(n: int, max_chars: int) -> tuple[Path, Path]:
    pairs = kept_pairs(OUT / "ws-train", max_chars)
    convs = sorted({c for c, _ in pairs})
    held = set(convs[-4:])
    train = [p for c, p in pairs if c not in held]
    val = [p for c, p in pairs if c in held]
    train = [train[i % len(train)] for i in range(n)]
    OUT.mkdir(parents=True, exist_ok=True)
    paths = OUT / "train-bench.jsonl", OUT / "val-bench.jsonl"
    for path, data in zip(paths, (train, val), strict=True):
        path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in data), encoding="utf-8")
    return paths


def child_ours(train: Path, val: Path, out: Path, max_len: int, batch_size: int) -> dict:
    from twinforge.train.sft import TrainArgs, train_adapter

    shutil.rmtree(out, ignore_errors=True)
    r = train_adapter(TrainArgs(base=None, train_file=train, val_file=val, out_dir=out, r=LORA["r"],
                                alpha=LORA["lora_alpha"], dropout=LORA["lora_dropout"], lr=LR, epochs=1.0,
                                max_len=max_len, batch_size=batch_size, save_steps=10**6, val_limit=10**6))
    return {"tokens": r.tokens, "seconds": r.seconds, "steps": r.steps, "train_loss_last": r.train_loss_last,
            "val_loss": r.val_loss}


def child_trl(train: Path, val: Path, out: Path, max_len: int, batch_size: int) -> dict:
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from twinforge.models.embedded import embedded_trainable_folder
    from twinforge.train.data import ensure_chat_template
    from twinforge.train.sft import eval_loss

    shutil.rmtree(out, ignore_errors=True)
    folder = str(embedded_trainable_folder())
    tok = AutoTokenizer.from_pretrained(folder)
    ensure_chat_template(tok)  # the base ships none; the same one ours renders with
    model = AutoModelForCausalLM.from_pretrained(folder)
    ds = load_dataset("json", data_files=str(train), split="train")
    cfg = SFTConfig(output_dir=str(out), use_cpu=True, bf16=False, learning_rate=LR, report_to="none",
                    save_strategy="no")
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok,
                         peft_config=LoraConfig(task_type="CAUSAL_LM", **LORA))
    tokens = sum(min(len(x), cfg.max_length) for x in trainer.train_dataset["input_ids"])
    t0 = time.perf_counter()
    out_metrics = trainer.train()
    seconds = time.perf_counter() - t0
    vals = [json.loads(x) for x in val.read_text(encoding="utf-8").splitlines()]
    return {"tokens": tokens * int(cfg.num_train_epochs), "seconds": seconds, "steps": out_metrics.global_step,
            "train_loss_last": out_metrics.training_loss,
            "val_loss": eval_loss(trainer.model, tok, vals, max_len=max_len)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=48)
    ap.add_argument("--max-chars", type=int, default=900)
    ap.add_argument("--max-len", type=int, default=512, help="our packed row length (and the val max_len)")
    ap.add_argument("--batch-size", type=int, default=2, help="our rows per step")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", choices=["ours", "trl"])
    ap.add_argument("--child", choices=["ours", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--val", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        fn = child_ours if a.child == "ours" else child_trl
        print("RESULT " + json.dumps(fn(a.train, a.val, a.out, a.max_len, a.batch_size)))
        return
    train, val = build_data(a.examples, a.max_chars)
    results = []
    for rnd in range(a.rounds):
        order = ["ours", "trl"] if rnd % 2 == 0 else ["trl", "ours"]
        for name in [n for n in order if not a.only or n == a.only]:
            cmd = [sys.executable, __file__, "--child", name, "--train", str(train), "--val", str(val),
                   "--out", str(OUT / f"adapter-{name}"), "--max-len", str(a.max_len), "--batch-size",
                   str(a.batch_size)]
            print(f"round {rnd + 1}: {name} ...", flush=True)
            res = run_child(name, cmd)
            line = next((x for x in res["stdout_tail"].splitlines() if x.startswith("RESULT ")), None)
            if line:
                res |= json.loads(line[7:])
                res["tokens_per_s"] = res["tokens"] / res["seconds"]
                res["tokens_per_cpu_s"] = res["tokens"] / max(res["user_s"] + res["sys_s"], 1e-9)
            res["round"] = rnd + 1
            results.append(res)
    (OUT / "train-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\n{'run':<6} {'round':>5} {'steps':>5} {'tokens':>7} {'loop s':>7} {'tok/s':>7} {'tok/CPU-s':>9} "
          f"{'peak RSS MB':>11} {'train loss':>10} {'val loss':>8}")
    for r in results:
        if "tokens" not in r:
            print(f"{r['name']:<6} {r['round']:>5} FAILED")
            continue
        print(f"{r['name']:<6} {r['round']:>5} {r['steps']:>5} {r['tokens']:>7} {r['seconds']:>7.1f} "
              f"{r['tokens_per_s']:>7.1f} {r['tokens_per_cpu_s']:>9.1f} {r['peak_rss_mb']:>11.0f} "
              f"{r['train_loss_last']:>10.3f} {r['val_loss']:>8.3f}")
    by = {n: [r for r in results if r["name"] == n and "tokens" in r] for n in ("ours", "trl")}
    if by["ours"] and by["trl"]:
        speed = {n: sum(r["tokens"] for r in v) / sum(r["seconds"] for r in v) for n, v in by.items()}
        print(f"\nours / trl tokens/s: {speed['ours'] / speed['trl']:.2f}× (target ≥ 1.3×)")


if __name__ == "__main__":
    main()
