"""The recipe's `clean` stage."""

from __future__ import annotations

from ..stage import StageResult
from .run import clean


def run_stage(store, cfg, progress: bool = False) -> StageResult:
    report = clean(store, cfg, progress=progress)
    kept = report.reasons.get("kept", 0) + report.reasons.get("kept-by-user", 0)
    summary = {"kept": kept, **{k: v for k, v in report.reasons.items() if k not in ("kept", "kept-by-user")}}
    failed = [] if kept or not sum(report.reasons.values()) else [
        f"clean kept none of {sum(report.reasons.values())} messages: later stages have nothing to work on "
        "(see `twinforge rejects`; raise clean.chatter_threshold or `twinforge keep ID`)"]
    return StageResult("clean", summary, failed)
