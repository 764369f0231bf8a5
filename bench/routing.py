"""Routing (`twin+auto`) on the seeds: does a question go to its scene's adapter, and do the answers gain by it?

    .venv/bin/python bench/routing.py                    # routing over every module; 3 scene adapters answer
    .venv/bin/python bench/routing.py --no-generate      # routing accuracy only (no training, no model runs)
    .venv/bin/python bench/routing.py --input examples/sample-archive --out-name sample --no-generate

The archive (default: the shared seeds) goes through ingest → clean → distill (extractive) → expand → dataset in
bench/out/ws-route[-NAME] (reused). Every module is a scene. The labelled questions, each with the scene it is
about:
- the module probes of eval/probes.py (a concept question and an inversion request per scene), and
- up to --own of the person's own messages in that conversation, those no quote of the module was taken from
  (the router embeds the module and its quotes, never these messages).
Routing accuracy (top-1, and "picked": the scene's adapter among those answering) is set beside the fixed-adapter
baseline (one adapter for every question: the most frequent scene's) and beside routing by sentence embeddings
alone (no named-concept bonus). Routing reads only the scenes, so it is measured over every module without
training. With generation on, the N modules with the most training examples become scene adapters (train
--per-scene, --steps each, on the embedded Gemma 3 270M); their questions are answered greedily by the routed
adapter(s) and by the fixed adapter, through the same backend the server uses (backends/adapted.py), and scored by
concept coverage against the question's scene. Results: bench/out/routing[-NAME].json.
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


def module(store, mid: str):
    from twinforge.distill.schema import Module

    return Module.model_validate_json(store.db.execute("SELECT json FROM modules WHERE id = ?", (mid,)).fetchone()[0])


def labelled(store, modules: list[str], own: int) -> list[tuple[str, str, list[str], str]]:
    """(question, scene id, the scene's concepts, language): each scene's module probes, then up to `own` of the
    person's messages in its conversation — those no quote of the module was taken from, since the router
    embeds the quotes."""
    from twinforge.eval.probes import probes_for_module
    from twinforge.expand.source import dialog

    out = []
    for mid in modules:
        m = module(store, mid)
        out += [(p.question, mid, m.concepts, m.language) for p in probes_for_module(m)]
        quoted = {q.message_id for q in m.quotes}
        mine = [t.text.strip() for t in dialog(store.db, m.conversation_id)
                if t.role == "user" and t.id not in quoted and len(t.text.strip()) >= 15]
        out += [(q[:1000], mid, m.concepts, m.language) for q in mine[:own]]
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


def coverage(store, router, items, max_tokens: int) -> dict:
    """Concept coverage of the answers: routed adapter(s) vs one fixed adapter (the most frequent scene's)."""
    from twinforge.eval.metrics.answer import Answer
    from twinforge.eval.metrics.coverage import answer_coverage

    by_scene = {s.module.id: s.adapter_id for s in router.scenes}
    counts: dict[str, int] = {}
    for _, s, _, _ in items:
        counts[s] = counts.get(s, 0) + 1
    fixed = by_scene[max(counts, key=counts.get)]
    routed: dict[tuple[str, ...], list[int]] = {}
    hits = 0
    for i, (q, scene, _, _) in enumerate(items):
        routes = router.pick(q)
        hits += routes[0].scene == scene
        routed.setdefault(tuple(r.adapter_id for r in routes), []).append(i)
    t0 = time.perf_counter()
    ans_routed = answer_all(store, routed, items, max_tokens)
    ans_fixed = answer_all(store, {(fixed,): list(range(len(items)))}, items, max_tokens)

    def cov(answers: dict[int, str]) -> float:
        xs = [answer_coverage(Answer(answers[i], lang, concepts))
              for i, (_, _, concepts, lang) in enumerate(items) if concepts]
        return sum(xs) / len(xs)

    return {"routed": cov(ans_routed), "fixed": cov(ans_fixed), "fixed_adapter": fixed, "answers": len(items),
            "routed_top1_among_trained": hits / len(items), "max_new_tokens": max_tokens,
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", type=Path, default=SEEDS)
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--own", type=int, default=5, help="the person's own messages per scene")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--no-generate", action="store_true")
    ap.add_argument("--out-name", default="", help="suffix of the workspace and result names (another archive)")
    a = ap.parse_args()

    from eval_scenes import build

    from twinforge.scenes.catalog import SceneAdapter
    from twinforge.serve.routing import Router, accuracy
    from twinforge.store import Store
    from twinforge.train.config import TrainConfig
    from twinforge.train.stage import train_in_workspace

    suffix = f"-{a.out_name}" if a.out_name else ""
    ws = OUT / f"ws-route{suffix}"
    if not (ws / "datasets" / "default" / "train.jsonl").exists():
        build(ws, a.input)
    modules = scenes_dataset(ws, a.scenes)
    with Store(ws) as store:
        # routing reads only the scenes, not what their adapters learned: measured over every module as a scene
        every = [r[0] for r in store.db.execute("SELECT id FROM modules ORDER BY id")]
        items = labelled(store, every, a.own)
        pairs = [(q, s) for q, s, _, _ in items]
        t1 = time.perf_counter()
        acc = accuracy(Router([SceneAdapter(mid, module(store, mid)) for mid in every]), pairs)
        t_route = time.perf_counter() - t1
        dense = accuracy(Router([SceneAdapter(mid, module(store, mid)) for mid in every], concept_bonus=0.0), pairs)
        result = {"scenes_routed": len(every), "routing": acc,
                  "routing_dense_only": {k: dense[k] for k in ("top1", "picked", "fixed")},
                  "seconds": {"route_all": round(t_route, 2)}}
        if not a.no_generate:
            t0 = time.perf_counter()
            train_in_workspace(store, TrainConfig(dataset="route", per_scene=True, name="route", max_steps=a.steps,
                                                  lr=5e-4, max_len=128, batch_size=2, save_steps=10_000))
            result["seconds"]["train"] = round(time.perf_counter() - t0, 1)
            router = Router.of(store)
            items = [x for x in items if x[1] in modules]  # the trained scenes' questions
            result["coverage"] = coverage(store, router, items, a.max_new_tokens)
            result["seconds"]["generate"] = result["coverage"].pop("seconds")
    (OUT / f"routing{suffix}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
