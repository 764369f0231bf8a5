"""The dataset card (README.md): YAML front matter the Hugging Face Hub reads, then what the data is, how it
was split, its stats and how to load it in the usual fine-tuning tools."""

from __future__ import annotations

import yaml


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def render(name: str, stats: dict, languages: list[str], system_prompt: str | None, val_fraction: float,
           formats: list[str], signature: str) -> str:
    has_val = stats["splits"]["val"]["examples"] > 0
    front = {
        "pretty_name": f"twinforge dataset {name}",
        "language": languages or ["multilingual"],
        "task_categories": ["text-generation"],
        "tags": ["twinforge", "sft", "conversational"],
        "size_categories": [_size_category(stats["total"]["examples"])],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "train.jsonl"}]
                     + ([{"split": "validation", "path": "val.jsonl"}] if has_val else [])}],
    }
    s, t = stats["splits"], stats["total"]
    rows = "\n".join(
        f"| {label} | {b['examples']:,} | {b['conversations']:,} | {b['tokens']:,} | {b['assistant_tokens']:,} | "
        f"{b['pages']:,} | {b['lines']:,} |"
        for label, b in (("train", s["train"]), ("validation", s["val"]), ("total", t)))
    views = "\n".join(f"| {v} | {b['examples']:,} | {b['tokens']:,} | {b['pages']:,} |"
                      for v, b in stats["views"].items())
    L = stats["lengths"]
    sp = (f"Every example starts with this system message ({len(system_prompt):,} characters):\n\n"
          + "\n".join(f"> {line}" for line in system_prompt.splitlines()) if system_prompt else
          "No system message.")
    files = ["- `train.jsonl`, `val.jsonl`: OpenAI-style chat messages (TRL `SFTTrainer`, axolotl "
             "`type: chat_template`, Unsloth)."]
    if "sharegpt" in formats:
        files.append('- `sharegpt/`: `{"conversations": [{"from", "value"}]}`, with `dataset_info.json` for '
                     "LLaMA-Factory (copy the folder's files into its `data/`).")
    if "alpaca" in formats:
        files.append('- `alpaca/`: `{"instruction", "input", "output", "system", "history"}`, with '
                     "`dataset_info.json` for LLaMA-Factory.")
    if "hf" in formats:
        files.append('- `hf/`: `datasets.load_from_disk("hf")` gives a `DatasetDict` (train'
                     + (", validation" if has_val else "") + ").")
    files = "\n".join(files)
    return f"""---
{yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip()}
---

# {name}

Supervised fine-tuning data made by `twinforge dataset` from the training examples `twinforge expand` made
out of one person's thinking modules. It is **personal data**: keep it private unless its owner decides
otherwise.

Each line of `train.jsonl` / `val.jsonl` is `{{"messages": [{{"role", "content"}}...], "meta": {{"example_id",
"module_id", "conversation_id", "view"}}}}`: `meta` traces every example to its module and source conversation.

## Split

By conversation: every example of a conversation is on the same side, chosen by a hash of the conversation id,
so no validation text is ever trained on, and a conversation keeps its side as the archive grows. Asked for:
{val_fraction:.0%} of conversations in validation.

{sp}

## Stats

Tokens in the `{stats['tokenizer']}` tokenizer (message contents, without chat-template tokens); assistant tokens
are what an assistant-only loss trains on. 1 A4 page = 1,800 characters. Lines are non-empty text lines in the
messages (the JSONL has one line per example).

| split | examples | conversations | tokens | assistant tokens | A4 pages | lines |
|---|---:|---:|---:|---:|---:|---:|
{rows}

Tokens per example: min {L['min']:,}, median {L['p50']:,}, p90 {L['p90']:,}, p99 {L['p99']:,}, max {L['max']:,}
(histogram: `lengths.png`).

| view | examples | tokens | A4 pages |
|---|---:|---:|---:|
{views}

## Files and how to load them

{files}
- `stats.json`: the figures above; `lengths.png`: the length histogram.

Built from inputs with signature `{signature[:16]}`: the same examples and settings rebuild the same bytes.
"""
