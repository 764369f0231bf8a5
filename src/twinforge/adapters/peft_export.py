"""A clean PEFT folder for vLLM (`--enable-lora`), TGI, SGLang or plain peft: only what a LoRA server reads.

vLLM reads `adapter_config.json` (required: r, lora_alpha, target_modules; it rejects modules_to_save, DoRA and a
bias other than "none", and a rank above its --max-lora-rank, 16 by default) and `adapter_model.safetensors`, whose
keys must be `base_model.model.<module>.lora_A.weight` / `.lora_B.weight` for modules the model supports. vLLM puts
one adapter on a request, so an adapter with parents (`--on-top-of`) or a weighted stack is folded into one exact
LoRA here (see `stack.fold`); a single plain adapter is copied as it is. Nothing else goes in — no optimizer
state, no checkpoints, no loss plots — but twinforge-export.json, naming the adapters and weights it holds.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..models.stack import AdapterError, expand_layers, fold, recorded_base

EXPORT_META = "twinforge-export.json"  # not twinforge.json: an export is not a trained adapter of the registry
VLLM_DEFAULT_MAX_RANK = 16
VLLM_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM accepts for --max-lora-rank
_TARGETS_VLLM_REFUSES = ("embed_tokens", "lm_head")


@dataclass
class PeftExport:
    out_dir: Path
    r: int
    lora_alpha: float
    target_modules: list[str]
    folded: bool  # True when parents / several adapters / a weight were folded into one LoRA
    base_name: str = ""
    vllm_max_lora_rank: int | None = None  # the --max-lora-rank vLLM needs (None: above anything it serves)
    notes: list[str] = field(default_factory=list)


def export_peft(adapter_dir: Path, out_dir: Path, base_name: str | None = None) -> PeftExport:
    """One adapter (its parents folded in underneath) → a clean PEFT folder at `out_dir`."""
    return export_peft_stack([(Path(adapter_dir), 1.0)], out_dir, base_name)


def export_peft_stack(adapters: list[tuple[Path, float]], out_dir: Path, base_name: str | None = None) -> PeftExport:
    """Weighted adapters (parents included) → one PEFT LoRA folder equal to their exact sum.

    `base_name` goes into base_model_name_or_path — what the server was started with (a hub id such as
    Qwen/Qwen3-8B-Base, or a path); default: the base the adapters record.
    """
    import torch
    from safetensors.torch import save_file

    layers = expand_layers(adapters)
    lora = fold(layers)
    conf = dict(lora.config)
    if conf.get("modules_to_save"):
        raise AdapterError(f"the adapter also trains whole modules ({conf['modules_to_save']}), which vLLM refuses",
                           "train it without modules_to_save")
    if conf.get("bias", "none") != "none":
        raise AdapterError(f"the adapter trains biases (bias={conf['bias']!r}), which vLLM refuses",
                           "train it with bias='none'")
    bad = sorted({m for m in lora.pairs if m.endswith(_TARGETS_VLLM_REFUSES)})
    if bad:
        raise AdapterError(f"the adapter changes {bad[0]}, which vLLM LoRA does not load",
                           "train without embedding / lm_head targets, or merge the adapter instead")
    folded = lora.folded
    base_name = base_name or _default_base_name(layers)
    tensors = {}
    for module, (a, b) in lora.pairs.items():
        tensors[f"base_model.model.{module}.lora_A.weight"] = a.to(torch.float32).contiguous()
        tensors[f"base_model.model.{module}.lora_B.weight"] = b.to(torch.float32).contiguous()
    conf.update(base_model_name_or_path=base_name, inference_mode=True, modules_to_save=None,
                target_modules=sorted({m.rsplit(".", 1)[-1] for m in lora.pairs}), bias="none",
                use_dora=False, lora_dropout=0.0 if folded else conf.get("lora_dropout", 0.0))
    conf.setdefault("peft_type", "LORA")
    conf.setdefault("task_type", "CAUSAL_LM")
    notes = []
    max_rank = max([int(conf["r"]), *(conf.get("rank_pattern") or {}).values()])
    need = next((v for v in VLLM_RANKS if v >= max(max_rank, VLLM_DEFAULT_MAX_RANK)), None)
    if max_rank > VLLM_DEFAULT_MAX_RANK:
        notes.append(f"rank {max_rank} is above vLLM's default --max-lora-rank {VLLM_DEFAULT_MAX_RANK}: start vLLM "
                     f"with --max-lora-rank {need}" if need else
                     f"rank {max_rank} is above the largest rank vLLM serves ({VLLM_RANKS[-1]}); merge instead")

    out_dir = Path(out_dir)
    if any(out_dir.resolve() == layer.path.resolve() for layer in layers):
        raise AdapterError(f"{out_dir} is the adapter being exported", "export into another folder (--out DIR)")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "adapter_config.json").is_file():
        raise AdapterError(f"{out_dir} exists and is not an adapter folder",
                           "pass a new or empty folder (--out DIR); an earlier export there is replaced")
    work = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        save_file(tensors, str(work / "adapter_model.safetensors"), metadata={"format": "pt"})
        (work / "adapter_config.json").write_text(json.dumps(conf, indent=2, sort_keys=True), encoding="utf-8")
        meta = {"exported_from": [{"id": layer.id, "weight": layer.weight, "implied": layer.implied}
                                  for layer in layers], "folded": folded, "base": recorded_base(layers)}
        (work / EXPORT_META).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PeftExport(out_dir, int(conf["r"]), float(conf["lora_alpha"]), conf["target_modules"], folded,
                      base_name, need, notes)


def _default_base_name(layers) -> str:
    base = recorded_base(layers)
    if base in (None, "embedded"):
        from ..models.embedded import embedded_trainable_folder

        return str(embedded_trainable_folder())
    return base
