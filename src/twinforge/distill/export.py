"""Modules as files a person reads (`modules/<id>.md`) and as one YAML scene each (`modules/<id>.yaml`).

The markdown shows the three layers first — phrase, concepts, meta-move — then the details and the quotes with
their message ids, and ends with a line naming the conversation it came from.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ..store import Store, scene_file
from ..store.workspace import Workspace
from .schema import Module

_DETAILS = (("Axes", "axes"), ("Inversions", "inversions"), ("Hypotheses", "hypotheses"),
            ("Transition rules", "transition_rules"), ("Open questions", "open_questions"))


def module_markdown(m: Module, conversation_title: str | None = None) -> str:
    lines = [
        f"# {m.title}",
        "",
        f"**Phrase:** {m.phrase}",
        "",
        f"**Concepts:** {' · '.join(m.concepts) if m.concepts else '—'}",
        "",
        f"**Meta-move:** {m.meta_move}",
        "",
    ]
    for heading, name in _DETAILS:
        items = getattr(m, name)
        if items:
            lines += [f"## {heading}", "", *(f"- {x}" for x in items), ""]
    if m.paper:
        lines += ["## Paper", "", f"- Problem: {m.paper.problem}", f"- Method: {m.paper.method}",
                  *(f"- Result: {r}" for r in m.paper.results), *(f"- Limitation: {x}" for x in m.paper.limitations),
                  f"- Application to the twin: {m.paper.application}", ""]
    if m.quotes:
        lines += ["## Quotes", ""]
        for q in m.quotes:
            lines += ["> " + q.text.replace("\n", "\n> "), f"— message `{q.message_id}`", ""]
    title = conversation_title or m.title
    source = (f"From conversation `{m.conversation_id}` «{title}» ({len(m.message_ids)} messages, {m.language}); "
              f"module `{m.id}`, written by {m.backend} with prompt {m.prompt_version}.")
    lines += ["---", "", source, ""]
    return "\n".join(lines)


def _title_line(m: Module) -> str:
    return f"One YAML scene: thinking module {m.id} from conversation {m.conversation_id}"


def module_yaml(m: Module) -> str:
    """The module as a YAML scene, under a sha line that tells a later re-distill whether a person edited it."""
    return scene_file.render(m.model_dump(mode="json"), _title_line(m))


def _legacy_yaml(m: Module) -> str:
    """What twinforge wrote before the sha line existed: such a file is no edit, just old."""
    return f"# {_title_line(m)}\n" + yaml.safe_dump(m.model_dump(mode="json"), allow_unicode=True, sort_keys=False,
                                                     width=100)


def yaml_edited(workspace: Path, m: Module) -> bool:
    path = Workspace(workspace).modules / f"{m.id}.yaml"
    return scene_file.edited(path) and path.read_text(encoding="utf-8") != _legacy_yaml(m)


def write_files(workspace: Path, m: Module, conversation_title: str | None = None) -> bool:
    """Write the module's markdown and YAML scene. An edited YAML scene is left as the person made it: returns
    True then ("kept your edit"), else False."""
    folder = Workspace(workspace).modules
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(folder / f"{m.id}.md", module_markdown(m, conversation_title))
    if yaml_edited(workspace, m):
        return True
    _write_atomic(folder / f"{m.id}.yaml", module_yaml(m))
    return False


def _write_atomic(path: Path, text: str) -> None:
    """Whole or not at all: a kill mid-write leaves the old file (or none), never half of the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_files(workspace: Path, module_id: str) -> None:
    """A dropped module's files; a YAML scene the person edited stays (it is theirs, and trains on its own)."""
    folder = Workspace(workspace).modules
    (folder / f"{module_id}.md").unlink(missing_ok=True)
    yaml_file = folder / f"{module_id}.yaml"
    if not (scene_file.edited(yaml_file) and scene_file.recorded_sha(yaml_file.read_text(encoding="utf-8"))):
        yaml_file.unlink(missing_ok=True)


def load_modules(store: Store, kind: str | None = None) -> list[tuple[Module, str | None]]:
    """Every stored module with its conversation's title, in conversation order."""
    return [(Module.model_validate(r.data), r.title or None)
            for r in store.module_records(kind, by_conversation=True)]


def export_missing(store: Store) -> int:
    """Files for modules that have none (a run killed between commit and write, or a deleted folder)."""
    n = 0
    for m, title in load_modules(store):
        folder = store.ws.modules
        if not (folder / f"{m.id}.md").exists() or not (folder / f"{m.id}.yaml").exists():
            write_files(store.workspace, m, title)
            n += 1
    return n


def listing(store: Store) -> list[dict]:
    """What `twinforge modules` shows."""
    return [{"id": m.id, "title": m.title, "language": m.language, "phrase": m.phrase, "meta_move": m.meta_move,
             "conversation_id": m.conversation_id, "kind": m.kind} for m, _ in load_modules(store)]
