"""The recipe's `expand` stage."""

from __future__ import annotations

from ..stage import StageResult
from .run import expand


def run_stage(store, cfg, progress: bool = False) -> StageResult:
    report = expand(store, cfg, progress=progress)
    total = report.volumes["total"]
    summary = {"modules": report.modules, "expanded": report.expanded, "examples": total["examples"],
               "pages_in": report.volumes["pages_in"], "pages_out": total["pages"], "ratio": total["ratio"],
               "unique_pages": total["unique_pages"], "unique_ratio": total["unique_ratio"]}
    failed = [f"module {b['module_id']}: {b['error']}" for b in report.invalid]
    if not total["examples"]:
        failed.append(f"no training example from {report.modules} modules")
    return StageResult("expand", summary, failed)
