"""The recipe's `eval` stage: every adapter of the recipe's `eval.adapters` (default: every registered one) and
its stacks against the base; a stage that fails when an adapter is inactive."""

from __future__ import annotations

from ..store import Store


def _registered(store: Store) -> list[str]:
    try:
        from ..train import registry
    except ImportError:
        return []
    out = []
    for a in registry.list_adapters(store):
        aid = a.get("id") if isinstance(a, dict) else getattr(a, "id", None)
        if aid:
            out.append(str(aid))
    return out


def run_stage(store: Store, recipe, progress: bool):
    from ..runner import StageResult
    from .run import evaluate

    cfg = recipe.eval.model_copy(deep=True)
    if not cfg.adapters and not cfg.stacks:
        cfg.adapters = _registered(store)
    run = evaluate(store, cfg, progress=progress)
    problems = [f"{f.model}: {f.kind}: {f.evidence}" for f in run.failures if f.kind == "inactive"]
    summary = {"run": run.id, "models": len(run.models), "probes": len(run.probes), "failures": len(run.failures),
               "report": str(run.report_path)}
    return StageResult("eval", summary, not problems, problems)
