"""An optional LLM second opinion for conversations the offline classifier is unsure about.

Only conversations whose chatter score falls inside the configured band are sent, through any backend
(an OpenAI-compatible server, a local GGUF …). The model's label replaces the classifier's; its reason is kept
next to the classifier's. A failed call keeps the classifier's verdict and says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from ..backends import BackendError, get_backend
from ..backends.base import Request
from .chatter import Sample
from .config import JudgeConfig

PROMPT_VERSION = "judge.v1"
PROMPT = Path(__file__).with_name("prompts") / f"{PROMPT_VERSION}.txt"
SCHEMA = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["substance", "chatter"]}, "reason": {"type": "string"}},
    "required": ["label", "reason"],
}
# What the model sees of a conversation: enough to tell its kind, little enough for a small context.
USER_CHARS, ANSWER_CHARS = 1500, 400
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.S)


class LLMJudge:
    def __init__(self, cfg: JudgeConfig):
        self.low, self.high = cfg.band
        self.backend = get_backend(cfg.backend)
        self.system = PROMPT.read_text(encoding="utf-8")

    @property
    def signature(self) -> str:
        """Part of the verdict cache key: another model, prompt or band means new verdicts."""
        return f"{self.backend.name}:{self.backend.model}:{PROMPT_VERSION}:{self.low}-{self.high}"

    def wants(self, score: float) -> bool:
        return self.low <= score <= self.high

    def judge(self, samples: Sequence[Sample]) -> list[tuple[str, str] | str]:
        """Per sample: (label, reason) from the model, or a string saying why there is none."""
        requests = [
            Request([{"role": "system", "content": self.system}, {"role": "user", "content": _show(s)}],
                    json_schema=SCHEMA, max_tokens=120, temperature=0.0)
            for s in samples
        ]
        out: list[tuple[str, str] | str] = []
        for result in self.backend.complete_many(requests):
            if isinstance(result, BackendError):
                out.append(f"judge failed: {result}")
                continue
            out.append(_parse(result.text))
        return out


def _show(s: Sample) -> str:
    user = "\n".join(s.user)[:USER_CHARS]
    answer = s.assistant[0][:ANSWER_CHARS] if s.assistant else ""
    return f"Title: {s.title}\n\nThe person wrote:\n{user}\n\nThe assistant began:\n{answer}"


def _parse(text: str) -> tuple[str, str] | str:
    try:
        data = json.loads(_FENCE.sub("", text.strip()))
        label, reason = data["label"], str(data.get("reason", "")).strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"judge answered no usable JSON: {text[:80]!r}"
    if label not in ("substance", "chatter"):
        return f"judge answered an unknown label {label!r}"
    return label, reason
