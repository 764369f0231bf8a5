"""Stacking real LoRA adapters on the embedded Gemma 3 270M: exact weighted sums, parents underneath, named stacks."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from fx_adapters import prompt_logits, with_layers

from twinforge.adapters.stacks import load_stacks, remove_stack, resolve_specs, save_stack
from twinforge.models.stack import AdapterError, Layer, attach, expand_layers, fold, load_with_adapters, read_lora

MODULE = "model.layers.3.self_attn.q_proj"  # adapted by both style_a and style_b


def delta(adapter_dir, module=MODULE):
    lw = read_lora(adapter_dir)
    a, b = lw.pairs[module]
    return lw.scales[module] * (b @ a)


def test_stacking_two_adapters_differs_from_each_alone(adapter_ws, base_lm):
    root = adapter_ws / "adapters"
    model, tok = load_with_adapters(None, [(root / "style_a", 1.0), (root / "style_b", 1.0)])
    both = prompt_logits(model, tok)
    del model
    base = prompt_logits(*base_lm)
    a = prompt_logits(with_layers(base_lm, [(root / "style_a", 1.0)]), base_lm[1])
    b = prompt_logits(with_layers(base_lm, [(root / "style_b", 1.0)]), base_lm[1])
    for name, x in (("a", a), ("b", b), ("a+b", both)):
        assert (x - base).abs().max() > 1.0, f"{name} barely moves the base"
    assert (both - a).abs().max() > 1.0 and (both - b).abs().max() > 1.0
    # weight 0 drops an adapter exactly; weight 1 for both is not the same as either
    a0_b = prompt_logits(with_layers(base_lm, [(root / "style_a", 0.0), (root / "style_b", 1.0)]), base_lm[1])
    assert torch.allclose(a0_b, b, atol=1e-4), (a0_b - b).abs().max()


def test_cat_stack_is_the_exact_weighted_sum_of_deltas(adapter_ws, base_lm):
    root = adapter_ws / "adapters"
    model = with_layers(base_lm, [(root / "style_a", 0.5), (root / "style_b", -1.5)])
    q = model.get_base_model().model.layers[3].self_attn.q_proj
    got = q.get_delta_weight("stack")
    want = 0.5 * delta(root / "style_a") - 1.5 * delta(root / "style_b")
    assert torch.allclose(got, want, atol=1e-6, rtol=1e-4)
    # the rank is the sum of the ranks (4 + 8): nothing was truncated
    assert q.lora_A["stack"].weight.shape[0] == 12
    # the folded export form agrees with peft's combination
    folded = fold(expand_layers([(root / "style_a", 0.5), (root / "style_b", -1.5)]))
    a, b = folded.pairs[MODULE]
    assert torch.allclose(b @ a, want, atol=1e-6, rtol=1e-4)


def test_single_adapter_weight_scales_its_delta(adapter_ws, base_lm):
    root = adapter_ws / "adapters"
    model = with_layers(base_lm, [(root / "style_a", 0.25)])
    q = model.get_base_model().model.layers[3].self_attn.q_proj
    assert type(model).__name__.startswith("PeftModel")
    assert torch.allclose(q.get_delta_weight("l0"), 0.25 * delta(root / "style_a"), atol=1e-7, rtol=1e-4)


def test_parents_load_underneath_automatically(adapter_ws, base_lm):
    root = adapter_ws / "adapters"
    layers = expand_layers([(root / "on_top", 1.0)])
    assert [(layer.id, layer.implied) for layer in layers] == [("style_a", True), ("on_top", False)]
    auto = prompt_logits(with_layers(base_lm, [(root / "on_top", 1.0)]), base_lm[1])
    explicit = prompt_logits(with_layers(base_lm, [(root / "style_a", 1.0), (root / "on_top", 1.0)]), base_lm[1])
    assert torch.allclose(auto, explicit, atol=1e-4)
    # … which is the model on_top was trained as: style_a merged into the base, on_top on top
    from peft import PeftModel

    trained_on = PeftModel.from_pretrained(copy.deepcopy(base_lm[0]), str(root / "style_a")).merge_and_unload()
    as_trained = prompt_logits(attach(trained_on, [Layer(root / "on_top", 1.0)]), base_lm[1])
    assert torch.allclose(auto, as_trained, atol=1e-3), (auto - as_trained).abs().max()
    # without its parent underneath the child is a different model (attach takes the layers as given)
    alone = prompt_logits(attach(copy.deepcopy(base_lm[0]), [Layer(root / "on_top", 1.0)]), base_lm[1])
    assert (auto - alone).abs().max() > 1.0
    # a listed parent keeps its listed weight
    assert [layer.weight for layer in expand_layers([(root / "style_a", 0.3), (root / "on_top", 1.0)])] == [0.3, 1.0]


def test_missing_parent_is_one_clear_error(adapter_ws, tmp_path):
    import shutil

    root = tmp_path / "adapters"
    shutil.copytree(adapter_ws / "adapters" / "on_top", root / "on_top")
    with pytest.raises(AdapterError, match="trained on top of style_a, which is gone"):
        expand_layers([(root / "on_top", 1.0)])


def test_specs_ids_prefixes_and_bad_input(adapter_ws):
    ws = adapter_ws
    assert resolve_specs(ws, ["style_a:0.5", "on_top"]) == [
        (ws / "adapters" / "style_a", 0.5), (ws / "adapters" / "on_top", 1.0)]
    assert resolve_specs(ws, ["on_"]) == [(ws / "adapters" / "on_top", 1.0)]  # a unique prefix
    with pytest.raises(AdapterError, match="ambiguous"):
        resolve_specs(ws, ["style_"])
    with pytest.raises(AdapterError, match="no adapter 'nope'.*known: on_top, style_a, style_b"):
        resolve_specs(ws, ["nope"])
    with pytest.raises(AdapterError, match="bad weight"):
        resolve_specs(ws, ["style_a:lots"])
    with pytest.raises(AdapterError, match="unknown combination"):
        load_with_adapters(None, [(ws / "adapters" / "style_a", 1.0)], combination="average")


def test_named_stacks_round_trip(adapter_ws, tmp_path):
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(adapter_ws / "adapters", ws / "adapters")
    entry = save_stack(ws, "voice", ["style_a:0.5", "style_b"])
    assert [(e["id"], e["weight"]) for e in entry["adapters"]] == [("style_a", 0.5), ("style_b", 1.0)]
    on_disk = json.loads((ws / "adapters" / "stacks.json").read_text(encoding="utf-8"))
    assert on_disk["stacks"]["voice"]["combination"] == "cat"
    # a stack name is a spec; its own weight scales every weight inside it
    assert resolve_specs(ws, ["voice:2", "on_top:0.1"]) == [
        (ws / "adapters" / "style_a", 1.0), (ws / "adapters" / "style_b", 2.0), (ws / "adapters" / "on_top", 0.1)]
    with pytest.raises(AdapterError, match="already an adapter id"):
        save_stack(ws, "style_a", ["style_b"])
    with pytest.raises(AdapterError, match="no adapter 'ghost'"):
        save_stack(ws, "broken", ["ghost"])
    assert "broken" not in load_stacks(ws)
    remove_stack(ws, "voice")
    assert load_stacks(ws) == {}
    with pytest.raises(AdapterError, match="no stack named"):
        remove_stack(ws, "voice")
