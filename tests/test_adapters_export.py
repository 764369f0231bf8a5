"""Exports for the ecosystem: a clean PEFT folder with what vLLM --enable-lora reads, and a GGUF LoRA that
llama.cpp (llama-cpp-python) loads and that moves its logits the way PEFT moves the same base's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from fx_adapters import PROMPT, prompt_logits, vllm_problems, with_layers

from twinforge.adapters.gguf_lora import base_gguf, export_gguf_lora, export_gguf_stack
from twinforge.adapters.peft_export import export_peft
from twinforge.models.stack import AdapterError

N_NEW = 8  # greedy tokens compared between llama.cpp and PEFT


def test_peft_export_is_clean_and_what_vllm_reads(adapter_ws, tmp_path):
    src = tmp_path / "style_a"
    shutil.copytree(adapter_ws / "adapters" / "style_a", src)
    (src / "checkpoint-2").mkdir()  # what a training run leaves beside the adapter
    (src / "checkpoint-2" / "optimizer.pt").write_bytes(b"\0" * 64)
    (src / "loss.png").write_bytes(b"png")
    res = export_peft(src, tmp_path / "vllm", "google/gemma-3-270m")
    out = res.out_dir
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json", "adapter_model.safetensors",
                                                    "twinforge-export.json"]
    assert vllm_problems(out) == []
    conf = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    assert conf["base_model_name_or_path"] == "google/gemma-3-270m"
    assert (conf["r"], conf["lora_alpha"], sorted(conf["target_modules"])) == (4, 8, ["q_proj", "v_proj"])
    assert not res.folded and res.notes == []
    # the weights are the adapter's own, bit for bit
    from safetensors.torch import load_file

    a, b = load_file(str(src / "adapter_model.safetensors")), load_file(str(out / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_peft_export_folds_parents_into_one_exact_adapter(adapter_ws, base_lm, tmp_path):
    import copy

    from peft import PeftModel

    res = export_peft(adapter_ws / "adapters" / "on_top", tmp_path / "vllm")
    assert res.folded and res.r == 8 and vllm_problems(res.out_dir) == []
    got = prompt_logits(PeftModel.from_pretrained(copy.deepcopy(base_lm[0]), str(res.out_dir)), base_lm[1])
    want = prompt_logits(with_layers(base_lm, [(adapter_ws / "adapters" / "on_top", 1.0)]), base_lm[1])
    assert torch.allclose(got, want, atol=1e-3), (got - want).abs().max()


def test_peft_export_flags_a_rank_above_vllms_default(adapter_ws, tmp_path):
    root = adapter_ws / "adapters"
    from twinforge.adapters.peft_export import export_peft_stack

    res = export_peft_stack([(root / "style_b", 1.0), (root / "style_a", 1.0), (root / "on_top", 1.0)], tmp_path / "o")
    assert res.r == 16  # 8 + 4 + 4: exactly at the default
    res = export_peft_stack([(root / "style_b", 1.0), (root / "style_b", 1.0)], tmp_path / "o")  # listed once
    assert res.r == 8
    big = tmp_path / "big"
    shutil.copytree(root / "style_b", big)
    res = export_peft_stack([(big, 1.0), (root / "style_b", 1.0), (root / "style_a", 1.0)], tmp_path / "o")
    assert res.r == 20 and any("--max-lora-rank 32" in n for n in res.notes)


# --- GGUF -----------------------------------------------------------------------------------------------------

LLAMA_RUN = r"""
import json, sys
import numpy as np
from llama_cpp import Llama
model, lora, tokens, n_new, out = sys.argv[1], sys.argv[2] or None, json.loads(sys.argv[3]), int(sys.argv[4]), \
    sys.argv[5]
# n_ubatch=1: this llama-cpp-python build crashes on batched prompt evaluation on some CPUs (AMX kernels)
llm = Llama(model_path=model, lora_path=lora, logits_all=True, n_ctx=256, n_ubatch=1, n_threads=1, verbose=False)
llm.eval(tokens)
prompt = np.array(llm.scores[: len(tokens)], dtype=np.float32)
new = []
for _ in range(n_new):
    new.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
    llm.eval([new[-1]])
