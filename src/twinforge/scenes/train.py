"""`twinforge train --scene FILE`: one adapter from one scene file, written or edited by hand.

The scene's examples (examples.py) become the dataset `scene-<id>`, and train's per-scene path trains it into
the adapter `<prefix>-scene-<id>`, kind `scene`, registered as any other. The scene itself is copied into the
adapter's folder (`scene.yaml`), so eval and routing know what it learned even when the store has no such
module. An adapter already trained on another version of the scene is never silently reused or overwritten.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..dataset.build import system_prompt
from ..dataset.config import DatasetConfig
from ..errors import ConfigError, InputError
from ..expand.config import ExpandConfig
from ..store import Store, scene_file
from ..store.workspace import ADAPTER_META
from ..train.config import TrainConfig
from ..train.stage import TrainReport, train_in_workspace
from .catalog import SCENE_COPY
from .examples import scene_examples
from .files import read_scene, scene_digest

PREFIX = "hand"  # adapter ids: hand-scene-<id>


@dataclass
class SceneTraining:
    scene: str
    file: str
    adapter_id: str
    examples: int
    views: dict[str, int]
    report: TrainReport

    def as_dict(self) -> dict:
        return {"scene": self.scene, "file": self.file, "adapter": self.adapter_id, "examples": self.examples,
                "views": self.views, **self.report.as_dict()}


def _safe(s: str) -> str:  # as train/stage.py names per-scene adapters
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")[:80] or "x"


def train_scene(store: Store, path: str | Path, train_cfg: TrainConfig, expand_cfg: ExpandConfig,
                dataset_cfg: DatasetConfig, progress: bool = False) -> SceneTraining:
    module = read_scene(path)
    rows = scene_examples(store, module, expand_cfg, system_prompt(store, dataset_cfg))
    if not rows:
        raise InputError(str(path), "gives no training example (no view found anything to ask about)",
                         "add concepts, axes, inversions, hypotheses or transition rules to the scene")
    prefix = _safe(train_cfg.name or PREFIX)
    adapter_id = f"{prefix}-scene-{_safe(module.id)}"
    folder = store.ws.adapter(adapter_id)
    copy = scene_file.render(module.model_dump(mode="json"),
                             f"The scene adapter {adapter_id} was trained on (a copy of {Path(path).name})")
    _check_same_scene(folder, module, adapter_id)
    dataset = f"scene-{_safe(module.id)}"
    ds = store.ws.dataset(dataset)
    _write(ds / "train.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    (ds / "val.jsonl").unlink(missing_ok=True)
    _write(folder / SCENE_COPY, copy)
    cfg = train_cfg.model_copy(update={"dataset": dataset, "per_scene": True, "batch_lines": None, "name": prefix})
    report = train_in_workspace(store, cfg, progress=progress)
    views: dict[str, int] = {}
    for r in rows:
        views[r["meta"]["view"]] = views.get(r["meta"]["view"], 0) + 1
    return SceneTraining(module.id, str(path), adapter_id, len(rows), views, report)


def _check_same_scene(folder: Path, module, adapter_id: str) -> None:
    """A finished adapter of this id must have learned this very scene; otherwise say how to go on."""
    if not (folder / ADAPTER_META).is_file():
        return
    copy = folder / SCENE_COPY
    try:
        same = copy.is_file() and scene_digest(read_scene(copy)) == scene_digest(module)
    except InputError:
        same = False
    if not same:
        raise ConfigError(f"adapter {adapter_id} was trained on another version of scene {module.id}",
                          f"keep both: pass --name NEW (gives NEW-scene-{module.id}); or retrain: "
                          f"`twinforge adapters remove {adapter_id}` first")


def _write(path: Path, text: str) -> None:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return  # unchanged: an interrupted run resumes with the same dataset hash
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
