"""Alpaca export: `{"instruction", "input", "output", "system", "history"}` per line.

The last user turn is the instruction and the last assistant turn the output; earlier turns of a multi-turn
example go to `history` as [user, assistant] pairs (LLaMA-Factory's alpaca `history` column; loaders that
know only instruction/input/output, like axolotl's `alpaca` type, see the last exchange).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from . import jsonl


def row(example: dict) -> dict:
    msgs = example["messages"]
    system = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
    turns = [m for m in msgs if m["role"] != "system"]
    history = [[turns[i]["content"], turns[i + 1]["content"]] for i in range(0, len(turns) - 2, 2)]
    return {"instruction": turns[-2]["content"], "input": "", "output": turns[-1]["content"], "system": system,
            "history": history}


def export(folder: Path, splits: dict[str, list[dict]], name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, examples in splits.items():
        jsonl.write(folder / f"{split}.jsonl", map(row, examples))
    info = {f"{name}_{split}": {
        "file_name": f"{split}.jsonl", "formatting": "alpaca",
        "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system",
                    "history": "history"},
    } for split in splits}
    (folder / "dataset_info.json").write_bytes(orjson.dumps(info, option=orjson.OPT_INDENT_2) + b"\n")
