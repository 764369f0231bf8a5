"""The recipe's `memory` stage: build (or bring up to date) the memory index and concept graph."""

from __future__ import annotations

from ..store import Store
from .build import build_memory


def run_stage(store: Store, recipe, progress: bool = False):
    from ..runner import StageResult

    r = build_memory(store, recipe.memory, progress=progress)
    summary = {"items": r.items, "added": r.added, "changed": r.changed, "removed": r.removed,
               "embedded": r.embedded, "embedder": r.embedder, "concepts": r.concepts,
               "communities": r.communities, "seconds": r.seconds}
    problems = [] if r.items else ["memory is empty: nothing kept by clean and no modules (run clean/distill)"]
    return StageResult("memory", summary, True, problems)
