"""The labelled module set (tests/data/modules, format in its README): load it, distill its dialogs with a
backend, and score the modules against the labels.

The dialogs never enter the workspace's conversations: each YAML's messages become a `render.Dialog` and go
through the backend's own strategy (distill.run.distill_dialogs), with the workspace's call cache, so a second
run asks no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..backends.base import Backend
from ..errors import TwinforgeError
from ..store import Store
from . import quality, taxonomy
from .config import DistillConfig
from .render import Dialog, Turn
from .run import distill_dialogs

SPLITS = ("tuning", "heldout")
LABEL_LISTS = ("concepts", "axes", "inversions", "hypotheses", "transition_rules", "quotes")
# The targets for the distiller, measured on the held-out part.
TARGETS = {"concept_recall": 0.7, "meta_move_accuracy": 0.6, "axis_recall": 0.6}
MAX_FUNCTION_WORD_CONCEPTS = 0.02


@dataclass
class GoldDialog:
    id: str
    language: str
    split: str
    title: str
    dialog: Dialog
    labels: dict
    path: Path


def _bad(path: Path, what: str) -> TwinforgeError:
    return TwinforgeError(f"{path}: {what}", "fix the file (format: tests/data/modules/README.md)")


def load_gold(folder: Path) -> list[GoldDialog]:
    """Every `<id>.yaml` of `folder/dialogs/` (or of `folder` itself), checked; in file-name order."""
    folder = Path(folder)
    where = folder / "dialogs" if (folder / "dialogs").is_dir() else folder
    files = sorted(where.glob("*.yaml"))
    if not files:
        raise TwinforgeError(f"no labelled dialogs (*.yaml) in {where}",
                             "point --gold at the labelled set, e.g. tests/data/modules")
    return [_load_one(p) for p in files]


def _load_one(path: Path) -> GoldDialog:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise _bad(path, f"invalid YAML ({str(e).splitlines()[0]})") from e
    if not isinstance(data, dict):
        raise _bad(path, "a labelled dialog is a YAML mapping")
    for key in ("id", "language", "split", "messages", "labels"):
        if key not in data:
            raise _bad(path, f"missing `{key}`")
    if data["split"] not in SPLITS:
        raise _bad(path, f"split is {data['split']!r}, not one of {', '.join(SPLITS)}")
    labels = data["labels"]
    if not isinstance(labels, dict):
        raise _bad(path, "`labels` is not a mapping")
    move = labels.get("meta_move")
    if move not in taxonomy.moves():
        raise _bad(path, f"labels.meta_move {move!r} is not a taxonomy name ({', '.join(taxonomy.names())})")
    for key in LABEL_LISTS:
        if not isinstance(labels.get(key) or [], list):
            raise _bad(path, f"labels.{key} is not a list")
    for axis in labels.get("axes") or []:
        if not (isinstance(axis, list) and len(axis) == 2):
            raise _bad(path, f"labels.axes item {axis!r} is not a pair of poles")
    turns = []
    for i, msg in enumerate(data["messages"] or []):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant") or not isinstance(
                msg.get("text"), str):
            raise _bad(path, f"messages[{i}] needs a role (user or assistant) and a text")
        turns.append(Turn(str(msg.get("id") or f"m{i + 1}"), msg["role"], msg["text"]))
    if not any(t.role == "user" and t.text.strip() for t in turns):
        raise _bad(path, "no user message")
    gid = str(data["id"])
    title = str(data.get("title") or gid)
    return GoldDialog(gid, str(data["language"]), data["split"], title,
                      Dialog(f"gold:{gid}", title, str(data["language"]), turns), labels, path)


def evaluate(cache_store: Store, gold: list[GoldDialog], cfg: DistillConfig, backend: Backend,
             threshold: float) -> dict:
    """Distill the labelled dialogs with `backend` (cached in `cache_store`), then score: per split, the gold
    figures and the label-free ones; per dialog, its figures and what it missed."""
    results, report = distill_dialogs(cache_store, [g.dialog for g in gold], cfg, backend)
    checked, counts, per_dialog = [], {}, []
    for g, (dialog, module, errors) in zip(gold, results):
        c = quality.score_gold(module, g.labels, g.language)
        counts.setdefault(g.split, quality.GoldCounts(dialogs=0)).add(c)
        row = {"id": g.id, "split": g.split, "language": g.language, "module": module is not None,
               "errors": errors, **c.figures(), "missed": c.missed}
        if module is not None:
            turns = [(t.id, t.role, t.text) for t in dialog.turns]
            checked.append((g.split, module, quality.check_module(module, *quality.sides(turns, g.language))))
            row |= {"meta_move": module.meta_move, "gold_meta_move": g.labels.get("meta_move"),
                    "predicted_concepts": module.concepts, "predicted_axes": module.axes}
        per_dialog.append(row)
    scores = quality.score_all([(m, c) for _, m, c in checked], threshold)
    splits = {}
    for split in SPLITS:
        if split not in counts:
            continue
        mine = [s for (sp, _, _), s in zip(checked, scores) if sp == split]
        splits[split] = {**counts[split].figures(), "failed": sum(1 for g, r in zip(gold, results)
                                                                  if g.split == split and r[1] is None),
                         "quality": quality.summary(mine)}
    return {"backend": report.backend, "model": report.model, "prompt_version": report.prompt_version,
            "calls": report.calls, "cache_hits": report.cache_hits, "splits": splits, "dialogs": per_dialog,
            "targets": {**TARGETS, "function_word_concepts_max": MAX_FUNCTION_WORD_CONCEPTS,
                        "phrases_or_quotes_not_own": 0}}
