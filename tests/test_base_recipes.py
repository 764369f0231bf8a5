"""The named base recipes (models/recipes/*.yaml): a `-base` recipe trains on a base (pretrained-only) model, and
the Qwen3-30B-A3B mixture-of-experts recipe agrees with what the estimate knows of its shape and memory."""

from __future__ import annotations

import pytest

from twinforge.estimate.finetune import finetune_memory
from twinforge.estimate.shapes import NAMED
from twinforge.models.base import recipes


def test_every_qwen3_base_recipe_names_a_base_model_not_a_post_trained_one():
    base_recipes = [r for name, r in recipes().items() if name.startswith("qwen3-") and name.endswith("-base")]
    assert len(base_recipes) >= 6
    for r in base_recipes:
        repo = r.hub_id.split("/")[-1]
        assert repo.endswith("-Base"), f"{r.name} points at {r.hub_id}, a post-trained model"
        assert repo.lower() == r.name, f"{r.name} points at another size: {r.hub_id}"


def test_a_recipe_for_a_post_trained_model_does_not_say_base():
    for name, r in recipes().items():
        if not r.hub_id.endswith("-Base") and not r.embedded:
            assert not name.endswith("-base"), f"{name} points at {r.hub_id}"


def test_qwen3_30b_a3b_recipe_matches_its_moe_shape():
    r = recipes()["qwen3-30b-a3b-base"]
    shape = NAMED["qwen3-30b-a3b"]
    assert shape.experts == 128 and shape.active_experts == 8
    assert r.params_b * 1e9 == pytest.approx(shape.total_params, rel=0.03)
    assert shape.compute_params < 0.15 * shape.total_params, "~3B of 30B work on each token"
    # transformers 5 fuses the experts into 3-D parameters: only attention has nn.Linear modules LoRA can target
    assert set(r.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj"}


def _weights(shape, method: str) -> float:
    figs = finetune_memory(shape, method=method, precision="bf16", seq_len=2048, batch_rows=4, checkpointing=True,
                           n_lora=0, labelled=0.6, runtime_gb=1.0)
    return next(f.value for f in figs if f.what == "weights")


def test_qlora_keeps_moe_experts_in_bf16_but_quantizes_a_dense_model():
    moe, dense = NAMED["qwen3-30b-a3b"], NAMED["qwen3-32b"]
    assert _weights(moe, "qlora") > 0.9 * _weights(moe, "lora"), "bitsandbytes leaves fused experts in bf16"
    assert _weights(dense, "qlora") < 0.3 * _weights(dense, "lora")


def test_qwen3_30b_a3b_recipe_memory_agrees_with_the_estimate():
    r = recipes()["qwen3-30b-a3b-base"]
    shape = NAMED["qwen3-30b-a3b"]
    for method, key in (("lora", "lora_bf16"), ("qlora", "qlora_nf4")):
        total = sum(f.value for f in finetune_memory(shape, method=method, precision="bf16", seq_len=r.max_len,
                                                     batch_rows=4, checkpointing=True, n_lora=0, labelled=0.6,
                                                     runtime_gb=1.0))
        assert r.vram_gb[key] * 1e9 == pytest.approx(total, rel=0.1), method
