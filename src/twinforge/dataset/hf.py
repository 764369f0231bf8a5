"""A Hugging Face `datasets` folder (`DatasetDict.save_to_disk`): load it with `datasets.load_from_disk`.

Splits `train` and `validation` (the latter only when it has examples: `datasets` cannot save an empty split),
columns `messages` (list of {role, content}) and the example's trace: example_id, module_id, conversation_id,
view. Same rows give the same bytes, so an unchanged dataset hashes the same.
"""

from __future__ import annotations

from pathlib import Path

SPLITS = {"train": "train", "val": "validation"}
TRACE = ("example_id", "module_id", "conversation_id", "view")


def _features():
    from datasets import Features, Value

    return Features({"messages": [{"role": Value("string"), "content": Value("string")}],
                     **{k: Value("string") for k in TRACE}})


def export(folder: Path, splits: dict[str, list[dict]], progress: bool = False) -> None:
    import datasets

    features = _features()
    parts = {}
    for split, examples in splits.items():
        if not examples:
            continue
        columns = {"messages": [e["messages"] for e in examples],
                   **{k: [e["meta"][k] for e in examples] for k in TRACE}}
        parts[SPLITS[split]] = datasets.Dataset.from_dict(columns, features=features)
    was_enabled = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        datasets.DatasetDict(parts).save_to_disk(str(folder))
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
