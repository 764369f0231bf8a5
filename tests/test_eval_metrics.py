"""Eval metrics, probes, failure catalogue, diff, report and compare on synthetic generations (no model)."""

from __future__ import annotations

import math

import pytest

from twinforge.errors import ConfigError
from twinforge.eval.active import ActiveCheck, AdapterInactiveError, require_active
from twinforge.eval.compare import compare
from twinforge.eval.config import Thresholds
from twinforge.eval.diff import changed_share, diff_html, word_diff
from twinforge.eval.failures import catalogue
from twinforge.eval.generate import Generation, cut_turn
from twinforge.eval.metrics import Answer
from twinforge.eval.metrics.coverage import answer_coverage, concept_coverage
from twinforge.eval.metrics.diversity import distinct_1, distinct_2, repetition_rate
from twinforge.eval.metrics.language import language_consistency
from twinforge.eval.metrics.length import mean_words
from twinforge.eval.metrics.perplexity import _ids
from twinforge.eval.probes import Probe, spread, user_probes
from twinforge.eval.report import render_html
from twinforge.eval.texts import control_texts


def test_distinct_and_repetition():
    varied = [Answer("the quick brown fox jumps over the lazy dog")]
    loop = [Answer("я думаю что я думаю что я думаю что я думаю что я думаю что")]
    assert distinct_1(varied) == pytest.approx(8 / 9)
    assert distinct_2(varied) == 1.0
    assert distinct_2(loop) < 0.3
    assert repetition_rate(varied) == 0.0
    assert repetition_rate(loop) > 0.6
    assert distinct_1([]) is None and repetition_rate([]) is None
    assert mean_words([Answer("a b c"), Answer("d")]) == 2


def test_concept_coverage_matches_russian_word_forms():
    a = Answer("Здесь работают инверсии и адаптеры, а не модель с нуля.", "ru", ["инверсия", "адаптер", "граф знаний"])
    assert answer_coverage(a) == pytest.approx(2 / 3)
    assert answer_coverage(Answer("text", "en")) is None  # no concepts: does not count
    assert concept_coverage([a, Answer("nothing relevant", "en", ["inversion"])]) == pytest.approx(1 / 3)


def test_language_consistency():
    answers = [Answer("Это ответ на русском языке, как и вопрос.", "ru"),
               Answer("This answer drifted into English instead.", "ru"),
               Answer("This one is English as it should be.", "en"),
               Answer("ok", "und")]
    assert language_consistency(answers) == pytest.approx(2 / 3)


def test_word_diff_round_trips_and_escapes():
    base, new = "the model says <b>hello</b> world", "the model says goodbye world"
    ops = word_diff(base, new)
    assert "".join(t for op, t in ops if op != "delete") == new
    assert "".join(t for op, t in ops if op != "insert") == base
    h = diff_html(base, new)
    assert "<ins>goodbye</ins>" in h and "&lt;b&gt;hello&lt;/b&gt;" in h and "<b>" not in h
    assert changed_share(base, base) == 0 and changed_share("a b", "c d") == 1


def test_cut_turn_stops_at_the_next_speaker():
    assert cut_turn(" Ответ.\n\nuser: ещё вопрос\n\nassistant: x") == "Ответ."


def test_perplexity_window_keeps_the_target():
    class Tok:
        chat_template = None

        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": ([0] if add_special_tokens else []) + [len(w) for w in text.split()]}

    p, t = _ids(Tok(), "a " * 300, "bb " * 300, 64)
    assert len(p) + len(t) == 64 and len(t) == 32 and len(p) == 32
    p, t = _ids(Tok(), "", "bb " * 10, 64)
    assert p == [] and t[0] == 0 and len(t) == 11


def test_control_text_is_bilingual_and_small():
    texts = control_texts()
    langs = {Answer(t).words[0].isascii() for t in texts}
    assert langs == {True, False}
    assert 2_000 < sum(len(t) for t in texts) < 12_000


