"""The clean stage's chatter-or-substance verdict in words a reader can follow.

clean stores a terse reason ("nearer 'household' prototypes (0.13) than 'math_and_estimates' (0.10); 3 user
turns, 40 words; 2 technical/abstract terms") and a chatter score. Shown as they are, a green "substance 0.23"
beside "nearer household" reads as a contradiction: the score is how chatter-like the conversation is (low =
substance), and "household" was only the nearest of the everyday topics. This spells out both.
"""

from __future__ import annotations

import re
from functools import lru_cache

import yaml

from ..clean import chatter

_PROTOTYPES = re.compile(r"^nearer '(?P<a>[^']+)' prototypes \((?P<a_sim>-?[\d.]+)\) than '(?P<b>[^']+)' "
                         r"\((?P<b_sim>-?[\d.]+)\); (?P<size>[^;]+); (?P<terms>.+)$")
_DECIDED = re.compile(r"^(?P<words>\d+) words and (?P<terms>\d+\+?) technical/abstract terms: chatter score at most "
                      r"(?P<ceiling>[\d.]+) whatever the topic, so not embedded$")
_THRESHOLD = re.compile(r":(\d+\.\d{4})(?::|$)")


@lru_cache(maxsize=1)
def _sides() -> dict[str, str]:
    """{topic: 'chatter' | 'substance'} from the prototypes clean compares against."""
    data = yaml.safe_load(chatter.PROTOTYPES.read_text(encoding="utf-8")) or {}
    return {topic: side for side in ("chatter", "substance") for topic in (data.get(side) or {})}


def _topic(name: str) -> str:
    return name.replace("_", " ")


def threshold_of(signature: str | None) -> float:
    """The chatter threshold a verdict was made with (its signature records it), else the default."""
    m = _THRESHOLD.search(signature or "")
    return float(m.group(1)) if m else chatter.DEFAULT_THRESHOLD


def explain(label: str | None, score: float | None, reason: str | None, threshold: float) -> dict | None:
    """{"summary": one sentence, "details": [lines]} for a verdict; None when there is none."""
    if not label:
        return None
    if score is None:
        summary = f"Judged {label}."
    else:
        side = "below" if score < threshold else "at or above"
        summary = (f"Judged {label}: chatter score {score:.2f} on a scale from 0 (clearly substance) to 1 (clearly "
                   f"everyday chatter), {side} the cut-off of {threshold:.2f}.")
    details: list[str] = []
    m = _PROTOTYPES.match(reason or "")
    if m:
        sides = _sides()
        found = {sides.get(m["a"]): (m["a"], float(m["a_sim"])), sides.get(m["b"]): (m["b"], float(m["b_sim"]))}
        if "chatter" in found and "substance" in found:
            (c, c_sim), (s, s_sim) = found["chatter"], found["substance"]
            leaning = "substance" if s_sim > c_sim else "chatter" if c_sim > s_sim else "neither"
            details.append(f"Topic: closest substance topic “{_topic(s)}” (similarity {s_sim:.2f}), closest "
                           f"everyday topic “{_topic(c)}” ({c_sim:.2f}); the topic leans to {leaning}.")
            if leaning in ("chatter", "substance") and leaning != label:
                details.append(f"The topic alone leans to {leaning}, but the length and vocabulary below outweigh "
                               f"it, so the verdict is {label}.")
        else:
            details.append(f"Topic: nearest example topic “{_topic(m['a'])}” ({float(m['a_sim']):.2f}), then "
                           f"“{_topic(m['b'])}” ({float(m['b_sim']):.2f}).")
        details.append(f"Length: {m['size']}.")
        details.append(f"Vocabulary: {m['terms']}.")
    elif d := _DECIDED.match(reason or ""):
        details.append(f"Long and technical enough to settle it without the topic: {d['words']} words and "
                       f"{d['terms']} technical or abstract terms keep the chatter score at or below "
                       f"{d['ceiling']}, whatever the conversation is about.")
    elif reason:
        details.append(reason[0].upper() + reason[1:] + ("" if reason.endswith(".") else "."))
    return {"summary": summary, "details": details}
