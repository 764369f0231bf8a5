"""Boilerplate stripping: scored against the hand-labelled set in tests/data/boilerplate/ (see its README)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from twinforge.clean import boilerplate
from twinforge.text.spans import Span, apply

DATA = Path(__file__).parent / "data" / "boilerplate"
MIN_PRECISION, MIN_RECALL = 0.9, 0.85

# Edges that may differ between a predicted and a labelled span: whitespace, punctuation, markup.
_EDGE = " \t\r\n.,;:!?…—–-*_"


def _load() -> list[dict]:
    cases = []
    for path in sorted(DATA.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case["file"] = path.name
            case["labels"] = _locate(case)
            cases.append(case)
    return cases


def _locate(case: dict) -> list[tuple[int, int, str]]:
    """Offsets of each labelled span. A repeated text takes its successive occurrences, whole-line ones first
    (so `---` means the rule lines, not a table's `|---|`); `in` pins the text to the next occurrence of a line."""
    text, found, used = case["text"], [], Counter()
    for label in case["spans"]:
        assert label["kind"] in boilerplate.KINDS, (case["id"], label)
        needle, anchor = label["text"], label.get("in")
        key = (needle, anchor)
        if anchor is None:
            places = _occurrences(text, needle)
            lines = [a for a in places if _whole_lines(text, a, a + len(needle))]
            places = lines or places
        else:
            places = [text.find(needle, a, a + len(anchor)) for a in _occurrences(text, anchor)]
        assert used[key] < len(places) and places[used[key]] >= 0, f"{case['id']}: label not found: {needle!r}"
        at = places[used[key]]
        used[key] += 1
        found.append((at, at + len(needle), label["kind"]))
    return found


def _occurrences(text: str, needle: str) -> list[int]:
    out, at = [], text.find(needle)
    while at >= 0:
        out.append(at)
        at = text.find(needle, at + 1)
    return out


def _whole_lines(text: str, a: int, b: int) -> bool:
    return (a == 0 or text[a - 1] == "\n") and (b == len(text) or text[b] == "\n")


CASES = _load()


def _same(text: str, span: Span, label: tuple[int, int, str]) -> bool:
    """A predicted span matches a label: overlapping, and the same text up to edge whitespace/punctuation."""
    a, b, _ = label
    return span.start < b and a < span.end and text[span.start : span.end].strip(_EDGE) == text[a:b].strip(_EDGE)


def _score(cases: list[dict]):
    """Per-span matching, one-to-one (see _same). Counts per kind; the labels missed; the spans not labelled."""
    per_kind = {k: Counter() for k in boilerplate.KINDS}
    misses, extras = [], []
    for case in cases:
        text = case["text"]
        predicted = boilerplate.find(text)
        free = list(case["labels"])
        for p in predicted:
            hit = next((lab for lab in free if _same(text, p, lab)), None)
            per_kind[p.kind]["predicted"] += 1
            if hit:
                free.remove(hit)
                per_kind[p.kind]["correct"] += 1
                per_kind[hit[2]]["found"] += 1
                per_kind[hit[2]]["same_kind"] += hit[2] == p.kind
            else:
                extras.append((case["id"], p.kind, text[p.start : p.end]))
        for lab in case["labels"]:
            per_kind[lab[2]]["labelled"] += 1
        misses += [(case["id"], lab[2], text[lab[0] : lab[1]]) for lab in free]
    return per_kind, misses, extras


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def test_eval_set_shape():
    assert len(CASES) >= 60
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    texts = " ".join(c["text"] for c in CASES)
    assert re.search(r"[а-яё]", texts) and re.search(r"\b(the|you)\b", texts)
    assert not any(c.get("source", "").startswith("shared/seeds") for c in CASES)  # the seeds stay out
    assert sum(1 for c in CASES if not c["labels"]) >= 10  # answers with nothing to strip


def test_precision_and_recall():
    per_kind, misses, extras = _score(CASES)
    total = Counter()
    print(f"\nboilerplate eval: {len(CASES)} messages")
    print(f"{'kind':<11}{'labelled':>9}{'predicted':>10}{'precision':>10}{'recall':>8}")
    for kind, c in per_kind.items():
        total.update(c)
        p, r = _ratio(c["correct"], c["predicted"]), _ratio(c["found"], c["labelled"])
        print(f"{kind:<11}{c['labelled']:>9}{c['predicted']:>10}{p:>10.3f}{r:>8.3f}")
    content = sum((per_kind[k] for k in ("opener", "closing", "praise")), Counter())
    for name, c in (("all", total), ("non-decor.", content)):
        p, r = _ratio(c["correct"], c["predicted"]), _ratio(c["found"], c["labelled"])
        print(f"{name:<11}{c['labelled']:>9}{c['predicted']:>10}{p:>10.3f}{r:>8.3f}")
    print(f"kind agreement on matched spans: {total['same_kind']}/{total['found']}")
    print("(the detector was tuned on this set; README.md there has first-look scores on held-out batches)")
    for case_id, kind, s in misses:
        print(f"  MISSED {case_id} [{kind}] {s!r}")
    for case_id, kind, s in extras:
        print(f"  EXTRA  {case_id} [{kind}] {s!r}")
    precision, recall = _ratio(total["correct"], total["predicted"]), _ratio(total["found"], total["labelled"])
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL
    # decoration is easy and plentiful; the flattery kinds must hold the bar on their own too
    assert _ratio(content["correct"], content["predicted"]) >= MIN_PRECISION
    assert _ratio(content["found"], content["labelled"]) >= MIN_RECALL


_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_LIST = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]")


