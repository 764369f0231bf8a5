"""The recipe's `memory` stage: build (or bring up to date) the memory index and concept graph."""

from __future__ import annotations

from ..stage import StageResult
from ..store import Store
from .build import build_memory


def run_stage(store: Store, cfg, progress: bool = False) -> StageResult:
    r = build_memory(store, cfg, progress=progress)
    summary = {"items": r.items, "added": r.added, "changed": r.changed, "removed": r.removed,
               "embedded": r.embedded, "embedder": r.embedder, "concepts": r.concepts,
               "communities": r.communities, "seconds": r.seconds}
    failed = [] if r.items else ["memory is empty: nothing kept by clean and no modules (run clean/distill)"]
    return StageResult("memory", summary, failed)
