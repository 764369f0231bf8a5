"""Exact and near-duplicate detection (twinforge.clean.dedupe)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from twinforge.clean import dedupe
from twinforge.clean.dedupe import NearDuplicates, exact_groups, normalize

RU = """мысль идея модель модуль сцена адаптер корпус дистилляция инверсия гипотеза переход правило ось слой концепт
метаход фраза смысл структура сжатие понимание ошибка онтология память граф поле вектор ядро двойник обучение
данные страница архив диалог ответ вопрос ход поворот излом проверка замер эпоха токен ранг база система процесс
уровень связь граница контекст устойчивость привычка позиция модальность интонация вывод если тогда потому
сохранить выбросить сжать развернуть перевернуть проверить сравнить обучить измерить найти заметить сломать
новый старый большой малый главный лишний живой плотный пустой честный общий отдельный быстрый медленный""".split()
EN = """thought idea model module scene adapter corpus distillation inversion hypothesis transition rule axis layer
concept move phrase meaning structure compression understanding error ontology memory graph field vector core
twin training data page archive dialog answer question turn pivot break check measure epoch token rank base
system process level link boundary context stability habit position modality tone conclusion keep drop compress
expand invert verify compare train find notice hold derive describe assemble parse build remove leave add""".split()


def words(n: int, seed: int, vocab: list[str] = RU) -> list[str]:
    return random.Random(seed).choices(vocab, k=n)


def text(ws: list[str]) -> str:
    """Words as prose: sentences, capitals, punctuation, paragraphs."""
    out, i = [], 0
    rng = random.Random(len(ws))
    while i < len(ws):
        k = rng.randint(6, 15)
        s = " ".join(ws[i : i + k])
        out.append(s[:1].upper() + s[1:] + rng.choice([".", "!", "?", ","]))
        i += k
    return "\n\n".join(" ".join(out[j : j + 4]) for j in range(0, len(out), 4))


def shingles(t: str, k: int = 5) -> set[tuple[str, ...]]:
    w = normalize(t).split()
    return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)}


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def substitute(ws: list[str], positions: list[int], vocab: list[str] = RU) -> list[str]:
    out = list(ws)
    for p in positions:
        out[p] = next(w for w in vocab if w != out[p])
    return out


# ---------------------------------------------------------------------------------------------------------------
# normalize and exact duplicates


def test_normalize_drops_case_spacing_punctuation_and_markdown():
    assert normalize("**Привет,  МИР!**\n\n## 🧠 Ёжик — это `код`…") == "привет мир ёжик это код"
    assert normalize("Hello,\tWorld!!! - [link](http://x.io) | a | b |") == "hello world link http x io a b"
    assert normalize("fine_tuning ①²") == "fine tuning 12"  # NFKC; underscores split words
    assert normalize("👍 ... ---") == ""


def test_exact_groups_modulo_case_whitespace_punctuation():
    base = text(words(40, 1))
    items = [
        ("a", base),
        ("b", "unrelated text about something else entirely"),
        ("c", base.upper()),
        ("d", "**" + base.replace(" ", "  \n").replace(".", "!") + "** 🧠"),
        ("e", base + " extra"),  # one more word: not exact
        ("f", "Unrelated text, about something ELSE entirely!"),
        ("g", "👍"),
        ("h", "🔥"),  # both empty after normalize: never grouped
    ]
    assert exact_groups(items) == [["a", "c", "d"], ["b", "f"]]
    assert exact_groups([]) == []
    assert exact_groups([("x", "one text")]) == []


def test_exact_groups_agree_with_normalize():
    """exact_groups hashes words without building normalized strings: it must group exactly as normalize does."""
    rng = random.Random(5)
    pieces = ["Слово", "слово", "СЛОВО", "ёж", "Ёж", "word", "Word", "straße", "STRASSE", "ﬁne", "fine", "12", "①2",
              "и\u0306", "й", "x_y", "x y", "🧠", "—", "...", "\ud800", "Ω", "ω", "ǅ", "İ", "i"]
    texts = [" ".join(rng.choices(pieces, k=rng.randint(0, 3))) for _ in range(400)]
    items = [(str(i), t) for i, t in enumerate(texts)]
    by_norm: dict[str, list[str]] = {}
    for i, t in items:
        if normalize(t):
            by_norm.setdefault(normalize(t), []).append(i)
    expected = sorted((g for g in by_norm.values() if len(g) > 1), key=lambda g: int(g[0]))
    assert exact_groups(items) == expected


def test_vectorised_words_are_normalize_words():
    """The word hashes behind both detectors come from the same words normalize() returns."""
    samples = ["**Привет,  МИР!** 🧠 Ёжик", "fine_tuning ①² straße İstanbul ǅemal", "и\u0306од — йод", "a\ud800b",
               "", "   ", "```python\nx = f(y)\n```", text(words(200, 3, EN))]
    for s in samples:
        [(_, got, counts)] = dedupe._batches([s, "x"])
        [(_, want, wcounts)] = dedupe._batches([normalize(s), "x"])
        assert counts[0] == len(normalize(s).split()) == wcounts[0]
        assert np.array_equal(got, want)


# ---------------------------------------------------------------------------------------------------------------
# near duplicates


def test_regenerated_answer_with_a_few_words_changed_is_found():
    ws = words(300, 2)
    original = text(ws)
    regenerated = text(substitute(ws, [40, 150, 260]))
    assert 0.88 < jaccard(original, regenerated) < 0.92
    other = text(words(300, 3))
    groups = NearDuplicates().groups([("orig", original), ("other", other), ("regen", regenerated)])
    assert len(groups) == 1
    (first, s_first), (second, s_second) = groups[0]
    assert (first, s_first, second) == ("orig", 1.0, "regen")
    assert abs(s_second - jaccard(original, regenerated)) <= 0.1


def test_different_texts_on_the_same_topic_are_not_near_duplicates():
    """Same vocabulary, same opening and closing sentences, a shared paragraph: related, but not duplicates."""
    opener = "Отличный вопрос! Давай разберём, как устроена дистилляция модели и что держит ось смысла."
    closer = "Хочешь — я прямо сейчас набросаю следующий шаг?"
    shared = text(words(40, 9))
    a = f"{opener}\n\n{text(words(120, 10))}\n\n{shared}\n\n{closer}"
    b = f"{opener}\n\n{text(words(120, 11))}\n\n{shared}\n\n{closer}"
    assert 0.1 < jaccard(a, b) < 0.4
    assert NearDuplicates().groups([("a", a), ("b", b)]) == []
    assert NearDuplicates().similarity(a, b) < 0.5


def test_short_texts_are_skipped():
    short = "Да, давай так и сделаем, спасибо"  # 6 words: too short to judge
    nd = NearDuplicates(min_words=8)
    assert nd.groups([("a", short), ("b", short), ("c", short.upper())]) == []
    assert nd.similarity(short, short) == 0.0
    sig, index = nd.signatures([short, text(words(30, 1)), "", short])
    assert index.tolist() == [1] and sig.shape == (1, 128)
    # the exact detector still sees them
    assert exact_groups([("a", short), ("b", short), ("c", short.upper())]) == [["a", "b", "c"]]
    # with min_words below the shingle length, a text shorter than a shingle is one shingle
    tiny = NearDuplicates(min_words=3)
    assert tiny.groups([("a", "три слова тут"), ("b", "Три слова тут!"), ("c", "три слова там")]) == [
        [("a", 1.0), ("b", 1.0)]]


def test_russian_and_english_near_duplicates():
    ru, en = words(250, 20, RU), words(250, 21, EN)
    items = [
        ("ru1", text(ru)),
        ("en1", text(en)),
        ("ru2", text(substitute(ru, [100]))),
        ("en2", "## " + text(substitute(en, [30])).upper()),
        ("ru3", text(words(250, 22, RU))),
    ]
    groups = NearDuplicates().groups(items)
    assert [[m for m, _ in g] for g in groups] == [["ru1", "ru2"], ["en1", "en2"]]
    for g in groups:
        assert g[1][1] >= 0.9


@pytest.mark.parametrize("changes", [0, 1, 3, 6, 12, 25])
def test_estimates_within_0_1_of_true_jaccard(changes):
    rng = random.Random(changes)
    for n in (20, 60, 400):
        ws = words(n, 100 + n)
        a = text(ws)
        b = text(substitute(ws, rng.sample(range(n), min(changes, n))))
        est = NearDuplicates().similarity(a, b)
        assert abs(est - jaccard(a, b)) <= 0.1, (n, changes, est, jaccard(a, b))


def test_estimates_for_partial_overlap():
    """Texts that share a block of words and differ elsewhere: J from ~0.2 to ~0.7."""
    common = words(300, 7)
    for extra in (20, 60, 150, 400):
        a = text(common + words(extra, 8))
        b = text(words(extra, 9) + common)
        est = NearDuplicates().similarity(a, b)
        assert abs(est - jaccard(a, b)) <= 0.1, (extra, est, jaccard(a, b))


def test_clusters_are_transitive_and_ordered():
    ws = words(400, 30)
    v1 = text(ws)
    v2 = text(substitute(ws, [100]))
    v3 = text(substitute(ws, [100, 300]))
    items = [("x", text(words(100, 31))), ("v3", v3), ("y", "short"), ("v1", v1), ("v2", v2), ("v1b", v1 + "!")]
    groups = NearDuplicates().groups(items)
    assert [[m for m, _ in g] for g in groups] == [["v3", "v1", "v2", "v1b"]]
    sims = dict(groups[0])
    assert sims["v3"] == 1.0 and sims["v1"] == sims["v1b"] and 0.9 <= sims["v1"] < 1.0


def test_many_copies_of_one_text_form_one_cluster():
    base = text(words(80, 40))
    items = [(f"c{i}", base if i % 2 else base.lower()) for i in range(500)]
    groups = NearDuplicates().groups(items)
    assert len(groups) == 1 and [m for m, _ in groups[0]] == [f"c{i}" for i in range(500)]
    assert {s for _, s in groups[0]} == {1.0}


def test_batches_do_not_change_the_result(monkeypatch):
    """Texts are processed in batches of ~_BATCH_CHARS characters; results must not depend on where batches
    end, nor on a text that is longer than a batch."""
    rng = random.Random(50)
    items = []
    for i in range(60):
        ws = words(rng.randint(5, 400), 1000 + i, RU if i % 3 else EN)
        items.append((f"t{i}", text(ws)))
        if i % 4 == 0:
            items.append((f"t{i}-near", text(substitute(ws, [len(ws) // 2]))))
        if i % 7 == 0:
            items.append((f"t{i}-copy", text(ws).upper()))
    nd = NearDuplicates()
    sig, index = nd.signatures([t for _, t in items])
    near, exact = nd.groups(items), exact_groups(items)
    assert near and exact
    monkeypatch.setattr(dedupe, "_BATCH_CHARS", 300)
    sig2, index2 = nd.signatures([t for _, t in items])
    assert np.array_equal(index, index2) and np.array_equal(sig, sig2)
    assert nd.groups(items) == near and exact_groups(items) == exact


def test_deterministic_for_a_seed():
    ws = words(200, 60)
    texts = [text(ws), text(substitute(ws, [10, 90])), text(words(200, 61))]
    a, _ = NearDuplicates(seed=3).signatures(texts)
    b, _ = NearDuplicates(seed=3).signatures(texts)
    c, _ = NearDuplicates(seed=4).signatures(texts)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    items = list(zip("abc", texts))
    assert NearDuplicates(seed=3).groups(items) == NearDuplicates(seed=3).groups(items)


def test_deterministic_across_processes():
    """No per-process hash randomisation anywhere: another interpreter with another PYTHONHASHSEED agrees."""
    code = (
        "import json, sys; from twinforge.clean.dedupe import NearDuplicates, exact_groups;"
        "t = sys.stdin.read().split('\\x00');"
        "s, _ = NearDuplicates().signatures(t);"
        "print(json.dumps([s[:, :8].tolist(), exact_groups(list(zip(map(str, range(len(t))), t)))]))"
    )
    ws = words(120, 70)
    texts = [text(ws), text(ws).lower(), text(substitute(ws, [5])), "Straße ёжик " * 10]
    outs = []
    for hashseed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        p = subprocess.run([sys.executable, "-c", code], input="\x00".join(texts), capture_output=True, text=True,
                           env=env, check=True)
        outs.append(json.loads(p.stdout))
    assert outs[0] == outs[1]
    here, _ = NearDuplicates().signatures(texts)
    assert outs[0][0] == here[:, :8].tolist()


def test_parameters_are_checked():
    with pytest.raises(ValueError):
        NearDuplicates(threshold=0)
    with pytest.raises(ValueError):
        NearDuplicates(num_perm=1)
    assert NearDuplicates().groups([]) == []
    assert (NearDuplicates().bands, NearDuplicates().rows) == (16, 8)
