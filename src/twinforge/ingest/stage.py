"""The recipe's `ingest` stage: the recipe's inputs into the store."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..stage import StageResult
from .entries import Limits
from .run import ingest_paths


def run_stage(store, cfg, progress: bool = False) -> StageResult:
    if not cfg.inputs:
        raise ConfigError("the recipe's ingest.inputs is empty", "list your export files or folders there")
    inputs = [str(Path(p).expanduser()) for p in cfg.inputs]
    report = ingest_paths(store, inputs, Limits(cfg.max_zip_ratio, cfg.max_zip_bytes), progress=progress)
    failed = [f"{s.path}: {s.reason}" for s in report.by_status("failed")]
    if not report.ok and not failed:
        failed.append(f"nothing to import in {', '.join(inputs)}: no file of a format twinforge reads")
    return StageResult("ingest", report.totals(), failed)
