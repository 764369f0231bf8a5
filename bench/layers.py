"""Layer-restricted LoRA: all layers against the last three (`train --layers last:3`), on the sample archive, CPU.

    .venv/bin/python bench/layers.py                       # 2 rounds, 10 steps each (~30 min on a loaded 2-core VM)
    .venv/bin/python bench/layers.py --rounds 3 --steps 24

Data: bench/train.py's (the sample archive ingested and cleaned once into bench/out/ws-train; every user →
assistant pair of the canonical dialogs, cut to --max-chars, cycled to --examples lines; the last 4
conversations' pairs are held out). Model: the embedded Gemma 3 270M base (18 layers, fp32), LoRA r=8, alpha=16,
dropout 0.05 on q/k/v/o, lr --lr (both variants the same), --steps steps of --batch-size packed rows of
--max-len tokens.

Each run is a fresh child (bench/child.py): train_adapter, then the adapter loaded as eval loads it and scored
with eval's perplexity on (a) the held-out pairs (answer given prompt, eval/render.example_texts) and (b) eval's
general-text control paragraphs (eval/control.yaml; did it forget ordinary language?). Time per step = training
loop seconds / steps. Rounds alternate which variant runs first; the table gives each variant's median and
spread (min-max) over rounds, and the base's perplexities (no adapter) for reference. Results:
bench/out/layers-results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from child import run_child  # noqa: E402

VARIANTS = {"all": None, "last:3": "last:3"}


def child(variant: str, train: Path, val: Path, out: Path, a) -> dict:
    from twinforge.eval.metrics.perplexity import perplexity
    from twinforge.eval.render import example_texts
    from twinforge.eval.texts import control_texts
    from twinforge.models.base import load_base
    from twinforge.models.stack import load_with_adapters
    from twinforge.train.sft import TrainArgs, train_adapter

    row: dict = {}
    if variant == "base":
        model, tok = load_base(None)
    else:
        shutil.rmtree(out, ignore_errors=True)
        r = train_adapter(TrainArgs(base=None, train_file=train, out_dir=out, r=8, alpha=16, dropout=0.05,
                                    layers=VARIANTS[variant], lr=a.lr, max_steps=a.steps, max_len=a.max_len,
                                    batch_size=a.batch_size, save_steps=10**9))
        meta = json.loads((out / "twinforge.json").read_text(encoding="utf-8"))
        row = {"steps": r.steps, "tokens": r.tokens, "seconds": r.seconds, "s_per_step": r.seconds / r.steps,
               "train_loss_last": r.train_loss_last, "trainable_params": meta["trainable_params"]}
        model, tok = load_with_adapters(None, [(out, 1.0)])
    model.eval()
    held = [json.loads(x)["messages"] for x in val.read_text(encoding="utf-8").splitlines() if x.strip()]
    row["ppl_heldout"] = perplexity(model, tok, [example_texts(tok, m) for m in held], a.ppl_max_len)
    row["ppl_control"] = perplexity(model, tok, [("", t) for t in control_texts()], a.ppl_max_len)
    return row


def _spread(vals: list[float], fmt: str) -> str:
    med = statistics.median(vals)
    return f"{med:{fmt}} ({min(vals):{fmt}}-{max(vals):{fmt}})" if len(vals) > 1 else f"{med:{fmt}}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--examples", type=int, default=48)
    ap.add_argument("--max-chars", type=int, default=600)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ppl-max-len", type=int, default=256)
    ap.add_argument("--child", choices=["base", *VARIANTS], help=argparse.SUPPRESS)
    ap.add_argument("--train", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--val", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print("RESULT " + json.dumps(child(a.child, a.train, a.val, a.out, a)))
        return
    from train import build_data

    train, val = build_data(a.examples, a.max_chars)
    same = ["--steps", str(a.steps), "--max-len", str(a.max_len), "--batch-size", str(a.batch_size), "--lr",
            str(a.lr), "--ppl-max-len", str(a.ppl_max_len), "--train", str(train), "--val", str(val)]
    results = []
    plan = [("base", 0)] + [(v, rnd + 1) for rnd in range(a.rounds)
                            for v in (list(VARIANTS) if rnd % 2 == 0 else list(VARIANTS)[::-1])]
    for name, rnd in plan:
        print(f"round {rnd}: {name} ...", flush=True)
        res = run_child(name, [sys.executable, __file__, "--child", name, "--out",
                               str(OUT / f"adapter-layers-{name.replace(':', '')}"), *same])
        line = next((x for x in res["stdout_tail"].splitlines() if x.startswith("RESULT ")), None)
        if line:
            res |= json.loads(line[7:])
        res["round"] = rnd
        results.append(res)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "layers-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print("\n| variant | rounds | trainable params | s/step | train loss | held-out ppl | control ppl |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in ["base", *VARIANTS]:
        rs = [r for r in results if r["name"] == name and "ppl_heldout" in r]
        if not rs:
            print(f"| {name} | FAILED | | | | | |")
            continue
        if name == "base":
            print(f"| base (no adapter) | - | - | - | - | {rs[0]['ppl_heldout']:.2f} | {rs[0]['ppl_control']:.2f} |")
            continue
        print(f"| {name} | {len(rs)} | {rs[0]['trainable_params']:,} | "
              f"{_spread([r['s_per_step'] for r in rs], '.2f')} | {_spread([r['train_loss_last'] for r in rs], '.3f')}"
              f" | {_spread([r['ppl_heldout'] for r in rs], '.2f')} | {_spread([r['ppl_control'] for r in rs], '.2f')} |")


if __name__ == "__main__":
    main()
