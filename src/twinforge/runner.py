"""Runs a recipe's stages in order. Each stage is idempotent, so a re-run skips finished work.

Every stage is registered the same way (stage.py's contract); the runner knows nothing else about them. A stage
that raises becomes a failed result carrying its error, so the lines of the stages before it are still shown. A
failed stage stops the run (later stages need its output) and makes it fail, unless the recipe's
`allow_failures` names it: then its failures are reported and the run goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .clean import stage as clean_stage
from .config import Recipe
from .dataset import stage as dataset_stage
from .distill import stage as distill_stage
from .errors import ConfigError, TwinforgeError
from .eval import stage as eval_stage
from .expand import stage as expand_stage
from .hyper import stage as hyper_stage
from .ingest import stage as ingest_stage
from .memory import stage as memory_stage
from .persona import stage as persona_stage
from .stage import Stage, StageResult
from .store import Store
from .train import stage as train_stage

STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("ingest", "ingest", ingest_stage.run_stage),
    Stage("clean", "clean", clean_stage.run_stage),
    Stage("distill", "distill", distill_stage.run_stage),
    Stage("expand", "expand", expand_stage.run_stage),
    Stage("dataset", "dataset", dataset_stage.run_stage),
    Stage("train", "train", train_stage.run_stage),
    Stage("eval", "eval", eval_stage.run_stage),
    Stage("memory", "memory", memory_stage.run_stage),
    Stage("persona", "serve", persona_stage.run_stage),  # the card's summary model is serve.persona_backend
    Stage("hyper", "hyper", hyper_stage.run_stage),
)}


@dataclass
class RunReport:
    results: list[StageResult] = field(default_factory=list)
    allowed: frozenset[str] = frozenset()  # stages whose failures the recipe accepts
    not_run: list[str] = field(default_factory=list)  # stages left out after a failure

    @property
    def ok(self) -> bool:
        return not self.not_run and all(r.ok or r.stage in self.allowed for r in self.results)


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (a llama.cpp server, a parser child)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def check_stages(recipe: Recipe) -> None:
    unknown = [s for s in [*recipe.stages, *recipe.allow_failures] if s not in STAGES]
    if unknown:
        raise ConfigError(f"unknown stage(s) in recipe {recipe.name}: {', '.join(unknown)}",
                          f"available: {', '.join(STAGES)}")


def run_recipe(store: Store, recipe: Recipe, progress: bool = False,
               on_stage: Callable[[str], None] | None = None,
               on_result: Callable[[StageResult], None] | None = None) -> RunReport:
    """Run the recipe's stages; `on_stage(name)` is called as each starts, `on_result` as each ends."""
    check_stages(recipe)
    report = RunReport(allowed=frozenset(recipe.allow_failures))
    for i, name in enumerate(recipe.stages):
        stage = STAGES[name]
        if on_stage:
            on_stage(name)
        wall, cpu = time.monotonic(), _cpu_seconds()
        try:
            result = stage.run(store, getattr(recipe, stage.section), progress)
        except TwinforgeError as e:
            result = StageResult(name, failed=[str(e)])
        result.seconds, result.cpu_seconds = time.monotonic() - wall, _cpu_seconds() - cpu
        report.results.append(result)
        if on_result:
            on_result(result)
        if not result.ok and name not in report.allowed:
            report.not_run = list(recipe.stages[i + 1:])
            break
    return report
