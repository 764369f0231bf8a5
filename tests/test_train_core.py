"""Training on the embedded Gemma 3 270M: loss goes down, LoRA weights move, a reloaded adapter is the same
model, and an interrupted run resumes to the very same adapter."""

from __future__ import annotations

import json
import shutil

import pytest
from fx_train import TINY

torch = pytest.importorskip("torch")
pytest.importorskip("peft")


@pytest.fixture(scope="module")
def base_and_tok():
    from twinforge.models.base import load_base

    return load_base(None)


def _with_adapter(base_and_tok, folder):
    from peft import PeftModel

    model, tok = base_and_tok
    return PeftModel.from_pretrained(model, str(folder)), tok


def test_adapter_folder_is_complete(tiny_adapter):
    meta = json.loads((tiny_adapter / "twinforge.json").read_text())
    assert {"adapter_config.json", "adapter_model.safetensors", "loss.png", "twinforge.json"} <= {
        p.name for p in tiny_adapter.iterdir()}
    assert not (tiny_adapter / "checkpoints").exists(), "checkpoints are dropped once the adapter is finished"
    assert meta["id"] == "tiny" and meta["kind"] == "full" and meta["parents"] == []
    assert len(meta["base_hash"]) == 16 and len(meta["dataset_hash"]) == 16
    assert meta["hyperparameters"]["r"] == 8 and meta["hyperparameters"]["target_modules"] == [
        "q_proj", "k_proj", "v_proj", "o_proj"]
    m = meta["metrics"]
    assert m["steps"] == TINY["max_steps"] and len(meta["loss_history"]) == TINY["max_steps"]
    assert m["tokens"] > 0 and m["tokens_per_second"] > 0 and m["val_loss"] is not None
    assert meta["chat_template"] == "plain"  # Gemma 3 base ships no chat template


def test_training_lowers_the_loss_and_moves_lora_weights(tiny_adapter, base_and_tok, train_workspace):
    from safetensors.torch import load_file

    from twinforge.train.data import read_examples
    from twinforge.train.sft import eval_loss

    weights = load_file(str(tiny_adapter / "adapter_model.safetensors"))
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b), "LoRA B starts at zero; training must move it"
    examples = read_examples(train_workspace / "datasets" / "default" / "train.jsonl")
    model, tok = _with_adapter(base_and_tok, tiny_adapter)
    try:
        after = eval_loss(model, tok, examples, max_len=TINY["max_len"])
        with model.disable_adapter():
            before = eval_loss(model, tok, examples, max_len=TINY["max_len"])
    finally:
        model.unload()
    assert after < before - 0.05, (before, after)


def test_reloaded_adapter_gives_the_logits_recorded_at_save(tiny_adapter, base_and_tok):
    from twinforge.train.sft import probe_logits

    recorded = json.loads((tiny_adapter / "twinforge.json").read_text())["probe"]["logits"]
    model, tok = _with_adapter(base_and_tok, tiny_adapter)
    try:
        again = probe_logits(model, tok)["logits"]
        with model.disable_adapter():
            base = probe_logits(model, tok)["logits"]
    finally:
        model.unload()
    assert torch.allclose(torch.tensor(again), torch.tensor(recorded), atol=1e-4)
    assert not torch.allclose(torch.tensor(base), torch.tensor(recorded), atol=1e-3), "the adapter changes nothing"


def test_interrupted_run_resumes_from_its_checkpoint_to_the_same_adapter(tiny_adapter, train_workspace, tmp_path):
    """Stop after 3 of 4 steps, lose the step-3 checkpoint (as a kill would), run again: it resumes at step 2,
    ends at step 4, and its weights equal those of the uninterrupted run (data order, RNG, optimizer restored)."""
    from safetensors.torch import load_file

    from twinforge.train.sft import TrainArgs, train_adapter

    ds = train_workspace / "datasets" / "default"
    args = TrainArgs(base=None, train_file=ds / "train.jsonl", val_file=ds / "val.jsonl", out_dir=tmp_path / "a",
                     dataset="default", name="tiny", **TINY)
    args.stop_after = 3
    first = train_adapter(args)
    assert not first.finished and first.steps == 3
    ckpts = sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir())
    assert ckpts == ["step-00000002", "step-00000003"]
    shutil.rmtree(tmp_path / "a" / "checkpoints" / "step-00000003")
    args.stop_after = None
    second = train_adapter(args)
    assert second.finished and second.resumed_from_step == 2 and second.steps == TINY["max_steps"]
    meta = json.loads((tmp_path / "a" / "twinforge.json").read_text())
    assert len(meta["loss_history"]) == TINY["max_steps"]
    ours, ref = (load_file(str(d / "adapter_model.safetensors")) for d in (tmp_path / "a", tiny_adapter))
    assert ours.keys() == ref.keys()
    for k in ref:
        assert torch.allclose(ours[k], ref[k], atol=1e-5), k
    assert train_adapter(args).steps == TINY["max_steps"], "a finished adapter is returned, not retrained"


def test_a_changed_run_refuses_to_resume_a_foreign_checkpoint(train_workspace, tmp_path):
    from twinforge.errors import ConfigError
    from twinforge.train.sft import TrainArgs, train_adapter

    ds = train_workspace / "datasets" / "default"
    args = TrainArgs(base=None, train_file=ds / "train.jsonl", out_dir=tmp_path / "a", **{**TINY, "max_steps": 2})
    args.stop_after = 1
    train_adapter(args)
    args.lr = 5e-4
    with pytest.raises(ConfigError, match="changed: lr"):
        train_adapter(args)
