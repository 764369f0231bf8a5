"""Chained training on the sample archive: continue vs stack, without and with replay, side by side.

    .venv/bin/python bench/chain.py                          # 3 batches, 4 steps each, 4 chains (~10-20 min, CPU)
    .venv/bin/python bench/chain.py --steps 8 --replay 0.3

Data: the sample archive (examples/sample-archive) ingested and cleaned into bench/out/ws-chain (once), every
user → assistant pair of the canonical dialogs as one example (cut to --max-chars); the last 2 conversations are
the held-out person text (val.jsonl), the rest split in order into --batches batches. Model: the embedded Gemma
3 270M base, LoRA r=8 on q/k/v/o, --steps steps a batch, gate warn (it flags, never rejects here).

Each chain prints its per-batch table (`twinforge train --chain` prints the same); the summary compares where each
chain ends: held-out perplexity on the person's text, control perplexity on general text, and the mean
perplexity on the earlier batches' own examples (retention: what the last batches did to the first ones).
Results: bench/out/chain-results.json.
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

from sample_pairs import (
    kept_pairs,  # bench/sample_pairs.py: the sample as user → assistant pairs
)


def build_workspace(batches: int, max_chars: int) -> tuple[Path, int]:
    ws = OUT / "ws-chain"
    pairs = [p | {"meta": {"conversation_id": c, "module_id": c}} for c, p in kept_pairs(ws, max_chars)]
    convs = sorted({p["meta"]["conversation_id"] for p in pairs})
    held = set(convs[-2:])
    train = [p for p in pairs if p["meta"]["conversation_id"] not in held]
    val = [p for p in pairs if p["meta"]["conversation_id"] in held]
    folder = ws / "datasets" / "default"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (("train.jsonl", train), ("val.jsonl", val)):
        (folder / name).write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in data), encoding="utf-8")
    return ws, -(-len(train) // batches)


def summary(chain) -> dict:
    last = next((r for r in reversed(chain.rows) if r.status in ("ok", "flagged")), None)
    if last is None:
        return {}
    first = chain.rows[0]
    earlier = [k for k in last.after if k.startswith("batch:") and k != f"batch:{last.id}"]
    retained = [last.after[k] for k in earlier if last.after[k] is not None]
    return {"heldout_base": first.before.get("heldout"), "heldout": last.after.get("heldout"),
            "control_base": first.before.get("control"), "control": last.after.get("control"),
            "earlier_batches_ppl": sum(retained) / len(retained) if retained else None,
            "flagged": [r.id for r in chain.rows if r.problems]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--replay", type=float, default=0.2)
    ap.add_argument("--max-chars", type=int, default=300)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()

    from twinforge.store import Store
    from twinforge.train.config import TrainConfig
    from twinforge.train.stage import train_in_workspace

    ws, lines = build_workspace(args.batches, args.max_chars)
    shutil.rmtree(ws / "adapters", ignore_errors=True)  # a fresh run: every chain trained here
    results = {}
    for mode in ("continue", "stack"):
        for share in (0.0, args.replay):
            name = f"{mode}-r{int(share * 100):02d}"
            cfg = TrainConfig(name=name, batch_lines=lines, chain=True, chain_mode=mode, replay=share, gate="warn",
                              max_steps=args.steps, max_len=args.max_len, batch_size=2, lr=args.lr, save_steps=100,
                              gate_examples=8, gate_probes=0)
            t0 = time.perf_counter()
            with Store(ws) as store:
                report = train_in_workspace(store, cfg)
            print(f"\n== {name} ({time.perf_counter() - t0:.0f} s)\n{report.chain.table()}", flush=True)
            results[name] = {**summary(report.chain), "rows": report.chain.as_dict()["rows"]}
    print(f"\n{args.batches} batches of {lines} examples, {args.steps} steps each, lr {args.lr}, "
          f"max_len {args.max_len}; final state of each chain (lower is better):")
    print(f"{'chain':<14}{'held-out ppl':>16}{'control ppl':>16}{'earlier batches':>18}  flagged")
    for name, r in results.items():
        print(f"{name:<14}{r['heldout_base']:>7.1f} → {r['heldout']:<6.1f}{r['control_base']:>7.1f} → "
              f"{r['control']:<6.1f}{r['earlier_batches_ppl']:>18.2f}  {', '.join(r['flagged']) or '-'}")
    (OUT / "chain-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
