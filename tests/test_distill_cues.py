"""The cue patterns (distill/cues.py) on labelled sentences (tests/data/cues/*.yaml), negatives included."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from twinforge.distill import cues
from twinforge.text.lemmas import analyze

DATA = Path(__file__).parent / "data" / "cues"
CASES = {lang: yaml.safe_load((DATA / f"{lang}.yaml").read_text(encoding="utf-8")) for lang in ("ru", "en")}


def _key(text: str, lang: str) -> frozenset[str]:
    toks = analyze(text, lang)
    return frozenset(t.lemma for t in toks if t.pos != "FUNC") or frozenset(t.lemma for t in toks)


def _same(a: str, b: str, lang: str) -> bool:
    x, y = _key(a, lang), _key(b, lang)
    return x <= y or y <= x


def _cases(section: str):
    return [pytest.param(lang, case, id=f"{lang}-{case['text'][:40]}") for lang, data in CASES.items()
            for case in data[section]]


@pytest.mark.parametrize("lang,case", _cases("axes"))
def test_axes(lang, case):
    found = cues.axes(case["text"], lang)
    if not case["axes"]:
        assert found == [], f"no axis in {case['text']!r}, found {[str(a) for a in found]}"
        return
    for left, right in case["axes"]:
        assert any((_same(left, a.left, lang) and _same(right, a.right, lang))
                   or (_same(left, a.right, lang) and _same(right, a.left, lang)) for a in found), \
            f"{left} ↔ {right} not among {[str(a) for a in found]}"


@pytest.mark.parametrize("section,fn", [("inversions", cues.inversions), ("hypotheses", cues.hypotheses),
                                        ("transition_rules", cues.transition_rules)])
def test_sentence_cues(section, fn):
    wrong = []
    for data in CASES.values():
        for case in data[section]:
            got = fn(case["text"])
            if bool(got) != case["match"]:
                wrong.append(case["text"])
            for s in got:
                assert s in case["text"]  # the person's words, verbatim
    assert not wrong, f"{section}: wrong on {wrong}"


def test_axes_name_poles_by_noun_phrases_and_are_not_repeated():
    text = "Это будет выжимка фактов или выжимка движения? Выжимка фактов или выжимка движения, вот вопрос."
    found = cues.axes(text, "ru")
    assert [str(a) for a in found] == ["выжимка фактов ↔ выжимка движения"]


def test_sentence_spans_are_verbatim_slices():
    text = "Первое предложение. Второе?\n\n- Третье, в списке.\nЧетвёртое"
    spans = cues.sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Первое предложение.", "Второе?", "Третье, в списке.", "Четвёртое"]


def test_contrasts_set_the_salient_thing_before_against_the_one_that_opens_the_other_side():
    things = [("вода", ["воду", "вода"]), ("русло", ["русло", "русла"]), ("текст", ["тексты"]),
              ("месяц", ["месяца"])]
    text = ("Я всё время сохраняю воду, то есть тексты, а надо бы русло. "
            "Вода нужна сейчас, а не когда-нибудь через три долгих месяца. Вода утекла.")
    found = cues.contrasts(text, things)
    assert [(a.left, a.right, a.cue) for a in found] == [("вода", "русло", "contrast")]  # "месяц" is too far in
    assert cues.contrasts("Start with the hard ones while the water is high.", [("water", ["water"])]) == []
