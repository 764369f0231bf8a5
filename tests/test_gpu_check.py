"""bench/gpu_check.py (`make gpu-check`) in CPU mode, as it runs on a machine without a GPU: real CPU steps, the
estimate's prediction, one generation with the adapter, one table, and a plain `skipped:` line for each GPU part.
The GPU-side prediction arithmetic is checked against `estimate_finetune` without a GPU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_cpu_mode_runs_the_cpu_parts_and_says_what_it_skipped(tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "gpu-check.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, str(SCRIPT), "--cpu", "--base", "embedded", "--steps", "2", "--max-len", "64",
                        "--batch-size", "1", "--gen-tokens", "4", "--repeat", "1", "--json", str(out)],
                       capture_output=True, text=True, env=env, timeout=900, check=False)
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert sum(1 for ln in lines if ln.startswith("|--")) == 1, "one table"
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in lines
            if ln.startswith("| ") and not ln.startswith("| run ")}
    assert set(rows) == {"LoRA fp32 (CPU)", "generate (LoRA attached)"}, p.stdout
    train = rows["LoRA fp32 (CPU)"]
    assert train[0] == "cpu" and train[1] == "2"
    assert float(train[3].replace(",", "")) > 0, "measured tokens/s"
    assert train[4] == "-", "no CPU throughput profile: no predicted tokens/s, and none made up"
    assert train[6].endswith("GB") and train[7].endswith("GB") and float(train[8]) > 0, "memory vs the estimate"
    assert int(rows["generate (LoRA attached)"][2]) == 4
    assert "skipped: bf16 LoRA steps on a GPU (--cpu given)" in lines
    assert any(ln.startswith("skipped: 4-bit QLoRA steps") and "bitsandbytes" in ln for ln in lines)
    assert any(ln.startswith("skipped: the estimate's tokens/s") and "--calibrate" in ln for ln in lines)
    assert not any(ln.startswith("failed:") for ln in lines)

    data = json.loads(out.read_text())
    assert [r["run"] for r in data["rows"]] == ["LoRA fp32 (CPU)", "generate (LoRA attached)"]
    lora = data["rows"][0]
    assert lora["tokens"] > 0 and lora["mem"] > 0 and lora["mem_pred"] > 0
    assert data["info"]["estimate_shape"]["layers"] == 18  # read from the base's config.json


def test_gpu_prediction_is_the_estimates_own(monkeypatch):
    """The GPU rows' predicted tokens/s and memory are estimate_finetune's figures for the same run (minus its
    runtime allowance, which max_memory_allocated does not see)."""
    from twinforge.estimate.finetune import estimate_finetune, profile_throughput
    from twinforge.estimate.gpus import profile
    from twinforge.estimate.measure import TokenCount
    from twinforge.estimate.shapes import NAMED

    gc = _module()

    class Gpu:
        is_gpu = True

    class Args:
        max_len, batch_size = 1024, 4

    sizes = [(300, 200), (500, 260), (120, 80)]
    shape = NAMED["qwen3-0.6b"]
    for method in ("lora", "qlora"):
        tps, mem = gc.predicted(shape, sizes, Args, method, Gpu, profile("h100"))
        est = estimate_finetune(shape, lines=3, tokens=TokenCount(920 / 3, "", 3, tuple(sizes)),
                                hw=profile_throughput(profile("h100")), method=method, seq_len=1024,
                                checkpointing=True, rank=gc.RANK, targets="attn", batch_rows=4)
        assert tps == pytest.approx(est.tokens / est.seconds)
        assert mem == pytest.approx(est.memory_bytes - 1e9)
    no_profile = gc.predicted(shape, sizes, Args, "qlora", Gpu, None)  # mem: the qlora figure above
    assert no_profile == (None, pytest.approx(mem)), "a GPU without a profile: the same memory, no tokens/s"
    q_tps, q_mem = gc.predicted(shape, sizes, Args, "qlora", Gpu, profile("h100"))
    l_tps, l_mem = gc.predicted(shape, sizes, Args, "lora", Gpu, profile("h100"))
    assert q_tps < l_tps and q_mem < l_mem


def test_table_ratios_and_missing_values():
    gc = _module()
    row = gc.Row("LoRA bf16", "cuda", 40, 163_840, 20_000, 25_000, 3e9, 2.5e9)
    cells = row.cells()
    assert cells[6] == "0.80" and cells[9] == "1.20" and cells[3] == "163,840"
    empty = gc.Row("x", "cpu").cells()
    assert empty[4:10] == ["-"] * 6
    text = gc.table([row])
    assert text.count("\n") == 2 and text.splitlines()[1].startswith("|--")
