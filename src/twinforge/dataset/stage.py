"""The recipe's `dataset` stage."""

from __future__ import annotations

from ..stage import StageResult
from ..store import Store
from .build import build_dataset


def run_stage(store: Store, cfg, progress: bool = False) -> StageResult:
    r = build_dataset(store, cfg, progress=progress)
    t = r.stats["total"]
    summary = {"train": r.train_examples, "val": r.val_examples, "tokens": t["tokens"], "pages": t["pages"],
               "unique_pages": t.get("unique_pages"), "views": {v: b["examples"] for v, b in r.stats["views"].items()},
               "path": str(r.path), "hash": r.hash[:12], "unchanged": r.unchanged}
    failed = [] if r.train_examples else ["the dataset has no training example (run expand first)"]
    # split adjustments and skipped rows: worth knowing, not failures
    return StageResult("dataset", summary, failed, list(r.problems))
