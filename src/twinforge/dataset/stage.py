"""The recipe's `dataset` stage."""

from __future__ import annotations

from ..config import Recipe
from ..store import Store


def run_stage(store: Store, recipe: Recipe, progress: bool = False):
    from ..runner import StageResult
    from .build import build_dataset

    r = build_dataset(store, recipe.dataset, progress=progress)
    t = r.stats["total"]
    summary = {"train": r.train_examples, "val": r.val_examples, "tokens": t["tokens"], "pages": t["pages"],
               "path": str(r.path), "hash": r.hash[:12], "unchanged": r.unchanged,
               "notes": "; ".join(r.problems)}  # split adjustments and skipped rows: worth knowing, not errors
    return StageResult("dataset", summary, True, [])
