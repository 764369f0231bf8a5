"""`twinforge estimate`: the arithmetic against hand-computed values, fits decisions, measured token ratios, bad
inputs. No model runs here (the calibration test is test_estimate_calibration.py)."""

from __future__ import annotations

import json

import pytest

from twinforge.errors import ConfigError
from twinforge.estimate import gpus
from twinforge.estimate.finetune import (
    BATCH_ROWS,
    LOSS_CHUNK_ELEMENTS,
    TokenCount,
    estimate_finetune,
    flops_per_token,
    lora_params,
    measure_dataset,
    parse_lines,
    profile_throughput,
)
from twinforge.estimate.pretrain import (
    estimate_pretrain,
    measure_tokens_per_byte,
    parse_parallel,
    parse_size,
    sample_texts,
)
from twinforge.estimate.shapes import NAMED, parse_count, shape
from twinforge.text.tokens import count_tokens

# ---- shapes and counts --------------------------------------------------------------------------------------

def test_named_shapes_match_the_published_parameter_counts():
    # Qwen3-8B: 8,190,735,360 parameters on its model card, of which 308,224 are RMSNorm weights
    # (36 layers × (2·4096 + q_norm 128 + k_norm 128) + final 4096) that the shapes leave out
    assert NAMED["qwen3-8b"].total_params == 8_190_735_360 - 308_224
    # Llama 3 70B: 80 × (2·8192² + 2·8192·1024 + 3·8192·28672) + 2·128256·8192 matrix weights
    assert NAMED["llama3-70b"].total_params == 80 * (2 * 8192**2 + 2 * 8192 * 1024 + 3 * 8192 * 28672) \
        + 2 * 128_256 * 8192 == 70_552_387_584
    moe = NAMED["qwen3-30b-a3b"]  # a 30B mixture of experts with ~3B active per token
    assert 29e9 < moe.total_params < 31.5e9 and 2.8e9 < moe.compute_params < 3.4e9


def test_synthetic_shape_has_the_size_asked_for():
    for n in (1e9, 70e9, 200e9):
        assert abs(shape(f"{n:.0e}").total_params / n - 1) < 0.02


def test_counts_parse():
    assert parse_lines("100k,1M,3M") == [100_000, 1_000_000, 3_000_000]
    assert parse_count("70b") == 70e9 and parse_count("8e9") == 8e9 and parse_count("1.5M") == 1.5e6
    assert parse_size("1TB") == 1e12 and parse_size("2 TiB") == 2 * 2**40 and parse_size("500GB") == 5e11


def test_lora_parameter_count_by_hand():
    # Qwen3-8B, r=16 on all seven linear maps: per layer 16·[(4096+4096)·2 (q, o) + (4096+1024)·2 (k, v)
    # + (4096+12288)·3 (gate, up, down)] = 1,212,416; × 36 layers (PEFT prints 43,646,976 trainable params)
    assert lora_params(NAMED["qwen3-8b"], 16, "all") == 36 * 16 * (8192 * 2 + 5120 * 2 + 16384 * 3) == 43_646_976
    assert lora_params(NAMED["qwen3-8b"], 8, "attn") == 36 * 8 * (8192 * 2 + 5120 * 2)


def test_lora_flops_per_token_by_hand():
    s = NAMED["qwen3-0.6b"]
    layer_params = 28 * (2 * 1024 * 2048 + 2 * 1024 * 1024 + 3 * 1024 * 3072)
    head = 151_936 * 1024
    n_lora = lora_params(s, 8, "attn")
    fpt, text = flops_per_token(s, context=100, checkpointing=False, n_lora=n_lora, labelled=0.5)
    # 4·N (no weight gradients) + the head at half the tokens + 6 per LoRA parameter + attention 2·L·q·ctx × 3
    assert fpt == pytest.approx(4 * layer_params + 4 * head * 0.5 + 6 * n_lora + 2 * 28 * 2048 * 100 * 3)
    ckpt, _ = flops_per_token(s, context=100, checkpointing=True, n_lora=n_lora, labelled=0.5)
    assert ckpt - fpt == pytest.approx(2 * layer_params + 2 * n_lora + 2 * 28 * 2048 * 100)  # one more forward
    assert "6·N" in text and "4·N" in text


def test_constants_follow_the_trainer():
    from twinforge.train.loss import CHUNK_ELEMENTS
    from twinforge.train.sft import TrainArgs

    assert LOSS_CHUNK_ELEMENTS == CHUNK_ELEMENTS
    assert BATCH_ROWS == TrainArgs.__dataclass_fields__["batch_size"].default


