"""Merging adapters into the base: a full model folder (safetensors + tokenizer) that needs no peft to run.

The adapters are stacked exactly as at inference (`stack.load_with_adapters`, `cat` by default), then peft's
`merge_and_unload` adds Σ wᵢ·ΔWᵢ into the base weights. That is only meaningful on full-precision weights: merging
into a 4-bit (QLoRA/bitsandbytes, GPTQ, AWQ) base would re-round the sum to the quantization grid and lose most of
the small LoRA delta, so a quantized base is refused before anything is loaded. An adapter *trained* with QLoRA
merges fine — into the full-precision base it was quantized from.

The folder also gets a twinforge.json naming every adapter and weight that went in, so a merged model can be traced
back to its adapters (and from them to the conversations).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import TwinforgeError
from ..models.stack import META, expand_layers, load_with_adapters, read_meta, recorded_base

MERGED_KIND = "merged"


class QuantizedBaseError(TwinforgeError):
    """The base is quantized; adapters can only be merged into full-precision weights."""


@dataclass
class MergeResult:
    out_dir: Path
    base: str | None
    adapters: list[dict] = field(default_factory=list)  # {"id", "path", "weight", "implied"}
    combination: str = "cat"
    seconds: float = 0.0
    size_bytes: int = 0


def merge(adapters: list[tuple[Path, float]], out_dir: Path, *, base: str | None = None, device: str | None = None,
          combination: str = "cat", progress: bool = False) -> MergeResult:
    """Merges the weighted adapters (parents included) into `base` and saves a model folder at `out_dir`.

    `base` None = the base the adapters record. Replaces an earlier merge at `out_dir`; refuses any other non-empty
    folder. The folder appears whole or not at all (written beside it, then renamed).
    """
    from tqdm import tqdm

    start = time.monotonic()
    out_dir = Path(out_dir)
    _check_target(out_dir)
    layers = expand_layers(adapters)
    base = base if base is not None else recorded_base(layers)
    from ..models.base import base_hash

    folder = check_base_folder(base)
    bar = tqdm(total=3, desc="merge", unit="step", disable=not progress)
    bar.set_postfix_str("loading")
    model, tokenizer = load_with_adapters(base, [(layer.path, layer.weight) for layer in layers], device=device,
                                          combination=combination)
    check_full_precision(model)
    bar.update()
    bar.set_postfix_str("merging")
    merged = model.merge_and_unload()
    merged.config.use_cache = True  # the loader turns it off for training; a served model wants its KV cache
    bar.update()
    bar.set_postfix_str("saving")
    entries = [{"id": layer.id, "path": str(layer.path), "weight": layer.weight, "implied": layer.implied,
                "kind": read_meta(layer.path).get("kind")} for layer in layers]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    try:
        merged.save_pretrained(str(work), safe_serialization=True)
        tokenizer.save_pretrained(str(work))
        (work / META).write_text(json.dumps({
            "kind": MERGED_KIND, "base": base or "embedded", "base_path": str(folder), "base_hash": base_hash(folder),
            "adapters": entries, "combination": combination,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }, ensure_ascii=False, indent=2), encoding="utf-8")
        _publish(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bar.update()
    bar.close()
    size = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    return MergeResult(out_dir, base, entries, combination, time.monotonic() - start, size)


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise TwinforgeError(f"{out_dir} is a file", "pass a folder for the merged model (--out DIR)")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if read_meta(out_dir).get("kind") != MERGED_KIND:
            raise TwinforgeError(f"{out_dir} exists and is not a merged model",
                                 "pass a new or empty folder (--out DIR); an earlier merge there is replaced")


def _publish(work: Path, out_dir: Path) -> None:
    """Renames the finished folder into place, replacing an earlier merge (moved aside first, then deleted)."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
        os.replace(out_dir, old)
    try:
        os.replace(work, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _quant_hint(base: str | None) -> str:
    return (f"pass the full-precision base (--base FOLDER with the original bf16/fp16/fp32 safetensors) instead of "
            f"{base or 'this one'}; an adapter trained with QLoRA merges into the base it was quantized from")


def check_base_folder(base: str | None) -> Path:
    """Refuses a base folder whose config.json says its weights are quantized (bitsandbytes, GPTQ, AWQ, …)."""
    from ..models.base import resolve_base

    folder = Path(resolve_base(base))
    cfg = folder / "config.json"
    try:
        quant = json.loads(cfg.read_text(encoding="utf-8")).get("quantization_config") if cfg.is_file() else None
    except ValueError:
        quant = None
    if quant:
        method = quant.get("quant_method", "quantized") if isinstance(quant, dict) else "quantized"
        bits = ("4-bit" if quant.get("load_in_4bit") else "8-bit" if quant.get("load_in_8bit") else
                f"{quant['bits']}-bit" if quant.get("bits") else "") if isinstance(quant, dict) else ""
        raise QuantizedBaseError(
            f"cannot merge into {folder}: its weights are quantized ({method}{' ' + bits if bits else ''})",
            _quant_hint(base))
    return folder


def check_full_precision(model) -> None:
    """Refuses a loaded model whose linear weights are quantized (QLoRA 4-bit, 8-bit, GPTQ/AWQ)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    why = None
    if getattr(inner, "is_loaded_in_4bit", False):
        why = "loaded in 4-bit (QLoRA)"
    elif getattr(inner, "is_loaded_in_8bit", False):
        why = "loaded in 8-bit"
    elif getattr(inner, "hf_quantizer", None) is not None or getattr(inner.config, "quantization_config", None):
        why = "loaded through a quantizer"
    else:
        for p in inner.parameters():
            if type(p).__name__ in ("Params4bit", "Int8Params") or not p.dtype.is_floating_point:
                why = f"holds {type(p).__name__} {p.dtype} weights"
                break
    if why:
        raise QuantizedBaseError(f"cannot merge into this base: it is {why}", _quant_hint(None))
