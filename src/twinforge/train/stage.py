"""Training inside a workspace: the dataset by name, one adapter or one per scene / per batch of lines, each
registered when finished. Used by `twinforge train` and by the recipe runner (`run_stage`).

Every adapter has a stable id, so a re-run skips finished adapters and resumes an interrupted one from its last
checkpoint. Per-scene and per-batch adapters keep the exact examples they saw as train.jsonl in their folder.
With `chain`, batches are trained one after another and gated (chain.py); otherwise each on the bare base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters import registry
from ..errors import InputError, TwinforgeError
from ..models.base import recipe_for
from ..stage import StageResult
from .chain import ChainReport, train_chain, write_examples
from .config import TrainConfig
from .data import read_examples
from .sft import META, TrainArgs, TrainResult, finished_result, train_adapter


@dataclass
class Trained:
    id: str
    status: str  # trained | resumed | skipped (finished before) | stopped (stop_after) | failed | rejected (gate)
    result: TrainResult | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "status": self.status, "error": self.error,
                **({"result": self.result.as_dict()} if self.result else {})}


@dataclass
class TrainReport:
    dataset: str
    base: str
    adapters: list[Trained] = field(default_factory=list)
    chain: ChainReport | None = None  # with cfg.chain: the batches' gate figures, one row each

    @property
    def problems(self) -> list[str]:
        return [f"{a.id}: {a.error}" for a in self.adapters if a.status == "failed"]

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "base": self.base, "adapters": [a.as_dict() for a in self.adapters],
                **({"chain": self.chain.as_dict()} if self.chain else {})}


def dataset_folder(store, name: str) -> Path:
    return store.ws.dataset(name)


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")[:80] or "x"


def train_in_workspace(store, cfg: TrainConfig, progress: bool = False, stop_after: int | None = None,
                       device: str | None = None) -> TrainReport:
    folder = dataset_folder(store, cfg.dataset)
    train_file, val_file = folder / "train.jsonl", folder / "val.jsonl"
    if not train_file.is_file():
        raise InputError(str(train_file), "no such file", f"build the dataset first: `twinforge dataset"
                         f"{'' if cfg.dataset == 'default' else ' --name ' + cfg.dataset}`")
    recipe = recipe_for(cfg.base)
    r = cfg.r or (recipe.r if recipe else 8)
    parents = [registry.get(store, i).path for i in cfg.on_top_of]
    common = dict(
        base=cfg.base, r=r, alpha=cfg.alpha or (recipe.alpha if recipe and not cfg.r else 2 * r),
        dropout=cfg.dropout, target_modules=cfg.target_modules or (recipe.target_modules if recipe else None),
        layers=cfg.layers,
        lr=cfg.lr, epochs=cfg.epochs, max_steps=cfg.max_steps,
        max_len=cfg.max_len or (recipe.max_len if recipe else 1024), batch_size=cfg.batch_size,
        packing=cfg.packing, grad_checkpointing=cfg.grad_checkpointing, qlora=cfg.qlora, seed=cfg.seed,
        on_top_of=parents, save_steps=cfg.save_steps, eval_steps=cfg.eval_steps, dataset=cfg.dataset,
        stop_after=stop_after, device=device)
    root = store.ws.adapters
    prefix = _safe(cfg.name or cfg.dataset)
    report = TrainReport(cfg.dataset, str(cfg.base or "embedded"))

    jobs: list[tuple[str, str, str | None, Path, Path | None, list[dict] | None]] = []  # id, kind, scene, ...
    if not (cfg.per_scene or cfg.batch_lines):
        jobs.append((cfg.name or f"{prefix}-full", "full", None, train_file,
                     val_file if val_file.is_file() else None, None))
    else:
        examples = read_examples(train_file)
        vals = read_examples(val_file) if val_file.is_file() and val_file.stat().st_size else []
        if cfg.per_scene:
            groups: dict[str, list[dict]] = {}
            for ex in examples:
                module = (ex.get("meta") or {}).get("module_id")
                if not module:
                    raise InputError(str(train_file), "an example has no meta.module_id, so --per-scene cannot "
                                     "group it", "build the dataset with `twinforge dataset` (it records modules)")
                groups.setdefault(str(module), []).append(ex)
            for module, exs in groups.items():
                own_val = [v for v in vals if str((v.get("meta") or {}).get("module_id")) == module]
                jobs.append((f"{prefix}-scene-{_safe(module)}", "scene", module, None, None, [exs, own_val]))
        elif cfg.chain:
            report.chain = train_chain(store, cfg, examples, vals, common, prefix, progress)
            report.adapters = [_trained(r) for r in report.chain.rows]
            return report
        else:
            n = cfg.batch_lines
            for i in range(0, len(examples), n):
                jobs.append((f"{prefix}-batch-{i // n + 1:04d}", "batch", None, None,
                             val_file if vals else None, [examples[i:i + n], []]))

    for adapter_id, kind, scene, train, val, subset in jobs:
        out = root / adapter_id
        if (out / META).is_file():
            registry.register(store, out)
            report.adapters.append(Trained(adapter_id, "skipped", finished_result(out)))
            continue
        if subset is not None:  # write the examples this adapter sees into its folder
            train = write_examples(out / "train.jsonl", subset[0])
            if subset[1]:
                val = write_examples(out / "val.jsonl", subset[1])
        args = TrainArgs(train_file=train, val_file=val, out_dir=out, name=adapter_id, kind=kind, scene=scene,
                         **common)
        try:
            result = train_adapter(args, progress=progress)
        except TwinforgeError as e:
            if kind == "full":
                raise
            report.adapters.append(Trained(adapter_id, "failed", error=str(e)))
            continue
        if result.finished:
            registry.register(store, out)
        status = "stopped" if not result.finished else "resumed" if result.resumed_from_step else "trained"
        report.adapters.append(Trained(adapter_id, status, result))
        if not result.finished:
            break  # a time-boxed run: the next run goes on from here
    return report


def _trained(row) -> Trained:
    """A chain row as the report's adapter entry: a gate rejection is its own status, not a failure."""
    status = row.status if row.status in ("failed", "stopped", "rejected") else (
        "skipped" if row.done_before else "resumed" if row.result and row.result.resumed_from_step else "trained")
    return Trained(row.id, status, row.result, row.error)


def run_stage(store, cfg: TrainConfig, progress: bool = False) -> StageResult:
    report = train_in_workspace(store, cfg, progress=progress)
    counts: dict[str, int] = {}
    for a in report.adapters:
        counts[a.status] = counts.get(a.status, 0) + 1
    failed = list(report.problems) or ([] if report.adapters else ["no adapter trained"])
    notes = []
    if report.chain:  # a flagged or rejected batch is the gate working, not a failure: notes, with the table
        notes = [f"{r.id} {r.status} by the forgetting gate: {'; '.join(r.problems)}"
                 for r in report.chain.rows if r.problems] + [report.chain.table()]
    return StageResult("train", {"adapters": len(report.adapters), **counts}, failed, notes)
