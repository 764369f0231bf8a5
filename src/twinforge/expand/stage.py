"""The recipe's `expand` stage."""

from __future__ import annotations

from ..stage import StageResult
from ..store.example_rejects import backend_pass_rates
from .run import expand


def run_stage(store, cfg, progress: bool = False) -> StageResult:
    report = expand(store, cfg, progress=progress)
    total = report.volumes["total"]
    summary = {"modules": report.modules, "expanded": report.expanded, "examples": total["examples"],
               "pages_in": report.volumes["pages_in"], "pages_out": total["pages"], "ratio": total["ratio"],
               "unique_pages": total["unique_pages"], "unique_ratio": total["unique_ratio"]}
    gen = report.generated
    if gen:
        # the gate's pass rate per view and for the run's backend (`twinforge examples --rejected` lists the rest)
        summary["generated"] = {"backend": gen["backend"], "kept": gen["kept"], "rejected": gen["rejected"],
                                "pass_rate": gen["pass_rate"],
                                "views": {v: b["pass_rate"] for v, b in gen["views"].items()},
                                "reasons": gen["reasons"],
                                # (kept, rejected) per backend:model over every generated example the store holds
                                "by_backend": {b: list(n) for b, n in backend_pass_rates(store).items()}}
    failed = [f"module {b['module_id']}: {b['error']}" for b in report.invalid]
    if not total["examples"]:
        failed.append(f"no training example from {report.modules} modules")
    notes = list(report.notes)
    if gen.get("failed_calls"):
        notes.append(f"{gen['failed_calls']} generation call(s) failed; their modules are tried again next run")
    return StageResult("expand", summary, failed, notes)
