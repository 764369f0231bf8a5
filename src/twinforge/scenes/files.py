"""A scene file: one thinking module in the module format (distill/schema.py) as YAML, written or edited by hand.

Read strictly: an unknown field, a missing one or a wrong type is one error naming the file and the field. Fields
a person cannot know are filled in — `id` from the file name, `conversation_id` as `scene-<id>`, `language` from
the text — so a hand-written scene needs only its title, phrase, meta-move and whatever details it has.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..distill.schema import META_MOVES, Module
from ..errors import InputError
from ..store import scene_file
from ..text.language import detect

HAND_KIND = "scene"  # Module.kind of a scene written by hand (distilled ones are dialog | paper)
_FIX = "fix it, or start from `twinforge scenes new FILE` (every field is explained there)"


def scene_id(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-")[:80] or "scene"


def read_scene(path: str | Path) -> Module:
    """The scene at `path` as a Module; an InputError naming the file (and line or field) when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such file", "write one with `twinforge scenes new " + str(path) + "`")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(scene_file.body_of(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(where, f"not valid YAML ({getattr(e, 'problem', None) or e})", _FIX) from e
    if not isinstance(data, dict):
        raise InputError(str(path), f"a scene is a mapping of fields, found {type(data).__name__}", _FIX)
    data = _filled(data, path)
    try:
        module = Module.model_validate(data)
    except ValidationError as e:
        raise InputError(str(path), _first_problem(e), _FIX) from None
    if module.meta_move not in META_MOVES:
        raise InputError(str(path), f"field 'meta_move': {module.meta_move!r} is not a meta-move",
                         f"use one of: {', '.join(META_MOVES)}")
    if not module.phrase.strip():
        raise InputError(str(path), "field 'phrase': empty", "write the scene's core claim in one sentence")
    return module


def _filled(data: dict, path: Path) -> dict:
    out = dict(data)
    sid = str(out.get("id") or scene_id(path))
    out.setdefault("id", sid)
    out.setdefault("conversation_id", f"scene-{sid}")
    out.setdefault("kind", HAND_KIND)
    if not out.get("language"):
        sample = " ".join(str(out.get(k) or "") for k in ("phrase", "title"))
        out["language"] = detect(sample) if sample.strip() else "en"
    return out


def _first_problem(e: ValidationError) -> str:
    """One line: the first field that is wrong and why, and how many others are."""
    errs = e.errors()
    first = errs[0]
    field = ".".join(map(str, first["loc"])) or "(top level)"
    msg = "unknown field (not in the module format)" if first["type"] == "extra_forbidden" else first["msg"]
    more = len(errs) - 1
    others = f" (and {more} more: {', '.join('.'.join(map(str, x['loc'])) for x in errs[1:4])})" if more else ""
    return f"field '{field}': {msg}{others}"


def scene_digest(module: Module) -> str:
    """What the scene says, hashed: an adapter trained on another version of it is not this scene's."""
    return scene_file.body_sha(module.model_dump_json(exclude={"backend", "prompt_version"}))
