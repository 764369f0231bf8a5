"""Perplexity of a model on (prompt, target) pairs: exp of the mean negative log-likelihood of the target tokens
given the prompt. Three sets use it (eval/texts.py builds them): the person's held-out turns (did it learn their
material and voice?), a sample of the training examples (the gap to held-out is overfitting), and a general-text
control in Russian and English (did it forget ordinary language?).

It lives with the models (not in eval) because two stages measure with it: eval, and train's forgetting gate
after each chained batch (train/forgetting.py). The control texts ship beside it (control.yaml)."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import yaml

CONTROL_FILE = Path(__file__).parent / "control.yaml"

Pair = tuple[str, str]  # (prompt, target); an empty prompt scores the whole text


def _ids(tokenizer, prompt: str, target: str, max_len: int) -> tuple[list[int], list[int]]:
    if prompt:
        # a chat template writes its own BOS
        p = tokenizer(prompt, add_special_tokens=not getattr(tokenizer, "chat_template", None))["input_ids"]
        t = tokenizer(target, add_special_tokens=False)["input_ids"]
    else:
        p, t = [], tokenizer(target, add_special_tokens=True)["input_ids"]
    # the target keeps at least half the window; a long prompt loses its start, not its end
    t = t[:max_len - min(len(p), max_len // 2)]
    p = p[len(p) - (max_len - len(t)):] if len(p) + len(t) > max_len else p
    return p, t


def nll(model, tokenizer, pairs: list[Pair], max_len: int = 256) -> tuple[float, int]:
    """(summed negative log-likelihood in nats, number of target tokens scored)."""
    import torch

    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.inference_mode():
        for prompt, target in pairs:
            p, t = _ids(tokenizer, prompt, target, max_len)
            ids = p + t
            if len(t) < 2 and not p:
                continue
            x = torch.tensor([ids], device=device)
            logits = model(input_ids=x).logits[0, :-1].float()
            labels = x[0, 1:]
            first = max(len(p) - 1, 0)  # the position whose next token is the target's first
            lp = torch.log_softmax(logits[first:], dim=-1).gather(1, labels[first:, None])[:, 0]
            total -= float(lp.sum())
            count += int(lp.numel())
    return total, count


def perplexity(model, tokenizer, pairs: list[Pair], max_len: int = 256) -> float | None:
    total, count = nll(model, tokenizer, pairs, max_len)
    return math.exp(total / count) if count else None


@cache
def control_texts() -> tuple[str, ...]:
    """The general-text control set: English, then Russian paragraphs (control.yaml)."""
    data = yaml.safe_load(CONTROL_FILE.read_text(encoding="utf-8"))
    return tuple(t.strip() for lang in ("en", "ru") for t in data[lang])
