"""Merging real adapters into the embedded base: the merged folder gives the adapters' logits, records what went in,
and a quantized base is refused."""

from __future__ import annotations

import json

import pytest
import torch
from fx_adapters import prompt_logits, with_layers

from twinforge.adapters.merge import QuantizedBaseError, check_full_precision, merge
from twinforge.errors import TwinforgeError


@pytest.fixture(scope="module")
def merged(adapter_ws, tmp_path_factory):
    """style_b at 0.5 stacked with on_top (whose parent style_a comes along), merged once."""
    root = adapter_ws / "adapters"
    out = tmp_path_factory.mktemp("merged") / "model"
    res = merge([(root / "style_b", 0.5), (root / "on_top", 1.0)], out)
    return res


def test_merged_model_matches_the_stacked_adapters(merged, adapter_ws, base_lm):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = adapter_ws / "adapters"
    out = merged.out_dir
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    model = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    got = prompt_logits(model, AutoTokenizer.from_pretrained(str(out)))
    del model
    want = prompt_logits(with_layers(base_lm, [(root / "style_b", 0.5), (root / "on_top", 1.0)]), base_lm[1])
    base = prompt_logits(*base_lm)
    assert (want - base).abs().max() > 1.0  # the adapters matter, so agreeing is not trivial
    assert torch.allclose(got, want, atol=2e-3), (got - want).abs().max()


def test_merged_folder_records_what_went_in(merged):
    meta = json.loads((merged.out_dir / "twinforge.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "merged" and meta["combination"] == "cat" and meta["base"] == "embedded"
    assert [(a["id"], a["weight"], a["implied"]) for a in meta["adapters"]] == [
        ("style_b", 0.5, False), ("style_a", 1.0, True), ("on_top", 1.0, False)]
    assert len(meta["base_hash"]) == 16
    assert merged.size_bytes > 500e6
    assert "quantization_config" not in (merged.out_dir / "config.json").read_text(encoding="utf-8")


def test_merge_refuses_a_quantized_base(adapter_ws, tmp_path):
    from twinforge.models.embedded import embedded_trainable_folder

    src = embedded_trainable_folder()
    qbase = tmp_path / "qbase"
    qbase.mkdir()
    for f in src.iterdir():
        if f.name != "config.json":
            (qbase / f.name).symlink_to(f)
    cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    cfg["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True,
                                  "bnb_4bit_quant_type": "nf4"}
    (qbase / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(QuantizedBaseError, match=r"quantized \(bitsandbytes 4-bit\)") as e:
        merge([(adapter_ws / "adapters" / "style_a", 1.0)], out, base=str(qbase))
    assert "full-precision base" in e.value.hint
    assert not out.exists()


def test_full_precision_check_sees_loaded_4bit_models(base_lm):
    class FourBit(torch.nn.Module):  # what transformers sets on a bitsandbytes 4-bit load
        is_loaded_in_4bit = True
        config = base_lm[0].config

    with pytest.raises(QuantizedBaseError, match="4-bit"):
        check_full_precision(FourBit())
    check_full_precision(base_lm[0])  # the fp32 base passes


def test_merge_never_writes_into_a_foreign_folder(adapter_ws, tmp_path):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(TwinforgeError, match="not a merged model"):
        merge([(adapter_ws / "adapters" / "style_a", 1.0)], other)
    assert (other / "keep.txt").read_text(encoding="utf-8") == "mine"
