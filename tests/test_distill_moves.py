"""The offline meta-move classifier (distill/moves.py): prototypes by embedding, plus cue words."""

from __future__ import annotations

import pytest

from twinforge.distill.moves import classify, cue_hits, score_moves
from twinforge.distill.taxonomy import names


@pytest.mark.parametrize("text,move", [
    ("Сколько токенов в 300 книгах по 400 страниц, и сколько часов обучения это на одной карте?", "scaling-estimate"),
    ("Что выбрать для хранения: один файл SQLite или паркет на каждый этап?", "comparison"),
    ("Я замечаю за собой, что всегда откладываю самое скучное на конец.", "self-reflection"),
    ("What if we flip it: start from how it fails, not from the goal?", "inversion"),
    ("Imagine every user deleted their history tomorrow. What would the model still know?", "thought-experiment"),
])
def test_classify(text, move):
    assert classify(text) == move


def test_every_move_scored_once_and_ranked():
    scores = score_moves("Разобьём задачу на три этапа: данные, разметка, обучение.")
    assert sorted(s.name for s in scores) == sorted(names())
    assert [s.score for s in scores] == sorted((s.score for s in scores), reverse=True)
    assert scores[0].name == "decomposition" and scores[0].sentence


def test_an_estimate_needs_numbers():
    assert cue_hits("Сколько можно об этом говорить?")["scaling-estimate"] == 0
    assert cue_hits("Сколько это токенов для 15 000 страниц?")["scaling-estimate"] == 1
