"""Dataset stats, computed from the written JSONL: examples, tokens in the target tokenizer, A4 pages, lines,
length percentiles, and a histogram of example lengths (lengths.png)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from ..records import PAGE_CHARS


@dataclass
class Tokenizer:
    name: str
    count_batch: Callable[[list[str]], list[int]]


def tokenizer(path: str | None) -> Tokenizer:
    """The Qwen tokenizer of twinforge.text.tokens, or a Hugging Face tokenizer folder."""
    if not path:
        from ..text.tokens import count_tokens_batch

        return Tokenizer("qwen2.5", lambda texts: count_tokens_batch(texts, threads=1) if texts else [])
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"tokenizer {path} is not a folder", "give a Hugging Face model or tokenizer folder")
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as e:  # transformers raises many kinds for a folder it cannot read
        raise ConfigError(f"cannot load a tokenizer from {folder}: {str(e).splitlines()[0][:200]}",
                          "give a folder with tokenizer.json or tokenizer_config.json") from e

    def count(texts: list[str]) -> list[int]:
        return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]] if texts else []

    return Tokenizer(folder.name, count)


def percentile(values: list[int], q: float) -> int:
    """Nearest-rank percentile of sorted values (0 for none)."""
    if not values:
        return 0
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


def _lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def compute(splits: dict[str, list[dict]], tok: Tokenizer) -> tuple[dict, dict[str, list[int]]]:
    """Stats of the examples as written, and each split's example lengths in tokens (for the histogram)."""
    contents = [m["content"] for rows in splits.values() for e in rows for m in e["messages"]]
    counts = iter(tok.count_batch(contents))
    lengths: dict[str, list[int]] = {}
    blocks: dict[str, dict] = {}
    views: dict[str, Counter] = {}
    for split, rows in splits.items():
        b = Counter()
        lengths[split] = []
        for e in rows:
            n_example = 0
            for m in e["messages"]:
                n = next(counts)
                n_example += n
                b["chars"] += len(m["content"])
                b["lines"] += _lines(m["content"])
                if m["role"] == "assistant":
                    b["assistant_tokens"] += n  # what an assistant-only loss trains on
            b["tokens"] += n_example
            lengths[split].append(n_example)
            v = views.setdefault(e["meta"]["view"], Counter())
            v["examples"] += 1
            v["tokens"] += n_example
            v["chars"] += sum(len(m["content"]) for m in e["messages"])
            v["lines"] += sum(_lines(m["content"]) for m in e["messages"])
        blocks[split] = _block(len(rows), b, rows)
    every = [e for rows in splits.values() for e in rows]
    total = Counter()
    for b in blocks.values():
        total.update({k: b[k] for k in ("chars", "lines", "tokens", "assistant_tokens")})
    all_lengths = sorted(n for ls in lengths.values() for n in ls)
    stats = {
        "tokenizer": tok.name,
        "splits": blocks,
        "total": _block(len(every), total, every),
        "views": {v: {"examples": c["examples"], "tokens": c["tokens"], "pages": round(c["chars"] / PAGE_CHARS, 2),
                      "lines": c["lines"]}
                  for v, c in sorted(views.items())},
        "lengths": {"min": all_lengths[0] if all_lengths else 0, "p50": percentile(all_lengths, 50),
                    "p90": percentile(all_lengths, 90), "p99": percentile(all_lengths, 99),
                    "max": all_lengths[-1] if all_lengths else 0},
    }
    return stats, lengths


def _block(n: int, c: Counter, rows: list[dict]) -> dict:
    return {"examples": n, "conversations": len({e["meta"]["conversation_id"] for e in rows}),
            "modules": len({e["meta"]["module_id"] for e in rows}), "tokens": c["tokens"],
            "assistant_tokens": c["assistant_tokens"], "chars": c["chars"], "pages": round(c["chars"] / PAGE_CHARS, 2),
            "lines": c["lines"]}


def histogram(path: Path, lengths: dict[str, list[int]], bins: int, title: str) -> None:
    """Example lengths in tokens, train and validation stacked; Agg backend, no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.add_subplot()
    data = [(split, ls) for split, ls in lengths.items() if ls]
    if data:
        ax.hist([ls for _, ls in data], bins=bins, stacked=True, label=[s for s, _ in data])
        ax.legend()
    ax.set_xlabel("tokens per example")
    ax.set_ylabel("examples")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
