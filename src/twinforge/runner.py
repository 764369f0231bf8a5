"""Runs a recipe's stages in order. Each stage is idempotent, so a re-run skips finished work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import Recipe
from .errors import ConfigError
from .ingest.entries import Limits
from .ingest.run import ingest_paths
from .store import Store


@dataclass
class StageResult:
    stage: str
    summary: dict
    ok: bool
    problems: list[str]


def _ingest(store: Store, recipe: Recipe, progress: bool) -> StageResult:
    cfg = recipe.ingest
    if not cfg.inputs:
        raise ConfigError("the recipe's ingest.inputs is empty", "list your export files or folders there")
    inputs = [str(Path(p).expanduser()) for p in cfg.inputs]
    report = ingest_paths(store, inputs, Limits(cfg.max_zip_ratio, cfg.max_zip_bytes), progress=progress)
    problems = [f"{s.path}: {s.reason}" for s in report.by_status("failed")]
    return StageResult("ingest", report.totals(), report.ok, problems)


def _clean(store: Store, recipe: Recipe, progress: bool) -> StageResult:
    from .clean.run import clean

    report = clean(store, recipe.clean, progress=progress)
    kept = report.reasons.get("kept", 0) + report.reasons.get("kept-by-user", 0)
    summary = {"kept": kept, **{k: v for k, v in report.reasons.items() if k not in ("kept", "kept-by-user")}}
    return StageResult("clean", summary, True, [])


def _distill(store: Store, recipe: Recipe, progress: bool) -> StageResult:
    from .distill.run import distill

    r = distill(store, recipe.distill, progress=progress)
    summary = {"modules": r.distilled, "done before": r.done_before, "failed": r.failed, "cache hits": r.cache_hits}
    return StageResult("distill", summary, True, [])


def _expand(store: Store, recipe: Recipe, progress: bool) -> StageResult:
    from .expand.run import expand

    report = expand(store, recipe.expand, progress=progress)
    total = report.volumes["total"]
    summary = {"modules": report.modules, "expanded": report.expanded, "examples": total["examples"],
               "pages_in": report.volumes["pages_in"], "pages_out": total["pages"], "ratio": total["ratio"]}
    problems = [f"module {b['module_id']}: {b['error']}" for b in report.invalid]
    return StageResult("expand", summary, True, problems)


def _later(stage: str) -> Callable[[Store, Recipe, bool], StageResult]:
    """Stages from `dataset` on keep their recipe runner as `run_stage` in `twinforge/<stage>/stage.py`
    (the persona card's in `twinforge/memory/persona.py`), imported only when the stage runs."""
    module_name = "twinforge.memory.persona" if stage == "persona" else f"twinforge.{stage}.stage"

    def run(store: Store, recipe: Recipe, progress: bool) -> StageResult:
        import importlib

        return importlib.import_module(module_name).run_stage(store, recipe, progress)

    return run


STAGES: dict[str, Callable[[Store, Recipe, bool], StageResult]] = {
    "ingest": _ingest, "clean": _clean, "distill": _distill, "expand": _expand,
    **{s: _later(s) for s in ("dataset", "train", "eval", "memory", "persona", "hyper")},
}


def run_recipe(store: Store, recipe: Recipe, progress: bool = False) -> list[StageResult]:
    unknown = [s for s in recipe.stages if s not in STAGES]
    if unknown:
        raise ConfigError(f"unknown stage(s) in recipe {recipe.name}: {', '.join(unknown)}",
                          f"available: {', '.join(STAGES)}")
    results = []
    for stage in recipe.stages:
        result = STAGES[stage](store, recipe, progress)
        results.append(result)
        if not result.ok:
            break  # later stages need this one's output
    return results
