"""Stacking LoRA adapters at inference: several adapters on one base, each with a weight.

One adapter loads as a plain `PeftModel`. Several are loaded as named adapters and combined with peft's
`add_weighted_adapter`; the default `cat` concatenates their ranks (A stacked over A, B beside B, each scaled by its
weight and its own alpha/r), so the combination is exactly base + Σ wᵢ·ΔWᵢ — what "layers" of adapters mean. The
other peft options trade exactness for size: `svd` (re-factorises Σ wᵢ·ΔWᵢ at a chosen rank: exact only when that
rank covers the sum of the ranks) and `linear` (adds the A's and the B's separately: same ranks only, and the cross
terms make it a rough approximation).

An adapter trained with `--on-top-of` records its parents in twinforge.json; they are loaded underneath it
automatically at weight 1 (the child was trained with them frozen at full strength), unless the caller lists a
parent itself with another weight.

Named stacks and adapter ids are the adapters layer's (adapters/stacks.py); this module takes folders.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TwinforgeError
from ..store.workspace import ADAPTER_META

if TYPE_CHECKING:
    import torch

META = ADAPTER_META  # an adapter folder's record, written last by the trainer: its presence means finished
COMBINATIONS = ("cat", "svd", "linear")
STACKED = "stack"  # the name of the combined adapter inside the PeftModel
_PEFT_PREFIX = "base_model.model."


class AdapterError(TwinforgeError):
    """An adapter, a stack or an adapter spec cannot be used."""


@dataclass(frozen=True)
class Layer:
    """One adapter in a stack."""

    path: Path
    weight: float = 1.0
    implied: bool = False  # loaded only because a listed adapter was trained on top of it

    @property
    def id(self) -> str:
        return self.path.name


# ---------------------------------------------------------------------------------------------------------------
# adapter folders


def check_adapter_dir(path: Path) -> Path:
    path = Path(path)
    if not (path / "adapter_config.json").is_file():
        raise AdapterError(f"{path} is not an adapter folder (no adapter_config.json)",
                           "pass an adapter id from `twinforge adapters` or a folder written by `twinforge train`")
    if not any((path / f).is_file() for f in ("adapter_model.safetensors", "adapter_model.bin")):
        raise AdapterError(f"{path} has no adapter weights (adapter_model.safetensors)",
                           "the training run did not finish; train it again or remove it")
    return path


def read_meta(adapter_dir: Path) -> dict:
    """twinforge.json of an adapter folder ({} for a foreign PEFT folder without one)."""
    p = Path(adapter_dir) / META
    try:
        return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}
    except ValueError as e:
        raise AdapterError(f"{p} is not valid JSON ({e})", "restore it, or retrain the adapter") from e


def read_config(adapter_dir: Path) -> dict:
    p = Path(adapter_dir) / "adapter_config.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AdapterError(f"cannot read {p} ({e})", "the adapter folder is damaged; retrain it") from e


def parents_of(adapter_dir: Path) -> list[Path]:
    """The adapters this one was trained on top of, as folders: twinforge.json `parents` holds their ids (looked up
    beside this adapter, so a moved workspace still works) and `parent_dirs` where they were at training time."""
    adapter_dir = Path(adapter_dir)
    meta = read_meta(adapter_dir)
    ids = [str(p.get("id") or p.get("path")) if isinstance(p, dict) else str(p) for p in meta.get("parents") or []]
    dirs = [str(d) for d in meta.get("parent_dirs") or []]
    out = []
    for i, ref in enumerate(ids):
        candidates = [adapter_dir.parent / Path(ref).name, Path(ref)] + ([Path(dirs[i])] if i < len(dirs) else [])
        found = next((c for c in candidates if (c / "adapter_config.json").is_file()), None)
        if found is None:
            raise AdapterError(f"adapter {adapter_dir.name} was trained on top of {ref}, which is gone",
                               "it cannot be used without its parent: retrain it, or restore the parent adapter")
        out.append(found)
    return out


def expand_layers(adapters: list[tuple[Path, float]]) -> list[Layer]:
    """The adapters with their parents underneath (parents first, each adapter once; a listed weight wins)."""
    listed = {Path(p).resolve(): float(w) for p, w in adapters}
    order: list[Path] = []
    visiting: set[Path] = set()

    def visit(path: Path) -> None:
        key = path.resolve()
        if key in order:
            return
        if key in visiting:
            raise AdapterError(f"adapter {path.name} is its own ancestor", "its twinforge.json parents form a loop")
        visiting.add(key)
        check_adapter_dir(path)
        for parent in parents_of(path):
            visit(parent)
        visiting.discard(key)
        order.append(key)

    for p, _ in adapters:
        visit(Path(p))
    if not order:
        raise AdapterError("no adapters given", "name at least one adapter id")
    return [Layer(p, listed.get(p, 1.0), implied=p not in listed) for p in order]


def recorded_base(layers: list[Layer]) -> str | None:
    """The base the (first) adapter was trained on, as twinforge.json or adapter_config.json record it."""
    for layer in layers:
        base = read_meta(layer.path).get("base")
        if base:
            return str(base)
        name = read_config(layer.path).get("base_model_name_or_path")
        if name and Path(name).is_dir():
            return name
    return None


# ---------------------------------------------------------------------------------------------------------------
# loading


def load_base_model(base: str | None, *, device: str | None = None):
    """(model, tokenizer) of the base through the train stage's loader (embedded, HF folder, GGUF, recipe)."""
    from .base import load_base

    return load_base(base, device=device)