np.save(out, prompt)
print(json.dumps(new))
"""


def llama_cpp_run(model, lora, tokens, tmp_path, tag):
    """Prompt logits [tokens, vocab] and N_NEW greedy tokens from llama.cpp, in a child process (a native crash
    there fails this test instead of killing the test run)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    out = tmp_path / f"{tag}.npy"
    r = subprocess.run([sys.executable, "-c", LLAMA_RUN, str(model), str(lora or ""), json.dumps(tokens),
                        str(N_NEW), str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"llama.cpp run failed ({r.returncode}):\n{r.stderr[-2000:]}"
    return np.load(out), json.loads(r.stdout.strip().splitlines()[-1])


def peft_run(model, tok):
    ids = tok(PROMPT, return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits[0].float().numpy()
        gen = model.generate(**ids, max_new_tokens=N_NEW, do_sample=False, use_cache=True)
    return ids["input_ids"][0].tolist(), logits, gen[0, ids["input_ids"].shape[1]:].tolist()


@pytest.fixture(scope="module")
def llama_base(base_lm, tmp_path_factory):
    """The embedded base GGUF's and PEFT's own outputs on the prompt (the reference both deltas start from)."""
    tmp = tmp_path_factory.mktemp("llama")
    tokens, peft_logits, peft_new = peft_run(*base_lm)
    cpp_logits, cpp_new = llama_cpp_run(base_gguf(), None, tokens, tmp, "base")
    return tokens, peft_logits, cpp_logits, tmp


def compare(llama_base, peft_model, tok, gguf_path, tag):
    tokens, peft_base, cpp_base, tmp = llama_base
    _, peft_logits, peft_new = peft_run(peft_model, tok)
    cpp_logits, cpp_new = llama_cpp_run(base_gguf(), gguf_path, tokens, tmp, tag)
    d_peft, d_cpp = (peft_logits - peft_base).ravel(), (cpp_logits - cpp_base).ravel()
    stats = {
        "base_corr": float(np.corrcoef(peft_base.ravel(), cpp_base.ravel())[0, 1]),
        "delta_corr": float(np.corrcoef(d_peft, d_cpp)[0, 1]),
        "delta_norm_ratio": float(np.linalg.norm(d_cpp) / np.linalg.norm(d_peft)),
        "argmax_agree": float((peft_logits.argmax(-1) == cpp_logits.argmax(-1)).mean()),
        "greedy_agree": sum(a == b for a, b in zip(peft_new, cpp_new)) / N_NEW,
        "adapter_moves_argmax": float((cpp_logits.argmax(-1) != cpp_base.argmax(-1)).mean()),
    }
    print(f"\n{tag}: {json.dumps(stats)}\n  peft  {tok.decode(peft_new)!r}\n  llama {tok.decode(cpp_new)!r}")
    return stats


def test_gguf_lora_file_is_what_llama_cpp_expects(adapter_ws, tmp_path):
    import gguf

    out = export_gguf_lora(adapter_ws / "adapters" / "style_a", tmp_path / "a.gguf")
    r = gguf.GGUFReader(str(out))
    fields = {k: f.contents() for k, f in r.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.architecture"] == "gemma3" and fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora" and fields["adapter.lora.alpha"] == pytest.approx(8.0)
    base = {t.name: tuple(int(x) for x in t.shape) for t in gguf.GGUFReader(str(base_gguf())).tensors}
    lora = {t.name: tuple(int(x) for x in t.shape) for t in r.tensors}
    assert len(lora) == 18 * 2 * 2  # 18 layers × (q, v) × (a, b)
    for name in {n.rsplit(".", 1)[0] for n in lora}:
        a, b, w = lora[name + ".lora_a"], lora[name + ".lora_b"], base[name]
        # ggml order: base ne=[in, out], a ne=[in, r], b ne=[r, out] (llama_adapter_lora_init's shape checks)
        assert a[0] == w[0] and b[1] == w[1] and a[1] == b[0] == 4, (name, a, b, w)


def test_gguf_lora_moves_llama_cpp_logits_like_peft(adapter_ws, base_lm, llama_base, tmp_path):
    root = adapter_ws / "adapters"
    out = export_gguf_lora(root / "style_a", tmp_path / "style_a.gguf")
    s = compare(llama_base, with_layers(base_lm, [(root / "style_a", 1.0)]), base_lm[1], out, "style_a")
    assert s["base_corr"] > 0.99  # the GGUF is Q4_K_M; the HF folder is its dequantized weights
    assert s["delta_corr"] > 0.9 and 0.8 < s["delta_norm_ratio"] < 1.25
    assert s["adapter_moves_argmax"] > 0.3  # the adapter really changes llama.cpp's predictions …
    assert s["argmax_agree"] >= 0.75  # … to PEFT's
    assert s["greedy_agree"] >= 0.5


def test_gguf_lora_of_a_weighted_stack_with_parents(adapter_ws, base_lm, llama_base, tmp_path):
    root = adapter_ws / "adapters"
    pairs = [(root / "style_b", 0.5), (root / "on_top", 1.0)]  # on_top brings style_a underneath
    out = export_gguf_stack(pairs, tmp_path / "stack.gguf")
    s = compare(llama_base, with_layers(base_lm, pairs), base_lm[1], out, "style_b:0.5+on_top")
    assert s["delta_corr"] > 0.9 and 0.8 < s["delta_norm_ratio"] < 1.25
    assert s["argmax_agree"] >= 0.75


def test_gguf_export_refuses_what_it_cannot_write(adapter_ws, tmp_path):
    with pytest.raises(AdapterError, match="not an adapter folder"):
        export_gguf_lora(tmp_path, tmp_path / "x.gguf")
    with pytest.raises(AdapterError, match="no GGUF for the base"):
        base_gguf(str(tmp_path))
    assert not (tmp_path / "x.gguf").exists()


def test_a_train_stage_adapter_stacks_and_exports(tiny_adapter, adapter_ws, base_lm, tmp_path):
    """The train stage's own adapter folder (twinforge.json, loss.png, …) works with every operation here."""
    import gguf

    pairs = [(tiny_adapter, 1.0), (adapter_ws / "adapters" / "style_a", 0.5)]
    stacked = prompt_logits(with_layers(base_lm, pairs), base_lm[1])
    alone = prompt_logits(with_layers(base_lm, [(tiny_adapter, 1.0)]), base_lm[1])
    assert (stacked - alone).abs().max() > 0.5
    res = export_peft(tiny_adapter, tmp_path / "peft", "google/gemma-3-270m")
    assert vllm_problems(res.out_dir) == [] and not res.folded
    out = export_gguf_stack(pairs, tmp_path / "t.gguf")
    r = gguf.GGUFReader(str(out))
    assert r.fields["general.architecture"].contents() == "gemma3" and len(r.tensors) > 0
