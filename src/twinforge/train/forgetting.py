"""The forgetting gate of a chain: after each batch, a short measurement of the chain before and after it.

Figures (perplexity: lower is better; coverage: higher is better), each a key of a flat dict:
- `heldout`: perplexity on the person's held-out examples (val.jsonl, assistant tokens, as training scores them);
- `control`: perplexity on general text (models/control.yaml, the set eval reports as control);
- `batch:<id>`: perplexity on a sample of that batch's own examples — did a later batch undo an earlier one?
- `coverage:<id>`: concept coverage of greedy answers to concept probes of that batch's distilled modules
  (only batches whose examples name modules with concepts; answers are generated, so few and short on CPU).

A batch is flagged when it raises control or an earlier batch's perplexity by more than `tolerance` (relative), or
drops an earlier batch's coverage by more than `tolerance` (absolute). What it gained — held-out and its own
batch's perplexity — is reported, not gated: the gate guards against cost, the table shows both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..distill.schema import Module
from ..expand.templates import load as load_templates
from ..expand.templates import pick
from ..models.perplexity import control_texts, perplexity
from ..models.stack import attach, expand_layers, load_base_model
from ..text.stemming import stems
from .sft import eval_loss

ANSWER_TOKENS = 40  # per concept probe: enough for a concept to be named, cheap on CPU


@dataclass
class Probe:
    messages: list[dict]
    concepts: list[str]


@dataclass
class GateSets:
    """What the gate measures: fixed for a chain, batches added as the chain reaches them."""

    heldout: list[dict] = field(default_factory=list)
    control: list[str] = field(default_factory=lambda: list(control_texts()))
    batches: dict[str, list[dict]] = field(default_factory=dict)  # batch id → a sample of its own examples
    probes: dict[str, list[Probe]] = field(default_factory=dict)  # batch id → concept probes of its modules


def every(items: list, limit: int) -> list:
    """An evenly spaced, deterministic sample."""
    if len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def batch_probes(store, examples: list[dict], limit: int) -> list[Probe]:
    """A concept question per distilled module the batch's examples come from (worded as eval words it)."""
    wanted = {str((e.get("meta") or {}).get("module_id")) for e in examples} - {"None"}
    if not limit or not wanted:
        return []
    out = []
    for row in store.module_records():
        if row.id not in wanted:
            continue
        m = Module.model_validate(row.data)
        if not m.concepts:
            continue
        concept = m.concepts[pick(0, m.id, "eval-concept") % len(m.concepts)]
        ask = load_templates(m.language).ask("concept", "ask", pick(1, m.id), concept=concept, title=m.title)
        out.append(Probe([{"role": "user", "content": ask}], list(m.concepts)))
    return every(out, limit)


class Meter:
    """Measures chain states (None = the bare base, else the top adapter's folder), once per state and figure."""

    def __init__(self, base: str | None, sets: GateSets, max_len: int, batch_size: int, device: str | None = None):
        self.base, self.sets, self.max_len, self.batch_size, self.device = base, sets, max_len, batch_size, device
        self.known: dict[str | None, dict[str, float | None]] = {}
        self._base = None  # (model, tokenizer), loaded once: each state's adapters go on and come off again

    def keys(self, batch_ids: list[str]) -> list[str]:
        return ["heldout", "control", *(f"batch:{b}" for b in batch_ids),
                *(f"coverage:{b}" for b in batch_ids if self.sets.probes.get(b))]

    def figures(self, state: Path | None, keys: list[str]) -> dict[str, float | None]:
        key = str(state) if state else None
        have = self.known.setdefault(key, {})
        missing = [k for k in keys if k not in have]
        if missing:
            if self._base is None:
                self._base = load_base_model(self.base, device=self.device)
            model, tokenizer = self._base
            if state is not None:  # its frozen parents (stack mode) come underneath automatically
                model = attach(model, expand_layers([(state, 1.0)]))
            model.eval()
            try:
                for k in missing:
                    have[k] = self._measure(model, tokenizer, k)
            finally:
                if state is not None:
                    self._base = (model.unload(), tokenizer)  # the LoRA layers out, the base as it was
        return {k: have[k] for k in keys}

    def _measure(self, model, tokenizer, key: str) -> float | None:
        kind, _, batch = key.partition(":")
        if kind == "control":
            return perplexity(model, tokenizer, [("", t) for t in self.sets.control], self.max_len)
        if kind == "coverage":
            return _coverage(model, tokenizer, self.sets.probes.get(batch) or [])
        examples = self.sets.heldout if kind == "heldout" else self.sets.batches.get(batch) or []
        return math.exp(eval_loss(model, tokenizer, examples, self.max_len, self.batch_size)) if examples else None


def _coverage(model, tokenizer, probes: list[Probe]) -> float | None:
    import torch

    scores = []
    for p in probes:
        ids = tokenizer.apply_chat_template(p.messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)["input_ids"].to(next(model.parameters()).device)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, max_new_tokens=ANSWER_TOKENS, do_sample=False)
        got = set(stems(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)))
        # a concept counts as covered when half its stems appear (eval's coverage metric, over text.stemming)
        hits = [sum(s in got for s in need) * 2 >= len(need) for c in p.concepts if (need := set(stems(c)))]
        if hits:
            scores.append(sum(hits) / len(hits))
    return sum(scores) / len(scores) if scores else None


def judge(before: dict, after: dict, batch_id: str, tolerance: float) -> list[str]:
    """What the batch made worse beyond tolerance: control, and every earlier batch (perplexity, coverage)."""
    problems = []
    for key, now in after.items():
        was = before.get(key)
        if now is None or was is None or key in ("heldout", f"batch:{batch_id}", f"coverage:{batch_id}"):
            continue
        name = "control text" if key == "control" else f"earlier batch {key.partition(':')[2]}"
        if key.startswith("coverage:"):
            if was - now > tolerance:
                problems.append(f"{name}: concept coverage {was:.2f} → {now:.2f}")
        elif now > was * (1 + tolerance):
            problems.append(f"{name}: perplexity {was:.2f} → {now:.2f} (+{now / was - 1:.0%})")
    return problems


def change(before: float | None, after: float | None) -> str:
    """'12.3 → 10.1 (−18%)' for the table."""
    if before is None or after is None:
        return "–"
    return f"{before:.1f} → {after:.1f} ({after / before - 1:+.0%})"
