"""The recipe's `eval` stage: every adapter of the recipe's `eval.adapters` (default: every registered one) and
its stacks against the base; a stage that fails when an adapter is inactive."""

from __future__ import annotations

from ..errors import ConfigError
from ..stage import StageResult
from ..store import Store
from .run import evaluate


def _registered(store: Store) -> list[str]:
    from ..adapters import registry

    out = []
    for a in registry.list_adapters(store):
        if a.missing:
            raise ConfigError(f"adapter {a.id}: {a.missing}",
                              f"restore it, or forget it with `twinforge adapters remove {a.id}`")
        out.append(a.id)
    return out


# findings about a model are the report's business; these say the evaluation itself did not work
STAGE_FAILURES = ("inactive", "judge-failed")


def run_stage(store: Store, cfg, progress: bool = False) -> StageResult:
    cfg = cfg.model_copy(deep=True)
    if not cfg.adapters and not cfg.stacks:
        cfg.adapters = _registered(store)
    run = evaluate(store, cfg, progress=progress)
    failed = [f"{f.model}: {f.kind}: {f.evidence}" for f in run.failures if f.kind in STAGE_FAILURES]
    notes = [f"{f.model}: {f.kind}: {f.evidence}" for f in run.failures if f.kind not in STAGE_FAILURES]
    summary = {"run": run.id, "models": len(run.models), "probes": len(run.probes), "failures": len(run.failures),
               "report": str(run.report_path)}
    return StageResult("eval", summary, failed, notes)
