"""ShareGPT export: `{"conversations": [{"from": "system"|"human"|"gpt", "value": ...}]}` per line.

The system prompt, when there is one, is the first turn with `from: system`: LLaMA-Factory takes a leading
system turn as the system prompt, axolotl's `chat_template` loader maps `system`/`human`/`gpt` to roles, and
Unsloth's `standardize_sharegpt` does the same. `dataset_info.json` registers the files for LLaMA-Factory.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from . import jsonl

ROLES = {"system": "system", "user": "human", "assistant": "gpt"}


def row(example: dict) -> dict:
    return {"conversations": [{"from": ROLES[m["role"]], "value": m["content"]} for m in example["messages"]]}


def export(folder: Path, splits: dict[str, list[dict]], name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, examples in splits.items():
        jsonl.write(folder / f"{split}.jsonl", map(row, examples))
    info = {f"{name}_{split}": {
        "file_name": f"{split}.jsonl", "formatting": "sharegpt",
        "columns": {"messages": "conversations"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                 "system_tag": "system"},
    } for split in splits}
    (folder / "dataset_info.json").write_bytes(orjson.dumps(info, option=orjson.OPT_INDENT_2) + b"\n")
