"""The recipe's `distill` stage. Dialogs left without a module are failures (`twinforge failures` shows the
model's raw answers); so is a run that had dialogs to distill and made no module at all."""

from __future__ import annotations

from ..stage import StageResult
from .run import distill


def run_stage(store, cfg, progress: bool = False) -> StageResult:
    r = distill(store, cfg, progress=progress)
    summary = {"modules": r.distilled, "done before": r.done_before, "failed": r.failed, "cache hits": r.cache_hits}
    failed = []
    if r.failed:
        failed.append(f"{r.failed} of {r.pending} dialogs got no module from {r.backend} "
                      f"(`twinforge failures` shows its answers)")
    if not r.eligible:
        failed.append("no dialog to distill: clean kept no dialog with enough of the person's text")
    elif not (r.distilled or r.done_before):
        failed.append(f"no module from {r.eligible} eligible dialogs")
    return StageResult("distill", summary, failed)
