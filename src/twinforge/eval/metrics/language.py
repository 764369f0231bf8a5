"""Language consistency: the share of answers written in the probe's language (twinforge.text.language).
Answers too short to tell ('und') and probes of unknown language do not count."""

from __future__ import annotations

from ...text.language import UNDETERMINED, detect
from .answer import Answer


def answer_language(text: str) -> str:
    return detect(text) if text.strip() else UNDETERMINED


def language_consistency(answers: list[Answer]) -> float | None:
    judged = [(a.language, answer_language(a.text)) for a in answers if a.language not in ("", UNDETERMINED)]
    judged = [(want, got) for want, got in judged if got != UNDETERMINED]
    return sum(want[:2] == got[:2] for want, got in judged) / len(judged) if judged else None
