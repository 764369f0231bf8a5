"""Noun phrases by morphology (text/phrases.py) and their salience ranking (text/salience.py)."""

from __future__ import annotations

import pytest

from twinforge.text.lemmas import analyze
from twinforge.text.phrases import noun_phrases
from twinforge.text.salience import concepts


@pytest.mark.parametrize("text,lang,want", [
    ("Обучение больших моделей с нуля дорого.", "ru", ["обучение больших моделей", "большая модель"]),
    ("Дообучать готовую модель адаптерами?", "ru", ["готовая модель", "адаптер"]),
    ("Хорошая разметка важнее большой модели.", "ru", ["хорошая разметка", "большая модель"]),
    ("Это выжимка фактов.", "ru", ["выжимка фактов"]),
    ("В прошлом ты говорила, что надо 1 миллион строк кода.", "ru", ["строка кода"]),
    ("Учим на лора поверх квена.", "ru", ["lora", "qwen"]),
    ("Small models need more training data.", "en", ["small model", "training data"]),
    ("A friend says Parquet files per stage.", "en", ["parquet file", "stage"]),
    ("A tokenizer is like shorthand; I'd rather have transactions and resumability.", "en",
     ["tokenizer", "resumability"]),  # coinages built on known words, not typos
    ("We have a support bot. It pushes the reasoning; it's a signal: act.", "en",
     ["support bot", "reasoning", "signal"]),
    ("DPO мне нравится тем, что пары можно делать почти бесплатно.", "ru", ["пара"]),  # no genitive: a thing
    ("Мне важно думать не над чужими KPI.", "ru", ["чужие KPI"]),
])
def test_phrases_in_normal_form(text, lang, want):
    got = [p.text for p in noun_phrases(text, lang)]
    for w in want:
        assert w in got, f"{w!r} not in {got}"


@pytest.mark.parametrize("text,lang,never", [
    ("Опиши моё мышление, на каком оно уровне, друг?", "ru", {"моё", "каком", "друг", "опиши", "оно"}),
    ("т.е. ты считаешь дообучать адаптеры информативнее чем с нуля?", "ru", {"ты", "считаешь", "нуль", "т"}),
    ("Hey bro, can you tell me which one is better?", "en", {"bro", "one", "you", "better", "me"}),
    ("in diceter asyclic graphical models , whe calculate P(C)", "en", {"p", "c", "asyclic"}),
    ("Hey bot, is a small or a large rank better?", "en", {"bot", "hey", "small"}),
    ("Нужна пара примеров и миллион строк.", "ru", {"пара", "миллион"}),  # quantities before a genitive
])
def test_no_function_words_address_or_typos(text, lang, never):
    got = {w for p in noun_phrases(text, lang) for w in p.text.casefold().split()}
    assert not got & never, got & never


def test_every_phrase_points_at_its_words():
    text = "Гиперфраза выбрасывает связки, а конспект — слова."
    for p in noun_phrases(text, "ru"):
        assert text[p.start : p.end] == p.surface


def test_salient_concepts_are_the_persons_terms_not_function_words():
    text = ("Гиперфраза — это не сокращение. Сокращение выбрасывает слова, а гиперфраза выбрасывает связки, которые "
            "читатель восстановит сам. Тогда гипотеза: гиперфразы сжимают лучше, чем любой конспект, но только для "
            "того, кто уже знает словарь узлов.")
    got = [c.text for c in concepts(text, "ru")]
    assert got[0] == "гиперфраза"  # said three times, and rare in Russian at large
    assert {"сокращение", "конспект"} <= set(got)
    for c in got:
        assert any(t.pos != "FUNC" for t in analyze(c, "ru")), c


def test_a_concept_that_only_adds_words_to_a_chosen_one_is_left_out():
    text = ("Я менял работу четыре раза. Каждая работа была без созвонов. Хорошая работа — это не список запретов. "
            "Следующую работу выберу по интересу, а не по вычитанию.")
    got = [c.text for c in concepts(text, "ru")]
    assert "работа" in got
    assert not {"хорошая работа", "следующая работа", "каждая работа"} & set(got), got
