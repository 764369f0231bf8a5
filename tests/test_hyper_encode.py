"""Lemmatization, encoding, parsing, the vocabulary and pairs: deterministic and correct on word lists."""

from __future__ import annotations

import json

import pytest

from twinforge.hyper.config import HyperConfig
from twinforge.hyper.encode import Encoder, HyperError, Idf, encode, parse, segment
from twinforge.text.lemmas import analyze

# Written from knowledge of Russian: nouns in the six cases, verbs in tenses, aspects, a gerund and a participle,
# adjectives in several cases. "тревожно" is as likely the short adjective (тревожный) as the adverb for
# pymorphy3; a tie goes to the shorter lemma, the adverb, which is what "мне тревожно" is.
RUSSIAN = {
    "сном": "сон", "страхом": "страх", "тьмой": "тьма", "ожиданием": "ожидание", "груди": "грудь",
    "ночи": "ночь", "мыслей": "мысль", "моделями": "модель", "сознания": "сознание", "памятью": "память",
    "вопросов": "вопрос", "страницах": "страница", "городе": "город", "словам": "слово", "временем": "время",
    "именами": "имя", "думал": "думать", "шёл": "идти", "пишет": "писать", "напишу": "написать",
    "хотела": "хотеть", "спал": "спать", "обучаем": "обучать", "понимаешь": "понимать", "будет": "быть",
    "сделав": "сделать", "читающий": "читать", "тревожной": "тревожный", "красивые": "красивый",
    "глубокого": "глубокий", "новыми": "новый", "смысловых": "смысловой", "тёплым": "тёплый",
    "тревожно": "тревожно", "ёлки": "ёлка",
}
ENGLISH = {
    "running": "run", "mice": "mouse", "children": "child", "went": "go", "studies": "study", "thoughts": "thought",
    "models": "model", "was": "be", "better": "good", "feet": "foot", "wolves": "wolf", "ideas": "idea",
    "compressing": "compress", "sleeping": "sleep",
}
SEED = "Почему мне тревожно перед сном? Ночью в груди тьма, ожидание, тепло и страх."


@pytest.mark.parametrize("lang,words", [("ru", RUSSIAN), ("en", ENGLISH)])
def test_lemmas_of_word_lists(lang, words):
    got = {w: analyze(w, lang)[0].lemma for w in words}
    wrong = {w: (got[w], want) for w, want in words.items() if got[w] != want}
    assert not wrong, f"(got, expected): {wrong}"


def test_function_words_are_dropped_and_terms_kept():
    toks = {t.lemma: t.pos for t in analyze("Почему мне так тревожно перед сном, когда LoRA adapters учатся?")}
    for function_word in ("почему", "я", "так", "перед", "когда"):
        assert toks[function_word] == "FUNC"
    assert toks["lora"] == "NOUN" and toks["adapter"] == "NOUN" and toks["учиться"] == "VERB"
    assert analyze("ИИ-двойника")[0].lemma == "ии-двойник"  # abbreviation parts are not declined


def test_encode_is_deterministic_and_follows_the_config():
    first = encode(SEED)
    assert [encode(SEED).text for _ in range(3)] == [first.text] * 3
    assert first.scenes == [["тревожно", "сон"], ["ночью", "грудь", "тьма", "ожидание", "тепло", "страх"]]
    concat = encode(SEED, HyperConfig(join="concat"))
    assert concat.text == "тревожносон\nночьюгрудьтьмаожиданиетеплострах"
    assert encode(SEED, HyperConfig(separator=" ")).text.splitlines()[0] == "тревожно сон"
    capped = encode(SEED, HyperConfig(max_concepts=3, salience="pos"))
    assert [len(s) for s in capped.scenes] == [2, 3]
    assert capped.scenes[1] == ["грудь", "тьма", "ожидание"]  # nouns outrank the adverb, kept in text order