# ---- pretraining ----------------------------------------------------------------------------------------------

def test_chinchilla_and_6nd_by_hand():
    e = estimate_pretrain(model="70b", gpu="h100", gpus=1024, mfu=0.4, corpus_tokens=1.4e12)
    assert e.optimal_tokens == pytest.approx(1.4e12)  # Hoffmann et al.: 70B ↔ 1.4T tokens
    assert e.flops_optimal == pytest.approx(6 * 70e9 * 1.4e12) == pytest.approx(5.88e23)
    # 5.88e23 FLOPs ÷ (989e12 × 0.4 FLOP/s per GPU) = 1.4864e9 GPU-seconds = 412,875 GPU-hours; ÷ 1024 ÷ 24
    assert e.gpu_hours_optimal == pytest.approx(412_874.6, rel=1e-4)
    assert e.days_optimal == pytest.approx(412_874.6 / 1024 / 24, rel=1e-4)
    e200 = estimate_pretrain(model="200b", gpu="a100-80", gpus=512, corpus_tokens=1e12)
    assert e200.optimal_tokens == pytest.approx(4e12) and e200.mfu == gpus.profile("a100-80").mfu_pretrain
    assert e200.flops_corpus == pytest.approx(6 * 200e9 * 1e12)


def test_verdict_says_whether_the_corpus_is_below_or_above_compute_optimal():
    below = estimate_pretrain(model="70b", gpus=1024, corpus_tokens=0.3e12)
    above = estimate_pretrain(model="70b", gpus=1024, corpus_tokens=3e12)
    assert "below Chinchilla-optimal" in below.verdict[0] and "~15B parameters" in below.verdict[0]
    assert "above Chinchilla-optimal" in above.verdict[0]


def test_memory_per_gpu_for_each_zero_stage_by_hand():
    s = NAMED["llama3-70b"]
    n = s.total_params

    def states(parallel: str, gpus: int = 64) -> float:
        e = estimate_pretrain(model="llama3-70b", gpus=gpus, parallel=parallel, corpus_tokens=1e12,
                              recompute="full")
        return sum(f.value for f in e.memory_figures if f.what.startswith(("weights", "gradients", "Adam")))

    assert states("ddp") == pytest.approx(16 * n)
    assert states("zero1") == pytest.approx(4 * n + 12 * n / 64)
    assert states("zero2") == pytest.approx(2 * n + 14 * n / 64)
    assert states("zero3") == pytest.approx(16 * n / 64)
    assert states("tp8-pp4", 64) == pytest.approx(4 * n / 32 + 12 * n / 32 / 2)  # DP = 64 / 32 = 2, ZeRO-1
    assert parse_parallel("fsdp").zero == 3 and parse_parallel("tp8-pp4-zero2") == parse_parallel("tp8-pp4-zero2")


def test_pretrain_fits_decisions():
    ddp = estimate_pretrain(model="llama3-70b", gpus=64, parallel="ddp", corpus_tokens=1e12)
    assert not ddp.fits and ddp.memory_bytes > 16 * 70e9  # 1.1 TB of model states on one 80 GB GPU
    z3 = estimate_pretrain(model="llama3-70b", gpus=1024, parallel="zero3", corpus_tokens=1e12)
    assert z3.fits
    # auto recompute only when the activations would not fit otherwise
    assert z3.recompute is True
    small = estimate_pretrain(model="1b", gpus=8, parallel="zero3", corpus_tokens=1e10, seq_len=1024)
    assert small.fits and small.recompute is False


