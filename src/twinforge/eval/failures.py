"""The failure catalogue ("онтология ошибок"): ways a fine-tune quietly learns the wrong thing, each flagged with the
numbers and answers that show it, so a run that merely lowered a loss does not pass for success.

| kind | evidence |
|---|---|
| inactive | logits identical to the base's: the adapter is not there |
| no-visible-effect | logits moved but every greedy answer equals the base's |
| overfitting | held-out vs training perplexity gap grew past the base's by `overfit_gap` (in log space) |
| forgetting | control (general text) perplexity up by more than `forgetting_ratio` × the base's |
| format-collapse | answers looping (repeated 4-grams), or chat-template tokens leaking into answers |
| language-drift | answers in another language than the probe's, more often than the base and the threshold |
| regurgitation | answers copying a run of `regurgitation_ngram` words verbatim from train.jsonl |
| leakage | redaction placeholders (<SECRET:…>, <EMAIL>, <PHONE>, <CARD>) or live secrets in answers |
| judge-failed | the optional judge gave no verdict on some probes (a failed call, an unreadable answer) |
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from ..text import secrets
from .active import ActiveCheck
from .config import Thresholds
from .generate import GREEDY, Generation
from .metrics.answer import words
from .metrics.diversity import answer_repetition
from .metrics.language import answer_language
from .probes import Probe

KINDS = ("inactive", "no-visible-effect", "overfitting", "forgetting", "format-collapse", "language-drift",
         "regurgitation", "leakage", "judge-failed")

# chat-template and reasoning markers of the common model families; none belongs in a plain answer
TEMPLATE_TOKENS = ("<|im_start|>", "<|im_end|>", "<think>", "</think>", "<start_of_turn>", "<end_of_turn>",
                   "<|endoftext|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "[INST]", "[/INST]",
                   "<|assistant|>", "<|user|>", "<|system|>", "<|begin_of_text|>", "<｜Assistant｜>", "<｜User｜>")
PLACEHOLDER = re.compile(r"<SECRET:[a-z_-]+>|<EMAIL>|<PHONE>|<CARD>")
MAX_EXAMPLES = 3


@dataclass
class Failure:
    kind: str
    model: str
    evidence: str
    examples: list[dict] = field(default_factory=list)  # {probe_id, mode, snippet}

    def as_dict(self) -> dict:
        return asdict(self)


def _snippet(text: str, at: int = 0, width: int = 160) -> str:
    start = max(0, at - width // 3)
    s = text[start:start + width].replace("\n", " ")
    return ("…" if start else "") + s + ("…" if start + width < len(text) else "")


def _example(g: Generation, text: str, at: int = 0) -> dict:
    return {"probe_id": g.probe_id, "mode": g.mode, "snippet": _snippet(text, at)}


def _gap(m: dict) -> float | None:
    if m.get("ppl_heldout") and m.get("ppl_train"):
        return math.log(m["ppl_heldout"]) - math.log(m["ppl_train"])
    return None


def leaks(text: str) -> list[tuple[int, str]]:
    return [(text.find(t), t) for t in TEMPLATE_TOKENS if t in text]


class Regurgitation:
    """Word n-grams of the training answers; an answer that shares one (not already in its prompt) copies them."""

    def __init__(self, train_texts: list[str], n: int):
        self.n = n
        self.grams = {tuple(ws[i:i + n]) for t in train_texts for ws in [words(t)] for i in range(len(ws) - n + 1)}

    def copied(self, answer: str, prompt: str) -> tuple[str, ...] | None:
        ws = words(answer)
        if len(ws) < self.n or not self.grams:
            return None
        pw = words(prompt)
        in_prompt = {tuple(pw[i:i + self.n]) for i in range(len(pw) - self.n + 1)}
        for i in range(len(ws) - self.n + 1):
            g = tuple(ws[i:i + self.n])
            if g in self.grams and g not in in_prompt:
                return g
        return None


def catalogue(metrics: dict[str, dict], generations: list[Generation], probes: list[Probe],
              checks: list[ActiveCheck], train_answers: list[str], th: Thresholds,
              base: str = "base") -> list[Failure]:
    """Every failure of every model, with its evidence. `metrics` is {model: {metric: value}}."""
    out: list[Failure] = []
    by_probe = {p.id: p for p in probes}
    for c in checks:
        if not c.active:
            out.append(Failure("inactive", c.model, c.evidence))
        elif not c.visible:
            out.append(Failure("no-visible-effect", c.model, c.evidence))
    bm = metrics.get(base, {})
    for model, m in metrics.items():
        if model == base:
            continue
        gap, base_gap = _gap(m), _gap(bm)
        if gap is not None and base_gap is not None and gap - base_gap > th.overfit_gap:
            out.append(Failure("overfitting", model,
                               f"held-out/train perplexity {m['ppl_heldout']:.2f}/{m['ppl_train']:.2f} (log gap "
                               f"{gap:.2f}) vs the base's {bm['ppl_heldout']:.2f}/{bm['ppl_train']:.2f} (log gap "
                               f"{base_gap:.2f}): grew by {gap - base_gap:.2f} > {th.overfit_gap}"))
        if m.get("ppl_control") and bm.get("ppl_control"):
            ratio = m["ppl_control"] / bm["ppl_control"]
            if ratio > th.forgetting_ratio:
                out.append(Failure("forgetting", model,
                                   f"control perplexity {m['ppl_control']:.2f} vs the base's {bm['ppl_control']:.2f}"
                                   f" (×{ratio:.2f} > ×{th.forgetting_ratio})"))
    regurg = Regurgitation(train_answers, th.regurgitation_ngram)
    drift_base = _language_drift(base, [g for g in generations if g.model == base], by_probe)[0]
    for model in metrics:
        gens = [g for g in generations if g.model == model]
        if not gens:
            continue
        out += _format_collapse(model, gens, th)
        drift = _language_drift(model, gens, by_probe)
        if model != base and drift[0] is not None and drift[0] > th.language_drift and drift[0] > (drift_base or 0):
            out.append(Failure("language-drift", model, f"{drift[0]:.0%} of answers not in the probe's language "
                               f"(base {drift_base or 0:.0%}, threshold {th.language_drift:.0%})", drift[1]))
        if model != base:
            out += _regurgitation(model, gens, by_probe, regurg, th)
        out += _leakage(model, gens)
    return out


def _format_collapse(model: str, gens: list[Generation], th: Thresholds) -> list[Failure]:
    loops = [(g, answer_repetition(words(g.text))) for g in gens]
    loops = [(g, r) for g, r in loops if r > th.repetition_rate]
    leaked = [(g, leaks(g.raw)) for g in gens]
    leaked = [(g, found) for g, found in leaked if found]
    out = []
    if loops and len(loops) * 4 >= len(gens):  # one loop in a sampled answer is noise; a quarter is a pattern
        out.append(Failure("format-collapse", model,
                           f"{len(loops)}/{len(gens)} answers loop (share of repeated 4-grams > "
                           f"{th.repetition_rate:.0%}; worst {max(r for _, r in loops):.0%})",
                           [_example(g, g.text) for g, _ in loops[:MAX_EXAMPLES]]))
    if len(leaked) >= th.template_leaks:
        tokens = sorted({t for _, found in leaked for _, t in found})
        out.append(Failure("format-collapse", model,
                           f"{len(leaked)}/{len(gens)} answers carry chat-template tokens: {' '.join(tokens)}",
                           [_example(g, g.raw, found[0][0]) for g, found in leaked[:MAX_EXAMPLES]]))
    return out


def _language_drift(model: str, gens: list[Generation], by_probe: dict[str, Probe]) -> tuple[float | None, list]:
    judged, wrong = 0, []
    for g in gens:
        want = by_probe[g.probe_id].language if g.probe_id in by_probe else "und"
        got = answer_language(g.text)
        if want == "und" or got == "und":
            continue
        judged += 1
        if got[:2] != want[:2]:
            wrong.append(_example(g, g.text) | {"language": got, "expected": want})
    return (len(wrong) / judged if judged else None), wrong[:MAX_EXAMPLES]


def _regurgitation(model: str, gens: list[Generation], by_probe: dict[str, Probe], regurg: Regurgitation,
                   th: Thresholds) -> list[Failure]:
    hits = []
    for g in gens:
        p = by_probe.get(g.probe_id)
        prompt = " ".join(m["content"] for m in p.messages) if p else ""
        gram = regurg.copied(g.text, prompt)
        if gram:
            hits.append({"probe_id": g.probe_id, "mode": g.mode, "snippet": " ".join(gram)})
    if hits and len(hits) > th.regurgitation_share * len(gens):
        return [Failure("regurgitation", model,
                        f"{len(hits)}/{len(gens)} answers copy {th.regurgitation_ngram}+ words verbatim from "
                        f"train.jsonl (threshold {th.regurgitation_share:.0%})", hits[:MAX_EXAMPLES])]
    return []


def _leakage(model: str, gens: list[Generation]) -> list[Failure]:
    hits = []
    for g in gens:
        m = PLACEHOLDER.search(g.text)
        if m:
            hits.append(_example(g, g.text, m.start()) | {"found": m.group(0)})
            continue
        spans = secrets.find(g.text)
        if spans:
            # the kind and where, never the secret itself
            hits.append({"probe_id": g.probe_id, "mode": g.mode, "found": f"a live {spans[0].kind}",
                         "snippet": _snippet(g.text[:spans[0].start] + secrets.placeholder(spans[0].kind),
                                             spans[0].start)})
    if hits:
        kinds = sorted({h["found"] for h in hits})
        return [Failure("leakage", model, f"{len(hits)} answers leak {', '.join(kinds)}", hits[:MAX_EXAMPLES])]
    return []


def greedy_by_probe(gens: list[Generation], model: str) -> dict[str, str]:
    return {g.probe_id: g.text for g in gens if g.model == model and g.mode == GREEDY}