def test_user_probes(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("- Что такое инверсия?\n- prompt: Explain LoRA\n  concepts: [adapter, rank]\n  id: lora\n"
                 "- messages: [{role: user, content: hi there}]\n  system: be brief\n", encoding="utf-8")
    ps = user_probes(f)
    assert [p.kind for p in ps] == ["user"] * 3
    assert ps[0].language == "ru" and ps[1].id == "lora" and ps[1].concepts == ["adapter", "rank"]
    assert ps[2].messages[0] == {"role": "system", "content": "be brief"}
    f.write_text("- prompt: ''\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no prompt"):
        user_probes(f)
    f.write_text("- {prompt: x, colour: red}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        user_probes(f)
    with pytest.raises(ConfigError, match="not found"):
        user_probes(tmp_path / "missing.yaml")


def test_spread_takes_from_each_source_in_turn():
    def ps(kind, n):
        return [Probe(f"{kind}{i}", kind, [{"role": "user", "content": "x"}], "en") for i in range(n)]

    got = spread([ps("heldout", 5), ps("concept", 1), ps("inversion", 5)], 6)
    assert [p.id for p in got] == ["heldout0", "concept0", "inversion0", "heldout1", "inversion1", "heldout2"]


def _gen(model, pid, text, mode="greedy", raw=None):
    return Generation(model, pid, mode, text, raw if raw is not None else text, 10, 0.1, "transformers")


def test_failure_catalogue_flags_each_mode_with_evidence():
    probes = [Probe(f"p{i}", "heldout", [{"role": "user", "content": "Расскажи про адаптеры подробнее"}], "ru")
              for i in range(4)]
    train = ["один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать"]
    base = [_gen("base", p.id, "Обычный ответ базовой модели про адаптеры.") for p in probes]
    bad = [
        _gen("bad", "p0", "и снова и снова и снова и снова и снова и снова и снова и снова"),
        _gen("bad", "p1", "This is an English answer now, not Russian.", raw="This is an English answer<|im_start|>"),
        _gen("bad", "p2", "Пароль от базы: <SECRET:password>, почта <EMAIL>, и ещё текст."),
        _gen("bad", "p3", "ну вот: один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать"),
    ]
    metrics = {"base": {"ppl_heldout": 30.0, "ppl_train": 28.0, "ppl_control": 20.0},
               "bad": {"ppl_heldout": 25.0, "ppl_train": 5.0, "ppl_control": 40.0},
               "good": {"ppl_heldout": 20.0, "ppl_train": 18.0, "ppl_control": 21.0}}
    good = [_gen("good", p.id, "Хороший ответ про адаптеры, иначе сформулированный.") for p in probes]
    checks = [ActiveCheck("bad", 0.5, 4, 4), ActiveCheck("good", 0.0, 0, 4)]
    th = Thresholds(regurgitation_share=0.1, language_drift=0.2)
    fs = catalogue(metrics, base + bad + good, probes, checks, train, th)
    kinds = {(f.model, f.kind) for f in fs}
    assert ("good", "inactive") in kinds
    for k in ("overfitting", "forgetting", "format-collapse", "language-drift", "regurgitation", "leakage"):
        assert ("bad", k) in kinds, k
    assert not {k for m, k in kinds if m == "base"}
    assert {k for m, k in kinds if m == "good"} == {"inactive"}
    leak = next(f for f in fs if f.kind == "leakage")
    assert "<SECRET:password>" in leak.evidence and leak.examples[0]["probe_id"] == "p2"
    assert any("<|im_start|>" in f.evidence for f in fs if f.kind == "format-collapse")
    forgetting = next(f for f in fs if f.kind == "forgetting")
    assert "×2.00" in forgetting.evidence
    assert all(f.evidence for f in fs)


def test_require_active_is_loud():
    require_active([ActiveCheck("a", 0.3, 1, 2)])
    with pytest.raises(AdapterInactiveError, match="INACTIVE: z behaves exactly like the base"):
        require_active([ActiveCheck("a", 0.3, 1, 2), ActiveCheck("z", 0.0, 0, 2)])


def _run(rid, ppl, failures=()):
    return {"id": rid, "created_at": "now", "dataset": "default", "seconds": 1.0,
            "models": [{"name": "base", "kind": "base"}, {"name": "a1", "kind": "adapter", "engine": "transformers"}],
            "probes": [{"id": "p1", "kind": "user", "language": "en", "concepts": ["x"], "reference": "ref <i>",
                        "messages": [{"role": "user", "content": "<script>alert(1)</script>"}]}],
            "metrics": {"base": {"ppl_heldout": 30.0, "distinct_2": 0.5, "length_words": 10.0},
                        "a1": {"ppl_heldout": ppl, "distinct_2": 0.6, "length_words": 12.0}},
            "active": [{"model": "a1", "active": True, "visible": True, "max_logit_diff": 0.4, "outputs_differ": 1,
                        "outputs_compared": 1}],
            "failures": list(failures),
            "generations": [{"model": "base", "probe_id": "p1", "mode": "greedy", "text": "old <b>words</b>"},
                            {"model": "a1", "probe_id": "p1", "mode": "greedy", "text": "new <b>words</b>"}]}


def test_report_html_escapes_everything_and_shows_the_diff():
    h = render_html(_run(3, 20.0, [{"kind": "leakage", "model": "a1", "evidence": "<EMAIL> leaked",
                                    "examples": [{"probe_id": "p1", "mode": "greedy", "snippet": "<EMAIL>"}]}]))
    assert "<script>" not in h and "&lt;script&gt;" in h
    assert "<b>words" not in h and "<ins>new</ins>" in h and "<del>old</del>" in h
    assert "&lt;EMAIL&gt; leaked" in h
    assert 'src="data:image/png;base64,' in h
    assert "perplexity: held-out turns" in h and "-10.000" in h and 'class="delta better"' in h


def test_compare_says_better_or_worse_with_deltas():
    c = compare(_run(1, 20.0), _run(2, 25.0, [{"kind": "forgetting", "model": "a1", "evidence": "x"}]))
    row = next(r for r in c["rows"] if r["model"] == "a1" and r["metric"] == "ppl_heldout")
    assert row["delta"] == 5.0 and row["verdict"] == "worse" and math.isclose(row["relative"], 0.25)
    assert c["failures_new"] == [{"model": "a1", "kind": "forgetting"}]
    length = next(r for r in c["rows"] if r["model"] == "a1" and r["metric"] == "length_words")
    assert length["verdict"] == "same"


def test_a_judge_that_failed_is_no_verdict_not_a_tie():
    """A dead judge used to count every probe as a tie (0.5): it read as 'no difference'."""
    from twinforge.backends.base import BackendError, Completion
    from twinforge.eval.metrics.judge import win_rate

    class Judge:
        def __init__(self, answers):
            self.answers = answers

        def complete_many(self, requests):
            return self.answers[:len(requests)]

    items = [("q1", "mine", "base", None), ("q2", "mine2", "base2", None)]
    dead = win_rate(Judge([BackendError("connection refused"), BackendError("connection refused")]), items)
    assert dead.rate is None and dead.judged == 0 and len(dead.errors) == 2
    assert "connection refused" in dead.errors[0]
    half = win_rate(Judge([Completion(text="A", model="j"), Completion(text="no idea", model="j")]), items)
    assert half.judged == 1 and half.rate in (0.0, 1.0) and "no verdict" in half.errors[0]