def _structure(text: str) -> list[tuple[int, int, str]]:
    """Lines that are content structure: code (fences included), table rows, quotes, list items."""
    out, pos, fence = [], 0, None
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        s = line.strip()
        m = _FENCE.match(line)
        if fence or m:
            out.append((start, end, "code"))
            if m and fence is None:
                fence = m.group(1)
            elif m and m.group(1)[0] == fence[0] and not line[m.end() :].strip():
                fence = None
        elif s.startswith("|"):
            out.append((start, end, "table"))
        elif s.startswith(">"):
            out.append((start, end, "quote"))
        elif _LIST.match(line) and not re.fullmatch(r"[-*_ \t]{3,}", s):
            out.append((start, end, "list"))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_structure_is_never_removed(case):
    """No code line, table row or quote loses a character; list items only inside a labelled offer menu."""
    text = case["text"]
    removed = [False] * (len(text) + 1)
    for s in boilerplate.find(text):
        removed[s.start : s.end] = [True] * (s.end - s.start)
    menus = [(a, b) for a, b, kind in case["labels"] if kind == "closing"]
    for start, end, kind in _structure(text):
        if not any(removed[start:end]):
            continue
        allowed = kind == "list" and any(a <= start and end <= b for a, b in menus)
        assert allowed, f"{kind} line touched: {text[start:end]!r}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_strip_contract(case):
    text = case["text"]
    cleaned, spans = boilerplate.strip(text)
    assert spans == sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert all(s.replacement == "" and s.kind in boilerplate.KINDS and s.start < s.end for s in spans)
    assert cleaned == cleaned.strip()
    # blank-line runs collapse outside code; code blocks come through byte for byte
    outside = re.sub(r"```.*?```", "CODE", cleaned, flags=re.S)
    assert "\n\n\n" not in outside
    for block in re.findall(r"```.*?```", text, flags=re.S):
        assert block in cleaned
    # what strip removed is exactly the spans (modulo blank lines)
    assert re.sub(r"\s+", " ", cleaned) == re.sub(r"\s+", " ", apply(text, spans)).strip()


# --- the contract's own examples ------------------------------------------------------------------------------


def test_opener_sentence_goes_rest_of_line_stays():
    cleaned, spans = boilerplate.strip("Отличный вопрос! Короче: X — это Y.\n\nДальше — детали.")
    assert cleaned == "Короче: X — это Y.\n\nДальше — детали."
    assert [s.kind for s in spans] == ["opener"]


def test_header_emoji_goes_header_stays():
    cleaned, spans = boilerplate.strip("## 🧩 1. **Объём**\n\n| 🧠 a | b |\n|---|---|\n| 1 | 2 |")
    assert cleaned.startswith("## 1. **Объём**\n")
    assert "| 🧠 a | b |" in cleaned
    assert [s.kind for s in spans] == ["decoration"]


def test_code_fence_is_untouched():
    text = "```yaml\n---\n# 🧠 Отличный вопрос!\n\n\n\nx: 1\n```\n\n---\n\nХочешь — я сделаю ещё?"
    cleaned, _ = boilerplate.strip(text)
    assert cleaned == "```yaml\n---\n# 🧠 Отличный вопрос!\n\n\n\nx: 1\n```"


def test_fences_of_every_shape_are_untouched():
    tilde = "~~~\n---\nОтличный вопрос!\n~~~"
    nested = "````markdown\n```\nХочешь — я сделаю?\n```\n---\n````"
    unclosed = "```\nГотов.\n\n\n\n---"
    for code in (tilde, nested, unclosed):
        cleaned, _ = boilerplate.strip(f"Вот пример:\n\n{code}")
        assert cleaned == f"Вот пример:\n\n{code}".strip(), code


def test_closing_offer_and_call_to_action():
    text = "Вот расчёт: 9 млн токенов.\n\nХочешь — я прямо сейчас начну формировать шаблоны `.jsonl`.\nГотова действовать."
    assert boilerplate.strip(text)[0] == "Вот расчёт: 9 млн токенов."


def test_content_with_flattering_words_stays():
    for text in (
        "Вопрос о том, отличный ли это подход, сложен.",
        "Хороший вопрос — открытый: никто не мерил это на русском корпусе.",
        "Если хочешь сравнить честно, фиксируй seed и порядок данных.",
        "You're absolutely right that the warmup is too short.",
    ):
        assert boilerplate.find(text) == [], text


def test_crlf_text():
    text = "Отличный вопрос! 🔥\r\n\r\n---\r\n\r\n## 🧩 1. Объём\r\n\r\nТекст по делу.\r\n\r\nХочешь — я начну?\r\nДействуем?"
    assert boilerplate.strip(text)[0] == "## 1. Объём\r\n\r\nТекст по делу."


def test_empty_and_whitespace():
    assert boilerplate.strip("") == ("", [])
    assert boilerplate.strip("  \n\n ") == ("", [])


def test_spans_are_span_objects():
    spans = boilerplate.find("Great question! The answer is 42.\n\nLet me know if you'd like more!")
    assert all(isinstance(s, Span) for s in spans)
    assert [s.kind for s in spans] == ["opener", "closing"]
