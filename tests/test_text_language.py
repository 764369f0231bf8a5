"""Language detection on labelled messages, including the short and mixed ones archives are full of."""

from __future__ import annotations

import pytest

from twinforge.text.language import UNDETERMINED, detect

CASES = [
    ("У меня есть 15 000 А4 страниц бесед в аккаунте чатгпт.", "ru"),
    ("Как сделать LoRA adapter для Qwen3-Base на своём ПК?", "ru"),
    ("Спасибо!", "ru"),
    ("Що таке інверсія думки і як її навчити?", "uk"),
    ("What would break first if we trained one adapter per scene?", "en"),
    ("ok thanks", "en"),
    ("def train(model, data): return model.fit(data)", "en"),
    ("Wie viele Seiten bleiben nach der Reinigung übrig?", "de"),
    ("Combien de pages restent après le nettoyage ?", "fr"),
    ("¿Cuántas páginas quedan después de la limpieza?", "es"),
    ("これは日本語の文章です。", "ja"),
    ("这是中文的句子，用来测试。", "zh"),
    ("```python\nprint('hi')\n```\nЭто объяснение кода на русском языке.", "ru"),
    ("12345 67890", UNDETERMINED),
    ("👍", UNDETERMINED),
    ("", UNDETERMINED),
]


@pytest.mark.parametrize("text,lang", CASES)
def test_detect(text, lang):
    assert detect(text) == lang
