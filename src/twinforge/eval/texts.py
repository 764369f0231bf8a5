"""The texts perplexity and style are measured on, built once per run from the dataset and the store.

- heldout: the answers of the held-out validation examples, given their prompts;
- own: the person's own turns from those held-out conversations (as clean kept them), as plain text;
- train: a fixed sample of training examples (its gap to `heldout` is the overfitting evidence);
- control: general Russian and English prose shipped with twinforge (models/control.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models.perplexity import CONTROL_FILE, Pair, control_texts  # noqa: F401
from ..store import Store
from .probes import split_examples
from .render import example_texts

MIN_OWN_CHARS = 40  # shorter user turns ("да", "дальше") carry no voice


def _every(items: list, limit: int) -> list:
    """An evenly spaced, deterministic sample."""
    if len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


@dataclass
class Texts:
    heldout_examples: list[dict] = field(default_factory=list)
    train_examples: list[dict] = field(default_factory=list)
    own: list[str] = field(default_factory=list)  # the person's held-out turns
    person: list[str] = field(default_factory=list)  # the person's writing, for the style centroid
    train_answers: list[str] = field(default_factory=list)  # every training answer, for regurgitation
    train_prompts: list[str] = field(default_factory=list)

    def pairs(self, tokenizer, limit: int) -> dict[str, list[Pair]]:
        """Perplexity sets rendered with this tokenizer (prompt format = the model's)."""
        sets = {
            "heldout": [example_texts(tokenizer, e["messages"]) for e in _every(self.heldout_examples, limit)],
            "own": [("", t) for t in _every(self.own, limit)],
            "train": [example_texts(tokenizer, e["messages"]) for e in _every(self.train_examples, limit)],
            "control": [("", t) for t in control_texts()],
        }
        return {k: v for k, v in sets.items() if v}


def _usable(e: dict) -> bool:
    m = e.get("messages") or []
    return len(m) >= 2 and m[-1].get("role") == "assistant" and bool(m[-1].get("content", "").strip())


def load_texts(store: Store, dataset: str, person_limit: int = 400) -> Texts:
    train, held = split_examples(store, dataset)
    train = [e for e in train if _usable(e)]
    held = [e for e in held if _usable(e)]
    held_convs = sorted({(e.get("meta") or {}).get("conversation_id") for e in held} - {None})
    own, person = [], []
    for k in store.kept_messages(roles=("user",), canonical=False, dialog=False, min_chars=MIN_OWN_CHARS):
        (own if k.conversation_id in held_convs else person).append(k.text)
    if not person:  # no cleaned store: the person's side of the training examples
        person = [m["content"] for e in train for m in e["messages"] if m["role"] == "user"]
    return Texts(held, train, own, _every(person, person_limit),
                 [e["messages"][-1]["content"] for e in train],
                 [m["content"] for e in train for m in e["messages"][:-1]])
