"""Which decoder layers of a base an adapter trains: `--layers 20-23`, `--layers last:3`, `--layers 0,2,4-6` or `all`.

The spec is checked for syntax when the recipe or option is read (`check_spec`), and resolved against the base's
layer count from its config.json before the model is loaded (`resolve`), so a spec the base cannot satisfy fails
with one error and nothing written. The indices go to peft's `LoraConfig(layers_to_transform=...)`, which matches
the first numbered segment of a module's name (`model.layers.<i>.self_attn.q_proj`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import ConfigError

_EDGE = re.compile(r"(first|last):(\d+)")
_ITEM = re.compile(r"(\d+)(?:-(\d+))?")
FORMS = "N, A-B, a comma list of those (0,2,4-6), first:K, last:K or all"


def check_spec(spec: str | list[int] | None) -> str | None:
    """The spec, normalized (no spaces, lower case), or ValueError naming what is wrong. None/"all" → None."""
    if spec is None:
        return None
    if isinstance(spec, (list, tuple)):  # a recipe may write `layers: [20, 21, 22, 23]`
        spec = ",".join(str(x) for x in spec)
    s = re.sub(r"\s+", "", str(spec)).lower()
    if s in ("", "all"):
        return None
    if m := _EDGE.fullmatch(s):
        if int(m.group(2)) < 1:
            raise ValueError(f"layers {spec!r}: {m.group(1)}:K needs K >= 1")
        return s
    for part in s.split(","):
        m = _ITEM.fullmatch(part)
        if not m:
            raise ValueError(f"layers {spec!r}: cannot read {part!r}; write {FORMS}")
        if m.group(2) is not None and int(m.group(2)) < int(m.group(1)):
            raise ValueError(f"layers {spec!r}: range {part} runs backwards; write it low-high")
    return s


def indices(spec: str | None, n_layers: int) -> list[int] | None:
    """The sorted layer indices a spec names in a base of n_layers; None = every layer."""
    s = check_spec(spec)
    if s is None:
        return None
    if m := _EDGE.fullmatch(s):
        k = int(m.group(2))
        if k > n_layers:
            raise ConfigError(f"layers {spec}: the base has only {n_layers} layers",
                              f"pick K between 1 and {n_layers}, or leave layers out to train all of them")
        return list(range(k)) if m.group(1) == "first" else list(range(n_layers - k, n_layers))
    out: set[int] = set()
    for part in s.split(","):
        m = _ITEM.fullmatch(part)
        lo = int(m.group(1))
        out.update(range(lo, int(m.group(2) or lo) + 1))
    beyond = sorted(i for i in out if i >= n_layers)
    if beyond:
        raise ConfigError(f"layers {spec}: the base has {n_layers} layers (0-{n_layers - 1}), so "
                          f"{', '.join(map(str, beyond[:5]))}{'…' if len(beyond) > 5 else ''} does not exist",
                          f"pick layers between 0 and {n_layers - 1} (last:3 = the last three)")
    return sorted(out)


def layer_count(base_folder: str | Path) -> int:
    """Decoder layers of a Hugging Face base, from its config.json (a multimodal config's text part)."""
    cfg = json.loads((Path(base_folder) / "config.json").read_text(encoding="utf-8"))
    cfg = cfg.get("text_config", cfg)
    n = cfg.get("num_hidden_layers") or cfg.get("n_layer") or cfg.get("num_layers")
    if not n:
        raise ConfigError(f"{base_folder}/config.json does not say how many layers the model has",
                          "leave layers out to train all of them")
    return int(n)


def label(layer_ids: list[int] | None, n_layers: int | None = None) -> str:
    """'all', '15-17 of 18', '0,2,4-6 of 24': compact ranges for reports."""
    if not layer_ids:
        return "all"
    runs: list[str] = []
    start = prev = layer_ids[0]
    for i in [*layer_ids[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ",".join(runs) + (f" of {n_layers}" if n_layers else "")


def describe_meta(meta: dict) -> str:
    """The layers an adapter's twinforge.json says it trained ('all' for adapters from before layers existed)."""
    lay = meta.get("layers") or {}
    return label(lay.get("indices"), lay.get("of"))