def load_with_adapters(base: str | None, adapters: list[tuple[Path, float]], *, device: str | None = None,
                       combination: str = "cat", svd_rank: int | None = None):
    """(model, tokenizer): the base with the adapters on it, in eval mode.

    `base` None = the base the adapters record (else the embedded one). One adapter (after its parents are added)
    gives a plain PeftModel; several give one combined adapter named "stack" (`combination`: cat | svd | linear).
    """
    if combination not in COMBINATIONS:
        raise AdapterError(f"unknown combination {combination!r}", f"use one of {', '.join(COMBINATIONS)}")
    layers = expand_layers(adapters)
    base = base if base is not None else recorded_base(layers)
    model, tokenizer = load_base_model(base, device=device)
    return attach(model, layers, combination=combination, svd_rank=svd_rank, base_label=base), tokenizer


def attach(model, layers: list[Layer], *, combination: str = "cat", svd_rank: int | None = None,
           base_label: str | None = None):
    """Puts the layers on an already loaded base model; returns the PeftModel (eval mode)."""
    from peft import PeftModel

    names = [f"l{i}" for i in range(len(layers))]
    if len(layers) > 1:
        for layer in layers:
            if read_config(layer.path).get("use_dora"):
                raise AdapterError(f"adapter {layer.id} is a DoRA adapter, which peft cannot stack",
                                   "use it alone, or merge it into the base first")
    peft_model = None
    for name, layer in zip(names, layers):
        try:
            if peft_model is None:
                peft_model = PeftModel.from_pretrained(model, str(layer.path), adapter_name=name, is_trainable=False)
            else:
                peft_model.load_adapter(str(layer.path), adapter_name=name, is_trainable=False)
        except (RuntimeError, ValueError, KeyError) as e:
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            trained_on = recorded_base([layer]) or "unknown"
            raise AdapterError(
                f"adapter {layer.id} does not fit the base {base_label or 'embedded'} ({first})",
                f"it was trained on base {trained_on}; pass that base (--base)") from e
    if len(layers) == 1:
        if layers[0].weight != 1.0:
            _scale(peft_model, names[0], layers[0].weight)
    else:
        _union_of_layers(peft_model, names)
        try:
            peft_model.add_weighted_adapter(names, [layer.weight for layer in layers], STACKED,
                                            combination_type=combination, svd_rank=svd_rank)
        except ValueError as e:
            raise AdapterError(f"cannot combine the adapters with {combination!r}: {e}",
                               "use the default `cat`, which stacks adapters of any ranks exactly") from e
        peft_model.set_adapter(STACKED)
        for name in names:  # the parts live on inside "stack"; dropping them halves the LoRA memory
            peft_model.delete_adapter(name)
    peft_model.eval()
    peft_model.twinforge_layers = layers
    return peft_model


def _union_of_layers(peft_model, names: list[str]) -> None:
    """peft's add_weighted_adapter gives the stack the first part's config, layers_to_transform included: a part
    trained on other layers (`train --layers`) would silently drop out. The stack gets every part's layers."""
    parts = [peft_model.peft_config[n].layers_to_transform for n in names]
    if all(p is None for p in parts):
        return
    union = None if any(p is None for p in parts) else sorted(
        {i for p in parts for i in ([p] if isinstance(p, int) else p)})
    peft_model.peft_config[names[0]].layers_to_transform = union  # read only when the stack is injected


def _scale(peft_model, adapter_name: str, weight: float) -> None:
    """Multiplies one adapter's contribution by `weight` (its scaling is alpha/r, or alpha/√r for rsLoRA)."""
    from peft.tuners.lora import LoraLayer

    for module in peft_model.modules():
        if isinstance(module, LoraLayer) and adapter_name in module.scaling:
            module.scaling[adapter_name] *= weight


# ---------------------------------------------------------------------------------------------------------------
# raw LoRA weights (for the exports, which write files without a model)


@dataclass
class LoraWeights:
    """One LoRA as matrices: module path (e.g. model.layers.0.self_attn.q_proj) → (A [r, in], B [out, r])."""

    pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]
    scales: dict[str, float]  # module → the factor peft multiplies B·A by
    r: int
    alpha: float
    config: dict = field(default_factory=dict)
    folded: bool = False  # True when made by `fold` from a stack, parents or a weight

    @property
    def uniform(self) -> bool:
        """True when one (r, alpha) describes every module, as GGUF and vLLM expect."""
        return all(b.shape[1] == self.r for _, b in self.pairs.values()) and all(
            math.isclose(s, self.alpha / self.r) for s in self.scales.values())


