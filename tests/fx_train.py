"""Fixtures of the train tests (a pytest plugin loaded by conftest.py).

Shared by the eval/adapters/hyper tests too: `train_workspace` (a workspace with a small dataset) and
`tiny_adapter` (an adapter trained there for a few steps on the embedded Gemma 3 270M base, registered).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

# short rows and few steps: the embedded 270M model takes ~1-3 s a step on a 2-core CPU
TINY = {"max_len": 96, "batch_size": 2, "max_steps": 4, "lr": 1e-3, "save_steps": 2}


def sample_examples(db_path: Path, max_chars: int = 220) -> list[dict]:
    """User → assistant pairs from the cleaned sample archive, in the dataset stage's JSONL shape
    (module_id = the conversation, as one module per conversation)."""
    db = sqlite3.connect(db_path)
    try:
        rows = db.execute(
            "SELECT m.conversation_id, m.role, c.text, m.id FROM messages m"
            " JOIN clean_messages c ON c.message_id = m.id"
            " WHERE c.keep = 1 AND m.canonical = 1 AND m.role IN ('user', 'assistant') AND c.text != ''"
            " ORDER BY m.conversation_id, m.position").fetchall()
    finally:
        db.close()
    out = []
    for (conv, role, text, mid), (conv2, role2, text2, _) in zip(rows, rows[1:]):
        if conv == conv2 and role == "user" and role2 == "assistant":
            out.append({"messages": [{"role": "user", "content": text[:max_chars]},
                                     {"role": "assistant", "content": text2[:max_chars]}],
                        "meta": {"example_id": mid, "module_id": conv, "conversation_id": conv, "view": "qa"}})
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def train_examples(cleaned_sample_db) -> list[dict]:
    ex = sample_examples(cleaned_sample_db)
    assert len(ex) >= 10, "the sample archive should give at least 10 user→assistant pairs"
    return ex


@pytest.fixture(scope="session")
def train_workspace(tmp_path_factory, cleaned_sample_db, train_examples) -> Path:
    """A workspace with the cleaned sample store and datasets/default/{train,val}.jsonl (val: 2 conversations)."""
    ws = tmp_path_factory.mktemp("train") / "ws"
    ws.mkdir(parents=True)
    shutil.copy(cleaned_sample_db, ws / "twin.db")
    convs = sorted({e["meta"]["conversation_id"] for e in train_examples})
    held = set(convs[:2])
    write_jsonl(ws / "datasets" / "default" / "train.jsonl",
                [e for e in train_examples if e["meta"]["conversation_id"] not in held])
    write_jsonl(ws / "datasets" / "default" / "val.jsonl",
                [e for e in train_examples if e["meta"]["conversation_id"] in held])
    return ws


@pytest.fixture(scope="session")
def tiny_adapter(train_workspace) -> Path:
    """An adapter folder (PEFT files + twinforge.json + loss.png) trained 4 steps on the embedded base in
    `train_workspace`, registered as id 'tiny'."""
    from twinforge.adapters import registry
    from twinforge.store import Store
    from twinforge.train.sft import TrainArgs, train_adapter

    ds = train_workspace / "datasets" / "default"
    out = train_workspace / "adapters" / "tiny"
    train_adapter(TrainArgs(base=None, train_file=ds / "train.jsonl", val_file=ds / "val.jsonl", out_dir=out,
                            dataset="default", name="tiny", **TINY))
    with Store(train_workspace) as store:
        registry.register(store, out)
    return out
