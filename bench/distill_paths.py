"""Distill paths side by side on the labelled module set: figures and seconds per module.

    PYTHONPATH=src .venv/bin/python bench/distill_paths.py --backend extractive --split heldout
    PYTHONPATH=src .venv/bin/python bench/distill_paths.py --backend llamacpp --mode one-shot --mode decomposed

Each labelled dialog (tests/data/modules/dialogs, the split asked) is distilled in memory through the same
strategy, chunking, merge and assembly as `twinforge distill` (no store, no cache: every call is made, so the
time is real), then scored against its labels by the product's scorer (distill/quality.py `score_gold`, the one
`twinforge modules score --gold` uses): concept recall and precision by lemma, meta-move accuracy, axis recall;
and by its per-module checks: the share of concepts that are function words, and phrases or quotes that are not
the person's.
Results go to bench/out/distill-paths.json. A benchmark, not a test: unlike `twinforge modules score --gold` it
keeps no workspace and no cache, and it times each module.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

from twinforge.backends import get_backend
from twinforge.config import BackendConfig, DistillConfig
from twinforge.distill import quality
from twinforge.distill.assemble import build_module, merge
from twinforge.distill.render import Dialog, Turn, chunk_dialog
from twinforge.distill.repair import DraftError
from twinforge.distill.run import strategy_for

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TOP = 5  # the concepts the decomposed mode asks the model to choose


class Direct:
    """The backend without the store's cache, in CachedBackend's shape (complete_many → answers)."""

    def __init__(self, backend):
        self.backend = backend
        self.calls = 0

    def complete_many(self, requests):
        from twinforge.backends.base import BackendError
        from twinforge.backends.cache import Answer

        out = []
        for r in self.backend.complete_many(requests):
            self.calls += 1
            out.append(Answer("", None, r) if isinstance(r, BackendError) else Answer("", r.text))
        return out


def run(dialogs, backend_name: str, mode: str) -> dict:
    cfg = DistillConfig(backend=BackendConfig(name=backend_name, max_tokens=512), mode=mode)
    backend = get_backend(cfg.backend)
    strategy = strategy_for(backend_name, mode)
    direct = Direct(backend)
    if hasattr(strategy, "attach"):
        strategy.attach(direct)
    rows = []
    for d, labels in dialogs:
        t0 = time.perf_counter()
        drafts, errors = [], []
        for chunk in [c for c in chunk_dialog(d, cfg.chunk_chars, cfg.overlap_chars) if c.user_chars]:
            req = strategy.request(d, chunk, 1, cfg.backend.max_tokens)
            req.max_tokens = req.max_tokens or cfg.backend.max_tokens
            answer = direct.complete_many([req])[0]
            try:
                drafts.append((strategy.draft(answer.text or "", d, chunk), chunk.user_chars))
            except DraftError as e:
                errors.append(str(e))
        module = build_module(d, merge(drafts), backend_name, strategy.version)[0] if drafts else None
        seconds = time.perf_counter() - t0
        rows.append(score(d, labels, module, seconds, errors))
        print(json.dumps({k: v for k, v in rows[-1].items() if k not in ("counts", "top_counts")},
                         ensure_ascii=False), flush=True)
    return summarize(rows)


def score(d: Dialog, labels: dict, module, seconds: float, errors: list[str]) -> dict:
    """One module against its labels, by the product's scorer (quality.score_gold, quality.check_module)."""
    counts = quality.score_gold(module, labels, d.language)
    # the first TOP concepts alone: where a model's choice (decomposed mode puts it first) is better or worse
    # than the offline ranking's
    top = quality.score_gold(module.model_copy(update={"concepts": module.concepts[:TOP]}) if module else None,
                             labels, d.language)
    function = invented = 0
    if module is not None:
        turns = [(t.id, t.role, t.text) for t in d.turns]
        check = quality.check_module(module, *quality.sides(turns, d.language))
        function = len(check.function_concepts)
        invented = int(check.phrase in ("assistant", "not-own", "empty")) + sum(q != "ok" for q in check.quotes)
    return {"id": d.conversation_id, "seconds": round(seconds, 2), "module": module is not None,
            "counts": counts, **counts.figures(), "concepts": len(module.concepts) if module else 0,
            "function_words": function, "meta_move": module.meta_move if module else None,
            "gold_meta_move": labels.get("meta_move"), "invented": invented,
            "predicted_axes": module.axes if module else [], "errors": errors, "top_counts": top,
            "predicted_concepts": module.concepts if module else []}


def summarize(rows: list[dict]) -> dict:
    total, top = quality.GoldCounts(dialogs=0), quality.GoldCounts(dialogs=0)
    for r in rows:
        total.add(r["counts"])
        top.add(r["top_counts"])
    figures, top_figures = total.figures(), top.figures()
    concepts = sum(r["concepts"] for r in rows)
    n = len(rows)
    return {
        **{k: figures[k] for k in ("dialogs", "concept_recall", "concept_precision", "meta_move_accuracy",
                                   "axis_recall", "axes")},
        "function_word_share": round(sum(r["function_words"] for r in rows) / concepts, 3) if concepts else None,
        "invented_phrases_or_quotes": sum(r["invented"] for r in rows),
        "failed": sum(not r["module"] for r in rows),
        "seconds_per_module": round(sum(r["seconds"] for r in rows) / n, 3) if n else None,
        f"top{TOP}_concept_recall": top_figures["concept_recall"],
        f"top{TOP}_concept_precision": top_figures["concept_precision"],
    }


def load(folder: Path, split: str) -> list[tuple[Dialog, dict]]:
    out = []
    for path in sorted((folder / "dialogs").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if split != "all" and data["split"] != split:
            continue
        turns = [Turn(m["id"], m["role"], m["text"]) for m in data["messages"]]
        out.append((Dialog(f"gold:{data['id']}", data.get("title") or data["id"], data["language"], turns),
                    data["labels"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gold", type=Path, default=ROOT / "tests" / "data" / "modules")
    ap.add_argument("--split", default="heldout", choices=["tuning", "heldout", "all"])
    ap.add_argument("--backend", default="extractive")
    ap.add_argument("--mode", action="append", help="distill.mode, repeatable (default: auto)")
    ap.add_argument("--limit", type=int, help="only the first N dialogs of the split (a slow model on 2 cores)")
    args = ap.parse_args()
    dialogs = load(args.gold, args.split)[: args.limit]
    results = {}
    for mode in args.mode or ["auto"]:
        results[mode] = run(dialogs, args.backend, mode)
        print(mode, json.dumps(results[mode]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "distill-paths.json").write_text(json.dumps({"backend": args.backend, "split": args.split,
                                                        "results": results}, indent=2))


if __name__ == "__main__":
    main()
