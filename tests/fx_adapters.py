"""Fixtures of the adapter stack/merge/export tests (a pytest plugin loaded by conftest.py).

Three real LoRA adapters on the embedded Gemma 3 270M base, trained for a few steps with peft directly (so these
tests do not depend on the train stage's code): `style_a` (q/v, r=4) and `style_b` (q/k/v/o, r=8) on different
texts, and `on_top` trained with `style_a` merged underneath — the same function as training with `style_a` frozen —
whose twinforge.json names `style_a` as its parent, as `train --on-top-of` records it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

TEXTS = {
    "style_a": ["Arr, the sea be calm today, matey, and the parrot sings of gold.",
                "Arr, hoist the sails, matey, the parrot wants more gold and rum."],
    "style_b": ["Теорема доказана: пусть x больше нуля, тогда функция монотонна.",
                "Лемма: если ряд сходится, то его члены стремятся к нулю."],
    "on_top": ["Dear diary, today the garden roses bloomed in red and white.",
               "Dear diary, the garden was quiet and the roses smelled sweet."],
}
PROMPT = "The captain looked at the sea and said"
VLLM_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<ab>[AB])\.weight$")


def train_tiny_adapter(base_dir: Path, out_dir: Path, texts: list[str], *, targets: list[str], r: int, alpha: int,
                       steps: int = 6, lr: float = 5e-3, under: Path | None = None, parents: list[str] = (),
                       seed: int = 0) -> Path:
    """A few optimizer steps of plain LoRA on `texts`; `under` = an adapter merged into the base first."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    if under is not None:
        model = PeftModel.from_pretrained(model, str(under)).merge_and_unload()
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM")
    model = get_peft_model(model, cfg)
    batch = tok(texts, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    model.save_pretrained(str(out_dir))
    # the base recorded like the train stage does: where it came from, so stack/merge/export can find it
    cfg_path = out_dir / "adapter_config.json"
    conf = json.loads(cfg_path.read_text(encoding="utf-8"))
    conf["base_model_name_or_path"] = str(base_dir)
    cfg_path.write_text(json.dumps(conf, indent=2), encoding="utf-8")
    (out_dir / "twinforge.json").write_text(json.dumps({
        "id": out_dir.name, "base": "embedded", "kind": "scene", "scene": out_dir.name, "parents": list(parents),
        "hyperparameters": {"r": r, "alpha": alpha, "target_modules": targets, "steps": steps, "lr": lr},
        "metrics": {"train_loss_first": losses[0], "train_loss_last": losses[-1]},
    }, indent=2), encoding="utf-8")
    return out_dir


@pytest.fixture(scope="session")
def adapter_ws(tmp_path_factory) -> Path:
    """A workspace whose adapters/ holds style_a, style_b and on_top (child of style_a)."""
    pytest.importorskip("peft", reason="peft is not installed")
    from twinforge.models.embedded import embedded_trainable_folder

    base = embedded_trainable_folder()
    ws = tmp_path_factory.mktemp("adapters") / "ws"
    root = ws / "adapters"
    root.mkdir(parents=True)
    train_tiny_adapter(base, root / "style_a", TEXTS["style_a"], targets=["q_proj", "v_proj"], r=4, alpha=8)
    train_tiny_adapter(base, root / "style_b", TEXTS["style_b"], targets=["q_proj", "k_proj", "v_proj", "o_proj"],
                       r=8, alpha=16, seed=1)
    train_tiny_adapter(base, root / "on_top", TEXTS["on_top"], targets=["q_proj", "v_proj"], r=4, alpha=8, seed=2,
                       under=root / "style_a", parents=["style_a"])
    return ws


@pytest.fixture(scope="session")
def base_lm():
    """(model, tokenizer) of the embedded base, loaded once; tests attach adapters to deep copies of it."""
    from twinforge.models.stack import load_base_model

    return load_base_model(None)


def prompt_logits(model, tokenizer, prompt: str = PROMPT):
    """Logits [tokens, vocab] (fp32, CPU) of the prompt."""
    import torch

    ids = tokenizer(prompt, return_tensors="pt").to(model.device)
    with torch.no_grad():
        return model(**ids).logits[0].float().cpu()


def with_layers(base_lm, pairs, **kw):
    """A deep copy of the loaded base with these (folder, weight) adapters attached (parents added)."""
    import copy

    from twinforge.models.stack import attach, expand_layers

    return attach(copy.deepcopy(base_lm[0]), expand_layers(pairs), **kw)


def vllm_problems(folder) -> list[str]:
    """The checks vLLM makes when it loads a LoRA folder (PEFTHelper.from_dict/validate_legal with default
    max_lora_rank 16, parse_fine_tuned_lora_name, check_unexpected_modules, A/B shapes)."""
    from safetensors import safe_open

    conf = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    bad = [f"missing {k}" for k in ("r", "lora_alpha", "target_modules") if k not in conf]
    if conf.get("modules_to_save"):
        bad.append("modules_to_save")
    if conf.get("use_dora"):
        bad.append("DoRA")
    if conf.get("bias", "none") != "none":
        bad.append("bias")
    if conf.get("r", 0) > 16:
        bad.append("rank above the default --max-lora-rank")
    targets = set(conf.get("target_modules") or [])
    pairs: dict[str, dict] = {}
    with safe_open(str(folder / "adapter_model.safetensors"), framework="pt") as f:
        for key in f.keys():
            m = VLLM_KEY.match(key)
            if not m:
                bad.append(f"unexpected key {key}")
                continue
            if m["module"].rsplit(".", 1)[-1] not in targets:
                bad.append(f"module {m['module']} not in target_modules")
            pairs.setdefault(m["module"], {})[m["ab"]] = f.get_tensor(key).shape
    for module, ab in pairs.items():
        if set(ab) != {"A", "B"} or ab["A"][0] != conf["r"] or ab["B"][1] != conf["r"]:
            bad.append(f"{module}: A/B shapes {ab} do not fit r={conf['r']}")
    return bad