def test_salience_follows_corpus_frequency():
    cfg = HyperConfig(max_concepts=2)
    text = "Модель учит, а тревога растёт."
    common = Idf(docs=100, df={"модель": 90, "тревога": 1, "расти": 50, "учить": 60})
    rare = Idf(docs=100, df={"модель": 1, "тревога": 90, "расти": 50, "учить": 60})
    # idf × POS weight: тревога 4.92, расти 1.35 (× 0.8 verb), учить 1.20, модель 1.10 — then rare модель 5.62
    assert Encoder(cfg, common).encode(text).concepts == ["тревога", "расти"]
    assert Encoder(cfg, rare).encode(text).concepts == ["модель", "расти"]


def test_parse_splits_concatenated_chains_with_a_vocabulary():
    vocab = {"ночь", "грудь", "тьма", "ожидание", "тепло", "страх"}
    assert segment("ночьгрудьтьмаожиданиетеплострах", vocab) == ["ночь", "грудь", "тьма", "ожидание", "тепло",
                                                                 "страх"]
    assert parse("ночь·грудь\nтьма страх") == [["ночь", "грудь"], ["тьма", "страх"]]
    assert segment("абвгд", vocab) == ["абвгд"]  # unsplittable: kept whole


@pytest.mark.parametrize("bad", ["", "   ", "\n"])
def test_bad_inputs_raise_one_typed_error(bad):
    with pytest.raises(HyperError):
        encode(bad)
    with pytest.raises(HyperError):
        parse(bad)


def test_unknown_part_of_speech_is_a_config_error():
    with pytest.raises(HyperError, match="PRON"):
        Encoder(HyperConfig(pos=["NOUN", "PRON"]))


def test_cli_encode_decode_errors_are_one_line(tf, workspace):
    r = tf("hyper", "encode", SEED, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["scenes"][0] == ["тревожно", "сон"]
    r = tf("hyper", "encode", "")
    assert r.exit_code == 1 and r.output.count("\n") == 1 and r.output.startswith("error:")
    r = tf("hyper", "decode", "ночь·страх", "--adapter", str(workspace / "nowhere"))
    assert r.exit_code == 1 and r.output.startswith("error: no adapter")
    r = tf("hyper", "vocab")
    assert r.exit_code == 1 and r.output.startswith("error: no workspace")


def test_vocab_tokenizer_and_pairs(hyper_ws):
    from tokenizers import Tokenizer

    hyper = hyper_ws / "hyper"
    tok = Tokenizer.from_file(str(hyper / "tokenizer.json"))
    stats = json.loads((hyper / "vocab.json").read_text())
    assert tok.get_vocab_size() == stats["size"] + 2  # + [PAD], [UNK]
    top = stats["top"][0][0]
    assert tok.encode(f"{top}·{top} {top}").ids == [tok.token_to_id(top)] * 3  # one token per concept
    assert tok.encode("нетакогопонятия").tokens == ["[UNK]"]
    assert stats["qwen_tokens_per_idea_text"] > stats["concept_tokens_per_idea"] == 1.0
    rows = [json.loads(x) for x in (hyper / "hypertrain.jsonl").read_text().splitlines()]
    views = {r["meta"]["view"] for r in rows}
    assert views == {"hyper-encode", "hyper-decode"}
    train_convs = {r["meta"]["conversation_id"] for r in rows if r["meta"]["split"] == "train"}
    val_convs = {r["meta"]["conversation_id"] for r in rows if r["meta"]["split"] == "val"}
    assert train_convs and val_convs and not train_convs & val_convs  # split by conversation
    enc = next(r for r in rows if r["meta"]["view"] == "hyper-encode")
    assert enc["messages"][1]["content"] == enc["meta"]["hyperphrase"]
    assert enc["messages"][0]["content"].endswith(enc["meta"]["text"])
    n_val = sum(1 for _ in (hyper / "val.jsonl").open())
    assert n_val == sum(r["meta"]["split"] == "val" for r in rows)


def test_dataset_is_reproducible(hyper_copy, tf):
    path = hyper_copy / "hyper" / "hypertrain.jsonl"
    before = path.read_bytes()
    assert tf("hyper", "dataset", "--json", ws=hyper_copy).exit_code == 0
    assert path.read_bytes() == before