def read_lora(adapter_dir: Path) -> LoraWeights:
    """The LoRA matrices and per-module scales of one PEFT folder (no model needed)."""
    import torch

    adapter_dir = check_adapter_dir(Path(adapter_dir))
    conf = read_config(adapter_dir)
    if conf.get("peft_type", "LORA") != "LORA":
        raise AdapterError(f"adapter {adapter_dir.name} is a {conf.get('peft_type')} adapter, not LoRA",
                           "only LoRA adapters can be stacked and exported")
    if conf.get("use_dora"):
        raise AdapterError(f"adapter {adapter_dir.name} is a DoRA adapter", "export supports plain LoRA only")
    st = adapter_dir / "adapter_model.safetensors"
    if st.is_file():
        from safetensors.torch import load_file

        tensors = load_file(str(st), device="cpu")
    else:
        tensors = torch.load(adapter_dir / "adapter_model.bin", map_location="cpu", weights_only=True)
    a: dict[str, torch.Tensor] = {}
    b: dict[str, torch.Tensor] = {}
    for key, t in tensors.items():
        name = key[len(_PEFT_PREFIX):] if key.startswith(_PEFT_PREFIX) else key
        if name.endswith(".lora_A.weight"):
            a[name[: -len(".lora_A.weight")]] = t.float()
        elif name.endswith(".lora_B.weight"):
            b[name[: -len(".lora_B.weight")]] = t.float()
        else:
            raise AdapterError(f"adapter {adapter_dir.name} holds {key}, which is not a LoRA A/B matrix",
                               "adapters that also train embeddings or other modules (modules_to_save) cannot be "
                               "exported or folded; train without them")
    if set(a) != set(b):
        raise AdapterError(f"adapter {adapter_dir.name} has unpaired LoRA matrices ({sorted(set(a) ^ set(b))[:3]})",
                           "the weights file is damaged; retrain it")
    r, alpha = int(conf["r"]), float(conf["lora_alpha"])
    ranks, alphas = conf.get("rank_pattern") or {}, conf.get("alpha_pattern") or {}
    scales = {}
    for module in a:
        mr = next((v for k, v in ranks.items() if _pattern_hits(k, module)), r)
        ma = next((v for k, v in alphas.items() if _pattern_hits(k, module)), alpha)
        scales[module] = ma / math.sqrt(mr) if conf.get("use_rslora") else ma / mr
    return LoraWeights({m: (a[m], b[m]) for m in sorted(a)}, scales, r, alpha, conf)


def _pattern_hits(pattern: str, module: str) -> bool:
    # peft matches rank/alpha patterns against the end of the module's name
    return re.search(rf"(^|\.){pattern}$", module) is not None


def fold(layers: list[Layer]) -> LoraWeights:
    """One LoRA equal to the weighted stack: per module A = [A₁; A₂; …], B = [w₁s₁B₁, w₂s₂B₂, …] (s = alpha/r),
    zero-padded to one rank R for every module; alpha = R, so its scale is 1. A single adapter at weight 1 with one
    uniform (r, alpha) comes back unchanged, so its export keeps the alpha a user may scale at load time."""
    import torch

    loras = [read_lora(layer.path) for layer in layers]
    if len(loras) == 1 and layers[0].weight == 1.0 and loras[0].uniform:
        return loras[0]
    rank = sum(max(b.shape[1] for _, b in lw.pairs.values()) for lw in loras)
    pairs = {}
    for module in sorted({m for lw in loras for m in lw.pairs}):
        parts_a, parts_b = [], []
        for layer, lw in zip(layers, loras):
            if module in lw.pairs:
                a, b = lw.pairs[module]
                parts_a.append(a)
                parts_b.append(b * (layer.weight * lw.scales[module]))
        a, b = torch.cat(parts_a, 0), torch.cat(parts_b, 1)
        pad = rank - a.shape[0]
        if pad:
            a = torch.cat([a, a.new_zeros(pad, a.shape[1])], 0)
            b = torch.cat([b, b.new_zeros(b.shape[0], pad)], 1)
        pairs[module] = (a.contiguous(), b.contiguous())
    conf = dict(loras[0].config)
    conf.update(r=rank, lora_alpha=rank, rank_pattern={}, alpha_pattern={}, use_rslora=False,
                target_modules=sorted({m.rsplit(".", 1)[-1] for m in pairs}), layers_to_transform=None,
                layers_pattern=None, exclude_modules=None)
    return LoraWeights(pairs, {m: 1.0 for m in pairs}, rank, float(rank), conf, folded=True)
