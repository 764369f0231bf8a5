"""The stage contract (after datatrove's PipelineStep): every stage of the pipeline is one function

    run_stage(store, cfg, progress) -> StageResult

where `cfg` is the stage's own section of the recipe. It returns what it did (`summary`, counts), what failed
(`failed`, one line each, naming the record and the reason) and what is worth knowing without being a failure
(`notes`). A stage that did nothing it should have — no module from eligible dialogs, an empty memory — lists
that under `failed` too. The runner knows nothing else about a stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageResult:
    stage: str
    summary: dict = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float | None = None  # wall time, set by the runner
    cpu_seconds: float | None = None  # this process's CPU time over the stage (children's too), set by the runner

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {"stage": self.stage, "ok": self.ok, "summary": self.summary, "failed": self.failed,
                "notes": self.notes, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds}


RunStage = Callable[[Any, Any, bool], StageResult]  # (store, the recipe's section, progress)


@dataclass(frozen=True)
class Stage:
    name: str
    section: str  # which attribute of the recipe is this stage's config
    run: RunStage