def test_tokens_per_byte_is_measured_on_the_sample(tmp_path):
    en = tmp_path / "en.txt"
    en.write_text("The quick brown fox jumps over the lazy dog. " * 50, encoding="utf-8")
    ru = tmp_path / "ru"
    ru.mkdir()
    text = "Мысль рождается из противоречия между осью и её инверсией. " * 50
    (ru / "a.jsonl").write_text(json.dumps({"text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    r_en = measure_tokens_per_byte(sample_texts(en), "en")
    r_ru = measure_tokens_per_byte(sample_texts(ru), "ru")
    assert r_en.tokens_per_byte == pytest.approx(count_tokens(en.read_text()) / len(en.read_bytes()))
    assert r_ru.tokens_per_byte == pytest.approx(count_tokens(text) / len(text.encode()))
    assert r_en.tokens_per_byte != pytest.approx(r_ru.tokens_per_byte, rel=0.05)
    e = estimate_pretrain(model="70b", gpus=1024, corpus_bytes=1e12, tokens_per_byte=r_ru)
    assert e.corpus_tokens == pytest.approx(1e12 * r_ru.tokens_per_byte)


def test_hyperphrases_are_what_a_hypertrain_file_is_measured_on(tmp_path):
    f = tmp_path / "hypertrain.jsonl"
    rows = [{"messages": [{"role": "user", "content": "long text " * 20}, {"role": "assistant", "content": "x"}],
             "meta": {"view": "hyper-encode", "hyperphrase": "ночь·грудь·тьма", "text": "long text " * 20}},
            {"messages": [], "meta": {"view": "hyper-decode", "hyperphrase": "ночь·грудь·тьма"}}]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert list(sample_texts(f)) == ["ночь·грудь·тьма"]


# ---- fine-tuning ----------------------------------------------------------------------------------------------

def _ft(model: str, gpu: str, method: str, **kw):
    return estimate_finetune(NAMED[model], lines=100_000, tokens=TokenCount(400, "given"),
                             hw=profile_throughput(gpus.profile(gpu)), method=method, seq_len=2048, **kw)


def test_finetune_time_is_flops_over_throughput():
    e = _ft("qwen3-8b", "h100", "lora", rank=16, targets="all")
    hw = gpus.profile("h100")
    fpt, _ = flops_per_token(NAMED["qwen3-8b"], context=400, checkpointing=True,
                             n_lora=lora_params(NAMED["qwen3-8b"], 16, "all"), labelled=0.6)
    assert e.tokens == 100_000 * 400 and e.checkpointing  # GPUs train with checkpointing, as the trainer does
    assert e.seconds == pytest.approx(100_000 * 400 * fpt / (hw.peak_tflops * 1e12 * hw.mfu_lora))
    q = _ft("qwen3-8b", "h100", "qlora", rank=16, targets="all")
    assert q.seconds == pytest.approx(e.seconds * 1.3)
    eight = _ft("qwen3-8b", "8xh100", "lora", rank=16, targets="all")
    assert eight.seconds < e.seconds / 6


def test_finetune_memory_sums_and_fits():
    lora = _ft("qwen3-8b", "rx7900xt", "lora")
    qlora = _ft("qwen3-8b", "rx7900xt", "qlora")
    weights = {e.method: next(f.value for f in e.memory_figures if f.what == "weights") for e in (lora, qlora)}
    s = NAMED["qwen3-8b"]
    assert weights["lora"] == 2 * s.total_params
    assert weights["qlora"] == pytest.approx(s.linear_params * 4.127 / 8 + s.embed_params * 2)
    parts = [f.value for f in lora.memory_figures if f.what not in ("total per device", "available")]
    assert lora.memory_bytes == pytest.approx(sum(parts))
    # the user's home plan: Qwen3-8B does not fit a 20 GB card in bf16 LoRA, does in 4-bit QLoRA
    assert not lora.fits and qlora.fits
    assert not _ft("qwen3-32b", "rtx4090", "lora").fits and _ft("qwen3-0.6b", "rtx4090", "lora").fits
    assert _ft("qwen3-32b", "h100", "qlora").fits
    # checkpointing trades compute for memory
    off = _ft("qwen3-8b", "h100", "lora", checkpointing=False)
    on = _ft("qwen3-8b", "h100", "lora", checkpointing=True)
    assert off.memory_bytes > on.memory_bytes and off.seconds < on.seconds


def test_tokens_per_line_measured_on_the_dataset(tmp_path):
    f = tmp_path / "train.jsonl"
    examples = [[{"role": "user", "content": f"Вопрос номер {i} о мышлении?"},
                 {"role": "assistant", "content": "Ответ: " + "смысл " * (i + 1)}] for i in range(10)]
    f.write_text("\n".join(json.dumps({"messages": m}, ensure_ascii=False) for m in examples), encoding="utf-8")
    tc = measure_dataset(f, NAMED["qwen3-8b"])
    want = [sum(count_tokens(m["content"]) + 5 for m in ex) for ex in examples]
    assert tc.lines == 10 and tc.tokens_per_line == pytest.approx(sum(want) / 10)
    target = sum(count_tokens(ex[1]["content"]) + 1 for ex in examples)
    assert tc.labelled_share(10_000) == pytest.approx(target / sum(want))
    assert tc.per_line(8) == 8  # truncated at the sequence length


# ---- the command ----------------------------------------------------------------------------------------------

def test_cli_table_prints_assumptions_beside_figures(tf):
    r = tf("estimate", "--model", "qwen3-8b", "--gpu", "rx7900xt,h100", "--lines", "100k,3M")
    assert r.exit_code == 0, r.output
    assert r.output.count("qwen3-8b") >= 1 and "MFU 0.15" in r.output and "NF4" in r.output
    rows = [ln for ln in r.output.splitlines() if ln.startswith(("100k", "3M"))]
    assert len(rows) == 8  # 2 sizes × 2 methods × 2 GPUs
    j = json.loads(tf("estimate", "--model", "qwen3-0.6b", "--method", "qlora", "--lines", "1M", "--json").output)
    assert [e["lines"] for e in j["estimates"]] == [1_000_000] and j["estimates"][0]["fits"] is True


def test_cli_dataset_gives_the_lines_and_measures_the_tokens(tf, workspace):
    folder = workspace / "datasets" / "mini"
    folder.mkdir(parents=True)
    ex = [{"role": "user", "content": "Что такое ось?"}, {"role": "assistant", "content": "Ось — это напряжение."}]
    (folder / "train.jsonl").write_text("\n".join(json.dumps({"messages": ex}, ensure_ascii=False)
                                                 for _ in range(7)), encoding="utf-8")
    j = json.loads(tf("estimate", "--dataset", "mini", "--model", "qwen3-0.6b", "--method", "lora", "--json").output)
    want = sum(count_tokens(m["content"]) + 5 for m in ex)
    assert [e["lines"] for e in j["estimates"]] == [7] and j["estimates"][0]["tokens"] == 7 * want
    r = tf("estimate", "--dataset", "mini", "--model", "qwen3-0.6b", "--method", "lora")
    assert "measured: mean of 7 of 7 examples" in r.output


def test_cli_pretrain_with_a_sample(tf, tmp_path):
    sample = tmp_path / "s.txt"
    sample.write_text("Гиперфраза сжимает смысл сцены в цепочку понятий. " * 40, encoding="utf-8")
    r = tf("estimate", "--pretrain", "--corpus", "1TB", "--sample", sample, "--model", "70b", "--gpu", "h100",
           "--gpus", "1024", "--mfu", "0.4", "--parallel", "tp8-pp4")
    assert r.exit_code == 0, r.output
    ratio = count_tokens(sample.read_text()) / len(sample.read_bytes())
    assert f"{ratio:.4f}" in r.output and "1.4T" in r.output and "Chinchilla" in r.output
    assert "what the arithmetic supports" in r.output
    j = json.loads(tf("estimate", "--pretrain", "--tokens", "2T", "--model", "200b", "--gpus", "2048",
                      "--json").output)
    assert j["flops_corpus"] == pytest.approx(6 * 200e9 * 2e12)


def test_pretrain_measures_the_workspace_hyperphrases_else_its_cleaned_text(tf, cleaned):
    r = tf("estimate", "--pretrain", "--corpus", "1TB", ws=cleaned)
    assert r.exit_code == 0, r.output
    assert "the cleaned corpus in" in r.output
    hyper = cleaned / "hyper"
    hyper.mkdir()
    row = {"messages": [], "meta": {"view": "hyper-encode", "hyperphrase": "ось·инверсия·сцена " * 30}}
    (hyper / "hypertrain.jsonl").write_text(json.dumps(row, ensure_ascii=False), encoding="utf-8")
    r = tf("estimate", "--pretrain", "--corpus", "1TB", "--json", ws=cleaned)
    want = count_tokens(row["meta"]["hyperphrase"]) / len(row["meta"]["hyperphrase"].encode())
    assert json.loads(r.output)["tokens_per_byte"] == pytest.approx(want)


@pytest.mark.parametrize("args", [
    ["--model", "qwen3-9b"],
    ["--lines", "lots"],
    ["--gpu", "tpu-v5"],
    ["--method", "dora"],
    ["--gpu", "this"],  # never calibrated in this workspace
    ["--dataset", "nope"],
    ["--corpus", "1TB"],  # a --pretrain option
    ["--pretrain"],  # no corpus size
    ["--pretrain", "--corpus", "1XB", "--sample", "."],
    ["--pretrain", "--tokens", "1T", "--mfu", "2"],
    ["--pretrain", "--tokens", "1T", "--gpus", "1000", "--parallel", "tp3-pp2"],
    ["--pretrain", "--tokens", "1T", "--parallel", "zero9"],
    ["--pretrain", "--tokens", "1T", "--gpu", "h100,a100"],
])
def test_bad_input_is_one_error_line(tf, args):
    r = tf("estimate", *args)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output


def test_library_raises_typed_errors():
    with pytest.raises(ConfigError):
        shape("0.001")
    with pytest.raises(ConfigError):
        estimate_pretrain(model="70b", corpus_tokens=None)
