"""The recipe's `persona` stage: build or update the card (hand edits kept). Its config is the recipe's `serve`
section, whose `persona_backend` the card's summary is written with."""

from __future__ import annotations

from ..stage import StageResult
from .card import build_persona, read_data


def run_stage(store, cfg, progress: bool = False) -> StageResult:
    built = build_persona(store, cfg.persona_backend, progress=progress)
    data = read_data(store) or {}
    summary = {"path": str(built.path), "themes": len(data.get("themes", [])),
               "question kinds": len(data.get("questions", [])), "moves": len(data.get("moves", [])),
               "edited sections kept": len(data.get("edited", []))}
    failed = list(built.problems)
    if not data.get("corpus", {}).get("modules"):
        failed.append("no modules: themes and moves are empty (run distill before persona)")
    return StageResult("persona", summary, failed)
