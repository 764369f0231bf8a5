"""The dataset stage on the sample archive: JSONL form, no leakage, exporters, HF folder, stats from the files,
idempotent re-runs, system prompts, config errors, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from twinforge.dataset import jsonl
from twinforge.dataset.build import build_dataset, content_hash
from twinforge.dataset.config import DatasetConfig
from twinforge.errors import ConfigError, TwinforgeError
from twinforge.records import PAGE_CHARS
from twinforge.store import Store, Workspace
from twinforge.text.tokens import count_tokens


@pytest.fixture
def ws(sample_dataset, tmp_path) -> Path:
    """A private copy of the sample dataset workspace."""
    dst = tmp_path / "ws"
    shutil.copytree(sample_dataset, dst)
    return dst


def folder(ws: Path, name: str = "default") -> Path:
    return ws / "datasets" / name


def lines(path: Path) -> list[dict]:
    return list(jsonl.read(path))


def test_jsonl_form_and_trace(sample_dataset):
    d = folder(sample_dataset)
    rows = lines(d / "train.jsonl") + lines(d / "val.jsonl")
    assert rows
    with Store(sample_dataset) as store:
        examples = {r["id"]: r for r in store.db.execute(
            "SELECT e.id, e.module_id, e.view, e.messages, m.conversation_id FROM examples e"
            " JOIN modules m ON m.id = e.module_id")}
    for r in rows:
        assert set(r) == {"messages", "meta"}
        assert set(r["meta"]) == {"example_id", "module_id", "conversation_id", "view"}
        roles = [m["role"] for m in r["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2)  # no system prompt configured
        src = examples[r["meta"]["example_id"]]
        assert (src["module_id"], src["view"], src["conversation_id"]) == (
            r["meta"]["module_id"], r["meta"]["view"], r["meta"]["conversation_id"])
        assert r["messages"] == json.loads(src["messages"])
    assert len({json.dumps(r["messages"]) for r in rows}) == len(rows)  # no exact duplicates


def test_split_by_conversation_no_leakage(sample_dataset):
    d = folder(sample_dataset)
    train = {r["meta"]["conversation_id"] for r in lines(d / "train.jsonl")}
    val = {r["meta"]["conversation_id"] for r in lines(d / "val.jsonl")}
    assert train and val and not train & val
    # and no validation text appears in training
    train_texts = {m["content"] for r in lines(d / "train.jsonl") for m in r["messages"] if m["role"] == "assistant"}
    assert not any(m["content"] in train_texts for r in lines(d / "val.jsonl") for m in r["messages"]
                   if m["role"] == "assistant" and len(m["content"]) > 200)


def test_exporters_shapes(sample_dataset):
    d = folder(sample_dataset)
    for split in ("train", "val"):
        src = lines(d / f"{split}.jsonl")
        share = lines(d / "sharegpt" / f"{split}.jsonl")
        alp = lines(d / "alpaca" / f"{split}.jsonl")
        assert len(src) == len(share) == len(alp)
        for s, g, a in zip(src, share, alp, strict=True):
            assert set(g) == {"conversations"}
            assert [(t["from"], t["value"]) for t in g["conversations"]] == [
                ({"user": "human", "assistant": "gpt"}[m["role"]], m["content"]) for m in s["messages"]]
            assert set(a) == {"instruction", "input", "output", "system", "history"}
            msgs = s["messages"]
            assert (a["instruction"], a["output"]) == (msgs[-2]["content"], msgs[-1]["content"])
            assert a["history"] == [[msgs[i]["content"], msgs[i + 1]["content"]] for i in range(0, len(msgs) - 2, 2)]
    for fmt, key in (("sharegpt", "conversations"), ("alpaca", "instruction")):
        info = json.loads((d / fmt / "dataset_info.json").read_text())
        assert {v["file_name"] for v in info.values()} == {"train.jsonl", "val.jsonl"}
        assert all(v["formatting"] == fmt for v in info.values())
    assert any(a["history"] for a in lines(d / "alpaca" / "train.jsonl"))  # the multi-turn views are there


def test_hf_folder_loads_with_datasets(sample_dataset):
    datasets = pytest.importorskip("datasets")
    d = folder(sample_dataset)
    dd = datasets.load_from_disk(str(d / "hf"))
    assert set(dd) == {"train", "validation"}
    train = lines(d / "train.jsonl")
    assert dd["train"].num_rows == len(train) and dd["validation"].num_rows == len(lines(d / "val.jsonl"))
    assert dd["train"][0]["messages"] == train[0]["messages"]
    assert dd["train"][0]["conversation_id"] == train[0]["meta"]["conversation_id"]
    assert (d / "README.md").read_text().startswith("---\n")


def test_stats_are_computed_from_the_files(sample_dataset):
    d = folder(sample_dataset)
    stats = json.loads((d / "stats.json").read_text())
    for split in ("train", "val"):
        rows = lines(d / f"{split}.jsonl")
        b = stats["splits"][split]
        contents = [m["content"] for r in rows for m in r["messages"]]
        assert b["examples"] == len(rows)
        assert b["chars"] == sum(map(len, contents))
        assert b["pages"] == round(b["chars"] / PAGE_CHARS, 2)
        assert b["tokens"] == sum(count_tokens(c) for c in contents)
        assert b["lines"] == sum(1 for c in contents for line in c.splitlines() if line.strip())
        assert b["conversations"] == len({r["meta"]["conversation_id"] for r in rows})
    t = stats["total"]
    assert t["examples"] == stats["splits"]["train"]["examples"] + stats["splits"]["val"]["examples"]
    assert sum(v["examples"] for v in stats["views"].values()) == t["examples"]
    assert stats["lengths"]["min"] <= stats["lengths"]["p50"] <= stats["lengths"]["max"]
    assert stats["hash"] == content_hash(d)
    png = (d / "lengths.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_rerun_is_idempotent_and_a_rebuild_writes_the_same_bytes(ws):
    d = folder(ws)
    before = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    with Store(ws) as store:
        again = build_dataset(store)
        assert again.unchanged and again.hash == content_hash(d)
        store.db.execute("DELETE FROM datasets")  # forget it was built: a real rebuild
        rebuilt = build_dataset(store)
    assert not rebuilt.unchanged and rebuilt.hash == again.hash
    after = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    assert after == before
    assert not list((ws / "datasets").glob(".*"))  # no temporary folders left


def test_changed_examples_rebuild(ws):
    with Store(ws) as store:
        first = build_dataset(store)
        store.db.execute("DELETE FROM examples WHERE view = 'concept'")
        second = build_dataset(store)
    assert not second.unchanged and second.hash != first.hash
    assert "concept" not in second.stats["views"]
    assert second.stats["total"]["examples"] < first.stats["total"]["examples"]


def test_system_prompt_first_and_counted(ws, tmp_path):
    prompt = tmp_path / "sys.txt"
    prompt.write_text("Ты — мой двойник.\n", encoding="utf-8")
    with Store(ws) as store:
        r = build_dataset(store, DatasetConfig(system_prompt_file=str(prompt)), name="sys")
    rows = lines(r.path / "train.jsonl")
    assert all(x["messages"][0] == {"role": "system", "content": "Ты — мой двойник."} for x in rows)
    assert all(x["conversations"][0] == {"from": "system", "value": "Ты — мой двойник."}
               for x in lines(r.path / "sharegpt" / "train.jsonl"))
    assert all(x["system"] == "Ты — мой двойник." for x in lines(r.path / "alpaca" / "train.jsonl"))
    assert r.stats["system_prompt_chars"] == len("Ты — мой двойник.")
    assert "Ты — мой двойник." in (r.path / "README.md").read_text()


def test_formats_views_and_fraction(ws):
    with Store(ws) as store:
        r = build_dataset(store, DatasetConfig(formats=["jsonl"], views=["qa", "dialog"], val_fraction=0.5),
                          name="small")
    assert not (r.path / "hf").exists() and not (r.path / "sharegpt").exists()
    rows = lines(r.path / "train.jsonl") + lines(r.path / "val.jsonl")
    assert {x["meta"]["view"] for x in rows} <= {"qa", "dialog"}
    assert r.val_examples > 0 and r.stats["val_fraction"] == 0.5
    assert Workspace(ws).dataset("small") == r.path


@pytest.mark.parametrize("cfg,message", [
    ({"views": ["poetry"]}, "unknown view"),
    ({"system_prompt_file": "/nonexistent/prompt.txt"}, "cannot read the system prompt file"),
    ({"tokenizer": "/nonexistent-folder"}, "is not a folder"),
])
def test_bad_config_is_a_clear_error(ws, cfg, message):
    with Store(ws) as store, pytest.raises(ConfigError, match=message):
        build_dataset(store, DatasetConfig(**cfg), name="bad")
    assert not (ws / "datasets" / "bad").exists()


def test_conflicting_system_prompt_sources_rejected():
    with pytest.raises(ValueError, match="one system prompt source"):
        DatasetConfig(system_prompt="x", use_persona=True)


def test_no_examples_says_run_expand(tmp_path):
    with Store(tmp_path / "ws") as store, pytest.raises(TwinforgeError, match="twinforge expand"):
        build_dataset(store)


def test_bad_name_rejected(ws):
    with Store(ws) as store, pytest.raises(ConfigError, match="folder name"):
        build_dataset(store, name="../escape")


# --- CLI -------------------------------------------------------------------------------------------------


def test_cli_table_and_json(ws, tf):
    r = tf("dataset", "--name", "cli", "--val-fraction", "0.3", "--format", "sharegpt", ws=ws)
    assert r.exit_code == 0, r.output
    assert "train" in r.output and "validation" in r.output and "tokens" in r.output
    d = folder(ws, "cli")
    assert (d / "sharegpt").is_dir() and not (d / "alpaca").exists() and not (d / "hf").exists()
    data = json.loads(tf("dataset", "--name", "cli", "--val-fraction", "0.3", "--format", "sharegpt", "--json",
                         ws=ws).output)
    assert data["unchanged"] is True and data["total"]["examples"] == len(lines(d / "train.jsonl")) + len(
        lines(d / "val.jsonl"))


@pytest.mark.parametrize("args,message", [
    (["--val-fraction", "1.5"], "val_fraction"),
    (["--system-prompt", "x", "--persona"], "one system prompt source"),
    (["--tokenizer", "/tmp"], "tokenizer"),
])
def test_cli_bad_options_give_one_error_line(ws, tf, args, message):
    r = tf("dataset", *args, ws=ws)
    assert r.exit_code == 1
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
    assert "Traceback" not in r.output


def test_recipe_stage(ws):
    from twinforge.dataset.stage import run_stage

    with Store(ws) as store:
        result = run_stage(store, DatasetConfig(val_fraction=0.2))  # the stage gets its own recipe section
    assert result.ok and result.stage == "dataset" and result.summary["train"] > 0
