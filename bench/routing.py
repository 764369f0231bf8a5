"""Routing (`twin+auto`) on the seeds: does a question go to its scene's adapter, and do the answers gain by it?

    .venv/bin/python bench/routing.py                        # 3 scenes, 12 steps each, 24 new tokens
    .venv/bin/python bench/routing.py --scenes 5 --no-generate   # routing accuracy only (no model runs)

The seeds go through ingest → clean → distill (extractive) → expand → dataset in bench/out/ws-route (reused).
The N modules with the most training examples become N scene adapters (train --per-scene on their examples, on
the embedded Gemma 3 270M). The labelled questions, each with the scene it is about:
- the module probes of eval/probes.py (a concept question and an inversion request per scene), and
- the person's own questions of that conversation (view `qa`, at most --own per scene): real questions, in the
  person's words, that the router never saw (it embeds only the scene's module).
Routing accuracy (top-1, and "picked": the scene's adapter among those answering) is set beside the fixed-adapter
baseline (one adapter for every question: the most frequent scene's), and beside routing by sentence embeddings
alone (no named-concept bonus). With generation on, every question is
answered greedily by its routed adapter(s) and by the fixed adapter, through the same backend the server uses
(backends/adapted.py), and scored by concept coverage against the question's scene. Results: bench/out/routing.json.
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
sys.path.insert(0, str(HERE))


def scenes_dataset(ws: Path, n: int) -> list[str]:
    """Dataset `route`: the train examples of the n modules with the most; returns their ids."""
    src = ws / "datasets" / "default" / "train.jsonl"
    rows = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines() if x.strip()]
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["meta"]["module_id"], []).append(r)
    picked = sorted(by, key=lambda m: -len(by[m]))[:n]
    out = ws / "datasets" / "route" / "train.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for m in picked for r in by[m]), encoding="utf-8")
    return picked


def labelled(store, modules: list[str], own: int) -> list[tuple[str, str, list[str], str]]:
    """(question, scene id, the scene's concepts, language)."""
    from twinforge.distill.schema import Module
    from twinforge.eval.probes import probes_for_module

    out = []
    for mid in modules:
        m = Module.model_validate_json(store.db.execute("SELECT json FROM modules WHERE id = ?", (mid,)).fetchone()[0])
        out += [(p.question, mid, m.concepts, m.language) for p in probes_for_module(m)]
        qs = [json.loads(r[0])[0]["content"] for r in store.db.execute(
            "SELECT messages FROM examples WHERE module_id = ? AND view = 'qa' ORDER BY position", (mid,))]
        out += [(q, mid, m.concepts, m.language) for q in qs[:own]]
    return out


def answer_all(store, groups: dict[tuple[str, ...], list[int]], items, max_tokens: int) -> dict[int, str]:
    """Each question answered by its adapter set, loading each set once."""
    from twinforge.backends.adapted import adapted_backend
    from twinforge.backends.base import Request
    from twinforge.backends.config import BackendConfig

    out = {}
    for ids, idx in groups.items():
        backend = adapted_backend(store, list(ids), BackendConfig(name="transformers", max_tokens=max_tokens))
        for i in idx:
            out[i] = backend.complete(Request([{"role": "user", "content": items[i][0]}], max_tokens=max_tokens)).text
        del backend
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", type=Path, default=SEEDS)
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--own", type=int, default=3, help="the person's own questions per scene")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--no-generate", action="store_true")
    a = ap.parse_args()

    from eval_scenes import build

    from twinforge.eval.metrics.answer import Answer
    from twinforge.eval.metrics.coverage import answer_coverage
    from twinforge.serve.routing import Router, accuracy
    from twinforge.store import Store
    from twinforge.train.config import TrainConfig
    from twinforge.train.stage import train_in_workspace

    ws = OUT / "ws-route"
    if not (ws / "datasets" / "default" / "train.jsonl").exists():
        build(ws, a.input)
    modules = scenes_dataset(ws, a.scenes)
    t0 = time.perf_counter()
    with Store(ws) as store:
        train_in_workspace(store, TrainConfig(dataset="route", per_scene=True, name="route", max_steps=a.steps,
                                              lr=5e-4, max_len=128, batch_size=2, save_steps=10_000))
        t_train = time.perf_counter() - t0
        router = Router.of(store)
        items = labelled(store, modules, a.own)
        t1 = time.perf_counter()
        acc = accuracy(router, [(q, s) for q, s, _, _ in items])
        t_route = time.perf_counter() - t1
        dense = accuracy(Router.of(store, concept_bonus=0.0), [(q, s) for q, s, _, _ in items])
        result = {"scenes": modules, "adapters": [s.adapter_id for s in router.scenes], "routing": acc,
                  "routing_dense_only": {k: dense[k] for k in ("top1", "picked", "fixed")},
                  "seconds": {"train": round(t_train, 1), "route_all": round(t_route, 2)}}
        if not a.no_generate:
            by_scene = {s.module.id: s.adapter_id for s in router.scenes}
            counts = {m: sum(s == m for _, s, _, _ in items) for m in modules}
            fixed = by_scene[max(counts, key=counts.get)]
            routed: dict[tuple[str, ...], list[int]] = {}
            for i, (q, _, _, _) in enumerate(items):
                routed.setdefault(tuple(r.adapter_id for r in router.pick(q)), []).append(i)
            t2 = time.perf_counter()
            ans_routed = answer_all(store, routed, items, a.max_new_tokens)
            ans_fixed = answer_all(store, {(fixed,): list(range(len(items)))}, items, a.max_new_tokens)

            def cov(answers: dict[int, str]) -> float:
                xs = [answer_coverage(Answer(answers[i], lang, concepts))
                      for i, (_, _, concepts, lang) in enumerate(items) if concepts]
                return sum(xs) / len(xs)

            result["coverage"] = {"routed": cov(ans_routed), "fixed": cov(ans_fixed), "fixed_adapter": fixed,
                                  "answers": len(items), "max_new_tokens": a.max_new_tokens}
            result["seconds"]["generate"] = round(time.perf_counter() - t2, 1)
    (OUT / "routing.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
