"""Which scenes each adapter learned: a scene adapter's own module (the copy of a hand-written scene kept in its
folder, or the distilled module in the store), and for a chained adapter the scenes of the adapters under it.
eval (what each scene changed) and serve (routing a question to its scene) read scenes through here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..adapters import registry
from ..distill.schema import Module
from ..errors import TwinforgeError
from ..store import Store
from ..store.workspace import ADAPTER_META
from .files import read_scene

SCENE_COPY = "scene.yaml"  # in a hand-written scene's adapter folder: the scene as it was trained


@dataclass
class SceneAdapter:
    adapter_id: str
    module: Module


def _stored_module(store: Store, module_id: str) -> Module | None:
    raw = store.module_json(module_id)
    if raw is None:
        return None
    try:
        return Module.model_validate_json(raw)
    except ValidationError:
        return None


def folder_scene(store: Store, folder: Path) -> tuple[Module | None, list[str]]:
    """(the scene an adapter folder was trained on, or None; the ids of the adapters under it)."""
    meta_file = folder / ADAPTER_META
    if not meta_file.is_file():
        return None, []
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    parents = [str(p) for p in meta.get("parents", [])]
    if (folder / SCENE_COPY).is_file():
        try:
            return read_scene(folder / SCENE_COPY), parents
        except TwinforgeError:
            pass  # a damaged copy: fall back to the store, as for a distilled scene
    scene = meta.get("scene")
    return (_stored_module(store, str(scene)) if scene else None), parents


def scenes_of(store: Store, folder: Path, _depth: int = 0) -> list[Module]:
    """Every scene an adapter learned, its own first, then those of the adapters it was trained on top of."""
    own, parents = folder_scene(store, folder)
    out = [own] if own else []
    if _depth > 16:  # a loop of parents is a broken registry, not a reason to recurse forever
        return out
    for pid in parents:
        try:
            parent = registry.get(store, pid)
        except TwinforgeError:
            continue
        out += [m for m in scenes_of(store, parent.path, _depth + 1) if m.id not in {x.id for x in out}]
    return out


def scene_adapters(store: Store) -> list[SceneAdapter]:
    """Every usable adapter trained on exactly one scene (kind `scene`), with that scene's module."""
    out = []
    for a in registry.list_adapters(store):
        if a.missing or a.kind != "scene" or a.parents:
            continue
        module, _ = folder_scene(store, a.path)
        if module is not None:
            out.append(SceneAdapter(a.id, module))
    return out


def scene_text(m: Module) -> str:
    """A scene as one text to embed: what a question about it would share with it."""
    parts = [m.title, m.phrase, ", ".join(m.concepts), *m.axes, *m.inversions, *m.hypotheses,
             *m.transition_rules, *m.open_questions, *(q.text for q in m.quotes[:3])]
    return "\n".join(p for p in parts if p and p.strip())
