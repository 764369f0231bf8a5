"""Adapter ids and named stacks in a workspace: `ID[:W]` or a stack name → `(folder, weight)` pairs.

Named stacks — a saved list of `(id, weight)` — live in `<ws>/adapters/stacks.json`, so eval and serve can refer to
a combination by one name. An id may be a unique prefix; adapters registered from outside the workspace are found
through the registry.
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from ..errors import TwinforgeError
from ..models.stack import COMBINATIONS, AdapterError, check_adapter_dir, expand_layers
from ..store.workspace import Workspace

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def resolve_id(workspace: Path, ref: str, store=None) -> Path:
    """An adapter id (or a unique prefix of one), or a path to an adapter folder → the folder. With a `store`,
    adapters registered from outside the workspace are found through the registry too."""
    root = Workspace(Path(workspace)).adapters
    direct = root / ref
    if ref and "/" not in ref and (direct / "adapter_config.json").is_file():
        return direct
    known = sorted(p.name for p in root.iterdir() if (p / "adapter_config.json").is_file()) if root.is_dir() else []
    hits = [k for k in known if k.startswith(ref)] if ref else []
    if len(hits) == 1:
        return root / hits[0]
    path = Path(ref).expanduser()
    if (path / "adapter_config.json").is_file():
        return path
    if len(hits) > 1:
        raise AdapterError(f"adapter id {ref!r} is ambiguous: {', '.join(hits[:6])}", "give more of the id")
    if store is not None and ref:
        from . import registry

        try:
            return check_adapter_dir(registry.get(store, ref).path)
        except TwinforgeError:
            pass  # not registered either: the error below lists what there is
    listing = f" (known: {', '.join(known[:8])}{'…' if len(known) > 8 else ''})" if known else ""
    raise AdapterError(f"no adapter {ref!r} in {root}{listing}", "`twinforge adapters` lists the trained adapters")


def parse_spec(spec: str) -> tuple[str, float]:
    """'ID' → (ID, 1.0); 'ID:W' → (ID, W)."""
    ref, sep, w = spec.rpartition(":")
    if sep and ref:
        try:
            weight = float(w)
        except ValueError:
            raise AdapterError(f"bad weight in {spec!r}", "write ID or ID:WEIGHT, e.g. scene-1:0.5") from None
        if not math.isfinite(weight):
            raise AdapterError(f"bad weight in {spec!r}", "the weight must be a finite number")
        return ref, weight
    return spec, 1.0


def resolve_specs(workspace: Path, specs: list[str], store=None) -> list[tuple[Path, float]]:
    """`ID[:W]` and named stacks (`NAME[:W]` scales every weight in it) → (adapter folder, weight) pairs."""
    stacks = load_stacks(workspace)
    out: list[tuple[Path, float]] = []
    for spec in specs:
        ref, weight = parse_spec(spec)
        if ref in stacks and not (Workspace(Path(workspace)).adapters / ref / "adapter_config.json").is_file():
            out += [(resolve_id(workspace, e["id"], store), e["weight"] * weight) for e in stacks[ref]["adapters"]]
        else:
            out.append((resolve_id(workspace, ref, store), weight))
    if not out:
        raise AdapterError("no adapters given", "name at least one adapter id (ID or ID:WEIGHT)")
    return out


def load_stacks(workspace: Path) -> dict[str, dict]:
    p = Workspace(Path(workspace)).stacks_file
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise AdapterError(f"{p} is not valid JSON ({e})", "fix or delete it (it only holds named stacks)") from e
    return data.get("stacks", {})


def save_stack(workspace: Path, name: str, specs: list[str], *, combination: str = "cat", store=None) -> dict:
    """Records `name` = these adapters with these weights (checked now); replaces an earlier stack of that name."""
    if not _NAME_RE.match(name):
        raise AdapterError(f"bad stack name {name!r}", "use letters, digits, '.', '_' or '-'")
    if (Workspace(Path(workspace)).adapters / name / "adapter_config.json").is_file():
        raise AdapterError(f"{name!r} is already an adapter id", "give the stack another name")
    if combination not in COMBINATIONS:
        raise AdapterError(f"unknown combination {combination!r}", f"use one of {', '.join(COMBINATIONS)}")
    pairs = resolve_specs(workspace, specs, store)
    expand_layers(pairs)  # every adapter and every parent must exist now
    entry = {"adapters": [{"id": p.name, "weight": w} for p, w in pairs], "combination": combination,
             "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    stacks = load_stacks(workspace)
    stacks[name] = entry
    _write_stacks(workspace, stacks)
    return entry


def remove_stack(workspace: Path, name: str) -> None:
    stacks = load_stacks(workspace)
    if name not in stacks:
        raise AdapterError(f"no stack named {name!r}", "`twinforge adapters stacks` lists them")
    del stacks[name]
    _write_stacks(workspace, stacks)


def _write_stacks(workspace: Path, stacks: dict) -> None:
    p = Workspace(Path(workspace)).stacks_file
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"stacks": stacks}, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, p)
