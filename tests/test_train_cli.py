"""`twinforge train` and `twinforge adapters`: per-scene adapters, on-top-of, the registry, and bad inputs."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from fx_train import write_jsonl

pytest.importorskip("peft")

FAST = ["--max-steps", "1", "--max-len", "160", "--batch-size", "1"]


@pytest.fixture
def ws(train_workspace, tiny_adapter, tmp_path):
    """A private copy of the train workspace (with the session's `tiny` adapter in it)."""
    dst = tmp_path / "ws"
    shutil.copytree(train_workspace, dst)
    return dst


def _error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_per_scene_trains_one_adapter_per_module_and_skips_them_on_rerun(tf, ws, train_examples):
    picked = []
    for module in sorted({e["meta"]["module_id"] for e in train_examples})[:3]:
        picked += [e for e in train_examples if e["meta"]["module_id"] == module][:2]
    write_jsonl(ws / "datasets" / "scenes" / "train.jsonl", picked)
    r = tf("train", "--dataset", "scenes", "--per-scene", "--json", *FAST, ws=ws)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    modules = sorted({e["meta"]["module_id"] for e in picked})
    assert sorted(a["id"] for a in report["adapters"]) == sorted(f"scenes-scene-{m}" for m in modules)
    assert {a["status"] for a in report["adapters"]} == {"trained"}
    for m in modules:
        folder = ws / "adapters" / f"scenes-scene-{m}"
        meta = json.loads((folder / "twinforge.json").read_text())
        assert meta["kind"] == "scene" and meta["scene"] == m
        seen = [json.loads(x) for x in (folder / "train.jsonl").read_text().splitlines()]
        assert {e["meta"]["module_id"] for e in seen} == {m}, "each scene adapter sees only its module"
    listed = [json.loads(x) for x in tf("adapters", "--json", ws=ws).stdout.splitlines()]
    assert {a["id"] for a in listed} == {"tiny", *(f"scenes-scene-{m}" for m in modules)}
    again = json.loads(tf("train", "--dataset", "scenes", "--per-scene", "--json", *FAST, ws=ws).stdout)
    assert {a["status"] for a in again["adapters"]} == {"skipped"}


def test_batch_lines_splits_the_dataset(tf, ws, train_examples):
    write_jsonl(ws / "datasets" / "b" / "train.jsonl", train_examples[:3])
    r = tf("train", "--dataset", "b", "--batch-lines", "2", "--json", *FAST, ws=ws)
    assert r.exit_code == 0, r.output
    ids = [a["id"] for a in json.loads(r.stdout)["adapters"]]
    assert ids == ["b-batch-0001", "b-batch-0002"]
    assert len((ws / "adapters" / "b-batch-0002" / "train.jsonl").read_text().splitlines()) == 1


def test_on_top_of_records_the_parent_and_keeps_it_frozen(tf, ws):
    parent = ws / "adapters" / "tiny"
    before = hashlib.sha256((parent / "adapter_model.safetensors").read_bytes()).hexdigest()
    r = tf("train", "--on-top-of", "tiny", "--name", "child", *FAST, ws=ws)
    assert r.exit_code == 0, r.output
    meta = json.loads((ws / "adapters" / "child" / "twinforge.json").read_text())
    parent_meta = json.loads((parent / "twinforge.json").read_text())
    assert meta["parents"] == ["tiny"]
    # only the new adapter trains: as many trainable parameters as the parent (same r and targets) has
    assert meta["trainable_params"] == parent_meta["trainable_params"]
    assert hashlib.sha256((parent / "adapter_model.safetensors").read_bytes()).hexdigest() == before
    from safetensors.torch import load_file

    child_w = load_file(str(ws / "adapters" / "child" / "adapter_model.safetensors"))
    parent_w = load_file(str(parent / "adapter_model.safetensors"))
    assert child_w.keys() == parent_w.keys()
    assert all(not (child_w[k] == parent_w[k]).all() for k in child_w if "lora_A" in k), "the child is new weights"
    show = tf("adapters", "show", "child", ws=ws)
    assert "parents:     tiny" in show.output
    assert "frozen base of child" in _error_line(tf("adapters", "remove", "tiny", ws=ws))
    assert tf("adapters", "remove", "child", ws=ws).exit_code == 0
    assert not (ws / "adapters" / "child").exists()
    assert "child" not in tf("adapters", ws=ws).output


@pytest.mark.parametrize("case", ["no-dataset", "missing-base", "empty", "bad-line", "unknown-parent", "no-weights"])
def test_bad_inputs_give_one_error_line(tf, ws, case):
    args = [*FAST]
    ds = ws / "datasets" / "default" / "train.jsonl"
    if case == "no-dataset":
        args += ["--dataset", "nope"]
    elif case == "missing-base":
        args += ["--base", str(ws / "no-such-model")]
    elif case == "empty":
        ds.write_text("")
    elif case == "bad-line":
        ds.write_text(ds.read_text() + "{not json\n")
    elif case == "unknown-parent":
        args += ["--on-top-of", "ghost"]
    elif case == "no-weights":
        args += ["--base", "qwen3-14b-base"]
    line = _error_line(tf("train", *args, ws=ws))
    expected = {"no-dataset": "twinforge dataset", "missing-base": "not found", "empty": "empty",
                "bad-line": "not JSON", "unknown-parent": "no adapter 'ghost'", "no-weights": "Qwen/Qwen3-14B-Base"}
    assert expected[case] in line


def test_qlora_on_cpu_is_refused_with_a_reason(tf, ws):
    line = _error_line(tf("train", "--qlora", *FAST, ws=ws))
    assert "QLoRA needs a CUDA or ROCm GPU" in line
