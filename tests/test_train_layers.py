"""Layer-restricted training (`train --layers`): the spec, its check against the base, what peft trains, and where
the layers show (twinforge.json, the registry, `adapters`, the eval report)."""

from __future__ import annotations

import json
import shutil

import pytest
from pydantic import ValidationError

from twinforge.errors import ConfigError
from twinforge.models.layers import check_spec, indices, label
from twinforge.train.config import TrainConfig

FAST = ["--max-steps", "1", "--max-len", "96", "--batch-size", "1"]
EMBEDDED_LAYERS = 18  # Gemma 3 270M


@pytest.mark.parametrize(("spec", "n", "want"), [
    ("20-23", 24, [20, 21, 22, 23]),
    ("last:3", 18, [15, 16, 17]),
    ("first:2", 18, [0, 1]),
    ("0, 2,4-6", 8, [0, 2, 4, 5, 6]),
    ("5,5,4", 8, [4, 5]),
    ("all", 8, None),
    (None, 8, None),
])
def test_layer_specs_resolve(spec, n, want):
    assert indices(spec, n) == want


@pytest.mark.parametrize("spec", ["23-20", "last:0", "last:x", "1-", "a,b", "-3", "1..3"])
def test_bad_layer_syntax_is_refused_when_the_recipe_is_read(spec):
    with pytest.raises(ValueError):
        check_spec(spec)
    with pytest.raises(ValidationError):
        TrainConfig(layers=spec)


@pytest.mark.parametrize(("spec", "n", "says"), [("20-23", 18, "the base has 18 layers (0-17)"),
                                                   ("last:30", 18, "only 18 layers")])
def test_layers_beyond_the_base_are_one_clear_error(spec, n, says):
    with pytest.raises(ConfigError) as e:
        indices(spec, n)
    assert says in str(e.value)


def test_a_recipe_may_list_layers_or_give_one_number():
    assert TrainConfig(layers=[20, 21, 23]).layers == "20,21,23"
    assert TrainConfig(layers=5).layers == "5"
    assert TrainConfig(layers="All").layers is None


def test_label_is_compact():
    assert label([15, 16, 17], 18) == "15-17 of 18"
    assert label([0, 2, 4, 5, 6]) == "0,2,4-6"
    assert label(None, 18) == "all"


@pytest.fixture
def ws(train_workspace, tmp_path):
    dst = tmp_path / "ws"
    shutil.copytree(train_workspace, dst, ignore=shutil.ignore_patterns("adapters"))
    return dst


def test_cli_layers_beyond_the_base_fail_before_training(tf, ws):
    r = tf("train", "--layers", "20-23", "--name", "deep", *FAST, ws=ws)
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert "18 layers" in lines[0]
    assert not (ws / "adapters" / "deep").exists(), "nothing half-written"


def test_cli_bad_layer_syntax_is_one_error_line(tf, ws):
    r = tf("train", "--layers", "23-20", *FAST, ws=ws)
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: train.layers") and "backwards" in lines[0], r.output


def test_last_layers_train_only_there_and_are_recorded(tf, ws):
    pytest.importorskip("peft")
    from safetensors import safe_open

    from twinforge.adapters import registry
    from twinforge.eval.generate import ModelSpec
    from twinforge.eval.report import render_html
    from twinforge.eval.run import adapter_layers
    from twinforge.store import Store

    r = tf("train", "--layers", "last:2", "--name", "top2", "--json", *FAST, ws=ws)
    assert r.exit_code == 0, r.output
    folder = ws / "adapters" / "top2"
    peft_cfg = json.loads((folder / "adapter_config.json").read_text())
    assert peft_cfg["layers_to_transform"] == [16, 17]
    with safe_open(str(folder / "adapter_model.safetensors"), "pt") as f:
        layer_nums = {int(k.split(".layers.")[1].split(".")[0]) for k in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    assert layer_nums == {16, 17}, "LoRA weights exist only in the chosen layers"
    meta = json.loads((folder / "twinforge.json").read_text())
    assert meta["layers"] == {"spec": "last:2", "indices": [16, 17], "of": EMBEDDED_LAYERS}
    assert meta["hyperparameters"]["layers"] == "last:2"

    with Store(ws) as store:
        assert registry.get(store, "top2").layers == "16-17 of 18"
    listed = [json.loads(x) for x in tf("adapters", "--json", ws=ws).stdout.splitlines()]
    assert [a["layers"] for a in listed if a["id"] == "top2"] == ["16-17 of 18"]
    assert "layers 16-17 of 18" in tf("adapters", ws=ws).stdout
    assert "layers=16-17 of 18" in tf("adapters", "show", "top2", ws=ws).stdout

    spec = ModelSpec("top2", "adapter", None, [(folder, 1.0)])
    assert adapter_layers(spec) == "16-17 of 18"
    assert adapter_layers(ModelSpec("base", "base")) is None
    html = render_html({"id": 1, "dataset": "default", "probes": [], "metrics": {}, "failures": [], "active": [],
                        "generations": [], "models": [spec.as_dict() | {"layers": adapter_layers(spec)}]})
    assert "layers 16-17 of 18" in html


def test_a_stack_keeps_every_parts_layers_whatever_the_order(tf, ws):
    """peft builds a stack from its first part's config: a layer-restricted first part must not cut the others."""
    pytest.importorskip("peft")
    import torch

    from twinforge.models.stack import load_with_adapters

    for args in (["--layers", "last:2", "--name", "top2"], ["--name", "every"]):
        assert tf("train", *args, "--lr", "0.01", *FAST, ws=ws).exit_code == 0
    top2, every = ws / "adapters" / "top2", ws / "adapters" / "every"
    ids = torch.tensor([[2, 651, 1234, 7, 99, 1500, 42]])

    def logits(parts):
        model, _ = load_with_adapters(None, [(p, 1.0) for p in parts], device="cpu")
        q = model.get_base_model().model.layers[0].self_attn.q_proj
        with torch.no_grad():
            return model(input_ids=ids).logits, "stack" in getattr(q, "lora_A", {})

    restricted_first, layer0_has_stack = logits([top2, every])
    full_first, _ = logits([every, top2])
    assert layer0_has_stack, "the full adapter's layer 0 is part of the stack"
    assert torch.allclose(restricted_first, full_first, atol=1e-4)
