"""`twinforge adapters stack|stacks|unstack|merge|export` on real tiny adapters; bad input is one error line."""

from __future__ import annotations

import json
import shutil

import pytest


@pytest.fixture
def ws(adapter_ws, workspace):
    """A workspace (twin.db + the fixture's adapters) of this test's own."""
    from twinforge.store import Store

    shutil.copytree(adapter_ws / "adapters", workspace / "adapters")
    Store(workspace).close()
    return workspace


def one_error(r, *needles):
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_named_stack_commands(tf, ws):
    r = tf("adapters", "stack", "style_b:0.5", "on_top", "--name", "voice")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "stack voice = style_b×0.5, style_a×1 (parent), on_top×1 [cat]"
    r = tf("adapters", "stacks", "--json")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(row["name"], [(e["id"], e["weight"]) for e in row["adapters"]]) for row in rows] == [
        ("voice", [("style_b", 0.5), ("on_top", 1.0)])]
    # the stack name works wherever adapter ids do
    r = tf("adapters", "export", "voice", "--format", "peft", "--out", ws / "out", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["folded"] and info["r"] == 16 and "--enable-lora" in info["use"]
    assert tf("adapters", "unstack", "voice").exit_code == 0
    assert "0 stacks" in tf("adapters", "stacks").stdout


def test_export_commands(tf, ws):
    r = tf("adapters", "export", "style_a", "--format", "gguf", "--out", ws / "a.gguf")
    assert r.exit_code == 0, r.output
    assert (ws / "a.gguf").stat().st_size > 100_000
    assert "use: llama-cli -m " in r.stdout and "gemma-3-270m-q4_k_m.gguf --lora " in r.stdout
    r = tf("adapters", "export", "style_b", "--format", "peft", "--out", ws / "peft", "--base-name", "org/base")
    assert r.exit_code == 0, r.output
    conf = json.loads((ws / "peft" / "adapter_config.json").read_text(encoding="utf-8"))
    assert conf["base_model_name_or_path"] == "org/base" and conf["r"] == 8
    assert "use: vllm serve org/base --enable-lora --lora-modules twin=" in r.stdout


def test_bad_input_is_one_error_line(tf, ws):
    one_error(tf("adapters", "export", "nope", "--format", "peft", "--out", ws / "x"), "no adapter 'nope'",
              "on_top, style_a, style_b")
    one_error(tf("adapters", "merge", "style_a:lots", "--out", ws / "m"), "bad weight in 'style_a:lots'")
    one_error(tf("adapters", "merge", "style_", "--out", ws / "m"), "ambiguous")
    one_error(tf("adapters", "stack", "style_a", "ghost", "--name", "x"), "no adapter 'ghost'")
    one_error(tf("adapters", "stack", "style_a", "--name", "style_b"), "already an adapter id")
    one_error(tf("adapters", "unstack", "never"), "no stack named 'never'")
    assert not (ws / "x").exists() and not (ws / "m").exists()
    assert not (ws / "adapters" / "stacks.json").exists()


def test_merge_into_a_quantized_base_is_refused(tf, ws):
    from twinforge.models.embedded import embedded_trainable_folder

    src = embedded_trainable_folder()
    q = ws / "qbase"
    q.mkdir()
    for f in src.iterdir():
        if f.name != "config.json":
            (q / f.name).symlink_to(f)
    cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    cfg["quantization_config"] = {"quant_method": "gptq", "bits": 4}
    (q / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    one_error(tf("adapters", "merge", "style_a", "--out", ws / "m", "--base", q), "quantized (gptq 4-bit)",
              "full-precision base")
    assert not (ws / "m").exists()


def test_merge_keeps_out_of_the_adapters_folder(tf, ws):
    one_error(tf("adapters", "merge", "style_a", "--out", ws / "adapters" / "merged"), "trained adapters only",
              "--out ")
    assert not (ws / "adapters" / "merged").exists()
