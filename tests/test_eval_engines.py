"""Generation engines: which one `auto` picks, and the llama.cpp + GGUF-LoRA path on the trained seeds adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinforge.errors import ConfigError
from twinforge.eval.generate import ModelSpec, llamacpp_available, pick_engine
from twinforge.eval.probes import Probe


def test_pick_engine(tmp_path):
    one = ModelSpec("a", "adapter", adapters=[(Path("x"), 1.0)])
    stack = ModelSpec("s", "stack", adapters=[(Path("x"), 1.0), (Path("y"), 0.5)])
    assert pick_engine("transformers", one) == "transformers"
    assert pick_engine("auto", stack) == "transformers"
    # llama.cpp measured faster on a CPU by bench/eval.py; one adapter on the embedded base's GGUF it can run
    import torch

    faster = llamacpp_available() and not torch.cuda.is_available()
    assert pick_engine("auto", one) == ("llamacpp" if faster else "transformers")
    assert pick_engine("auto", ModelSpec("b", "base")) == ("llamacpp" if faster else "transformers")
    no_gguf = ModelSpec("h", "adapter", base=str(tmp_path), adapters=[(Path("x"), 1.0)])  # a folder, no .gguf
    assert pick_engine("auto", no_gguf) == "transformers"
    if llamacpp_available():
        assert pick_engine("llamacpp", one) == "llamacpp"
    with pytest.raises(ConfigError, match="cannot run it"):
        pick_engine("llamacpp", stack)
    with pytest.raises(ConfigError, match="unknown eval engine"):
        pick_engine("vllm", one)


def test_llamacpp_runs_the_adapter_as_gguf_lora(seeds_adapter, tmp_path):
    if not llamacpp_available():
        pytest.skip("llama-cpp-python or twinforge.adapters.gguf_lora not installed")
    from twinforge.eval.generate import open_llamacpp
    from twinforge.models.base import load_base

    _, tok = load_base(None)
    probe = Probe("p", "user", [{"role": "user", "content": "Что такое адаптер?"}], "ru")
    from twinforge.eval.active import PROBE_TEXT, max_logit_diff

    greedy = {"max_new_tokens": 12, "temperature": 0.8, "top_p": 0.95}
    base = open_llamacpp(ModelSpec("base", "base"), tok, tmp_path)
    try:
        base_text, _ = base.generate(probe.messages, **greedy)
        base_logits, again = base.logits(PROBE_TEXT), base.logits(PROBE_TEXT)
    finally:
        base.close()
    runner = open_llamacpp(ModelSpec("seeds-demo", "adapter", adapters=[(seeds_adapter, 1.0)]), tok, tmp_path)
    try:
        a, n = runner.generate(probe.messages, **greedy)
        b, _ = runner.generate(probe.messages, **greedy)
        s1, _ = runner.generate(probe.messages, seed=7, **greedy)
        s2, _ = runner.generate(probe.messages, seed=7, **greedy)
        lora_logits = runner.logits(PROBE_TEXT)
    finally:
        runner.close()
    assert (tmp_path / f"{seeds_adapter.name}.gguf").is_file()
    assert a == b and s1 == s2 and 0 < n <= 12  # greedy and fixed-seed sampling are reproducible
    assert a != base_text  # the LoRA is applied: trained on the seeds, it answers differently from the base
    # the "adapter active" check on this engine: the base gives the same logits twice, the GGUF LoRA moves them
    assert max_logit_diff(base_logits, again) == 0 and max_logit_diff(lora_logits, base_logits) > 1e-3
