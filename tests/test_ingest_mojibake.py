"""Mojibake repair checked against ftfy (a maintained fixer) on a corpus garbled both ways: UTF-8 read as Mac Roman (the
Nexus seeds) and as Windows cp1252, whose undefined bytes (0x81 0x8D 0x8F 0x90 0x9D) Russian hits in "с", "я", "Ё"."""

from __future__ import annotations

import ftfy
import pytest

from twinforge.ingest.mojibake import repair

CORPUS = [
    "У меня есть сжатие",
    "Я хочу обучить маленькую модель на своём архиве чатов — сколько это займёт?",
    "Ёжик и ёлка: сначала данные, затем обучение, с нуля или дообучать?",
    "Разобью задачу на три этапа: «данные», «разметка», «обучение».",
    "Адаптеры похожи на линзы; база та же, меняется только взгляд. LoRA rank 16, 15 000 страниц.",
    "What if we flip it — grow meaning from one phrase instead of compressing it?",
    "Смесь: dataset на 1M строк и «сцены» в YAML — это как слои памяти.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
]


def sloppy_cp1252(text: str) -> str:
    """How a Windows reader garbles UTF-8: cp1252, its undefined bytes kept as the same code points."""
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8"))


def mac_roman(text: str) -> str:
    return text.encode("utf-8").decode("mac_roman")


@pytest.mark.parametrize("garble", [sloppy_cp1252, mac_roman], ids=["cp1252", "mac_roman"])
@pytest.mark.parametrize("original", CORPUS)
def test_repair_restores_the_original_as_ftfy_does(garble, original):
    garbled = garble(original)
    if garbled == original:
        pytest.skip("nothing to garble (ASCII)")
    fixed, repaired = repair(garbled)
    assert fixed == original and repaired
    if garble is sloppy_cp1252:
        assert ftfy.fix_encoding(garbled) == fixed  # the maintained fixer agrees
    # Mac Roman Cyrillic ('–£ –º–µ–Ω—è') is beyond ftfy's heuristics, which is why the repair is our own


@pytest.mark.parametrize("text", ["café naïve résumé", "Plain ASCII text.", "У меня есть сжатие", "Ð is a letter"])
def test_text_that_is_not_mojibake_is_left_alone_and_not_counted(text):
    assert repair(text) == (text, False)


def test_a_repair_that_leaves_mojibake_is_not_counted():
    """Only a real repair counts: a text that would still hold mojibake afterwards is returned as it came."""
    broken = sloppy_cp1252("У меня есть") + " Ã©\u0081x"  # a tail whose bytes are not UTF-8 under any reading
    fixed, repaired = repair(broken)
    assert not repaired and fixed == broken
