"""Three scenes → three adapters → one eval run: what did each adapter change?

    .venv/bin/python bench/eval_scenes.py                          # the seeds, 3 scenes, 12 steps each
    .venv/bin/python bench/eval_scenes.py --input ARCHIVE --steps 60 --max-len 192

The archive (default: the shared seeds) goes through ingest → clean → distill (extractive) → expand → dataset in
bench/out/ws-scenes. Each of the first N modules of the train split is one scene (one YAML scene = one thinking
module): its training examples alone train one adapter (kind scene) on the embedded Gemma 3 270M base. Then one
`twinforge eval` run puts base and the N adapters side by side on the same probes (held-out questions plus a
concept and an inversion probe per module). What each scene changed — coverage of its OWN scene's concepts
against the other scenes', the scene's axes/inversions/transition rules newly found in the answers, forgetting on
the control — is the eval's own output now (eval/scenes.py, `run.scenes`, a section of the HTML report); the
script adds the training figures. Results: bench/out/eval-scenes.json; the HTML report's path is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SEEDS = HERE.parent.parent / "shared" / "seeds"


def build(ws: Path, source: Path) -> None:
    from twinforge.clean.run import clean
    from twinforge.config import CleanConfig, DistillConfig, ExpandConfig
    from twinforge.dataset.build import build_dataset
    from twinforge.dataset.config import DatasetConfig
    from twinforge.distill.run import distill
    from twinforge.expand.run import expand
    from twinforge.ingest.entries import Limits
    from twinforge.ingest.run import ingest_paths
    from twinforge.store import Store

    with Store(ws) as store:
        ingest_paths(store, [str(source)], Limits(100.0, 64 * 1024**3))
        clean(store, CleanConfig())
        distill(store, DistillConfig())
        expand(store, ExpandConfig())
        build_dataset(store, DatasetConfig(val_fraction=0.2, formats=["jsonl"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", type=Path, default=SEEDS)
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--probes", type=int, default=9)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--engine", default="auto")
    a = ap.parse_args()

    from twinforge.adapters import registry
    from twinforge.eval.config import EvalConfig
    from twinforge.eval.run import evaluate
    from twinforge.store import Store
    from twinforge.train.sft import TrainArgs, train_adapter

    ws = OUT / "ws-scenes"
    if not (ws / "datasets" / "default" / "train.jsonl").exists():
        build(ws, a.input)
    ds = ws / "datasets" / "default"
    train = [json.loads(x) for x in (ds / "train.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    by_module: dict[str, list[dict]] = {}
    for e in train:
        by_module.setdefault(e["meta"]["module_id"], []).append(e)
    scenes = sorted(by_module, key=lambda m: -len(by_module[m]))[:a.scenes]
    if len(scenes) < a.scenes:
        sys.exit(f"only {len(scenes)} modules in the train split")
    trained = {}
    for i, module in enumerate(scenes):
        folder = ws / "scene-data" / module
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "train.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n"
                                                    for e in by_module[module]), encoding="utf-8")
        out = ws / "adapters" / f"scene-{i + 1}"
        t0 = time.perf_counter()
        res = train_adapter(TrainArgs(base=None, train_file=folder / "train.jsonl", val_file=ds / "val.jsonl",
                                      out_dir=out, max_len=a.max_len, batch_size=2, max_steps=a.steps, lr=a.lr,
                                      save_steps=10_000, name=out.name, scene=module, kind="scene",
                                      dataset="default"))
        with Store(ws) as store:
            registry.register(store, out)
        trained[out.name] = {"scene": module, "examples": len(by_module[module]), "steps": res.steps,
                             "train_loss_first": res.train_loss_first, "train_loss_last": res.train_loss_last,
                             "val_loss": res.val_loss, "seconds": round(time.perf_counter() - t0, 1)}
        print(f"trained {out.name} on scene {module} ({len(by_module[module])} examples): loss "
              f"{res.train_loss_first:.2f} → {res.train_loss_last:.2f}, val {res.val_loss}", flush=True)

    cfg = EvalConfig(adapters=list(trained), max_probes=a.probes, max_new_tokens=a.max_new_tokens,
                     engine=a.engine, sample_seeds=[1])
    with Store(ws) as store:
        run = evaluate(store, cfg, progress=True)
    summary = {}
    for name, info in trained.items():
        summary[name] = info | {
            "metrics": run.metrics[name],
            "scene_effects": run.scenes.get(name),
            "failures": [f"{f.kind}: {f.evidence}" for f in run.failures if f.model == name],
            "active": next(c.as_dict() for c in run.checks if c.model == name),
        }
    result = {"run": run.id, "report": str(run.report_path), "base": run.metrics["base"], "adapters": summary,
              "engines": run.engines, "seconds": round(run.seconds, 1)}
    (OUT / "eval-scenes.json").write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    print(json.dumps(result, indent=1, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
