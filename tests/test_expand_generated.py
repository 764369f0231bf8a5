"""Generated views and their quality gate.

The gate's decisions are checked on labelled answers (tests/data/expand_gate/cases.yaml: hand-written ones and
real answers of the embedded model), each read through its view exactly as a run reads it. End to end, the views
run through the openai backend against a scripted fake server: kept examples land in `examples`, the rest in
`example_rejects` with their reason, and a second run asks the server nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_expand import DIALOG, chatgpt, put, rich_ru, simple_en, store  # noqa: F401  (store: the fixture)

from twinforge.backends.base import BackendError, Request
from twinforge.backends.cache import call_key
from twinforge.backends.config import BackendConfig
from twinforge.backends.llamacpp import AVOID_BIAS, avoid_bias
from twinforge.distill.schema import Module
from twinforge.errors import ConfigError
from twinforge.expand import gate
from twinforge.expand.config import GENERATED_VIEWS, ExpandConfig, GateConfig
from twinforge.expand.generated import (
    EXAMPLES_PER_ASK,
    GENERATED,
    MAX_ASKS,
    VERSIONS,
    GenContext,
    candidates,
    load_prompt,
    voice,
)
from twinforge.expand.run import expand
from twinforge.expand.source import Turn
from twinforge.expand.stage import run_stage
from twinforge.store.example_rejects import backend_pass_rates, rejects, view_pass_rates

DATA = Path(__file__).parent / "data" / "expand_gate"
MODULES = yaml.safe_load((DATA / "modules.yaml").read_text(encoding="utf-8"))
CASES = yaml.safe_load((DATA / "cases.yaml").read_text(encoding="utf-8"))


def module(key: str) -> tuple[Module, list[Turn]]:
    fields = dict(MODULES[key])
    dialog = [Turn(f"{key}-{i}", role, text) for i, (role, text) in enumerate(fields.pop("dialog", []))]
    return Module(**fields), dialog


def verdicts(case: dict) -> list[gate.Verdict]:
    m, dialog = module(case["module"])
    others = [module(case["other"])[0]] if case.get("other") else []
    ctx = GenContext(m, dialog, "", others, 300, 0.2, own_words_min_chars=200)
    asks = GENERATED[case["view"]](ctx, 1)
    assert asks, f"{case['name']}: the view asks nothing of module {case['module']}"
    cands = candidates(asks[0], plain(asks[0], case["answer"]))
    corpus = gate.Corpus(GateConfig().near_duplicate, case.get("corpus", []))
    return gate.check(cands, {m.id: m}, [m.id] * len(cands), corpus, GateConfig())


def plain(ask, answer: str) -> str:
    """A labelled answer of a JSON prompt version ({"question": …, "answer": …}, {"line": …, "paragraph": …,
    "page": …}) as the plain-text versions' views read it (the parts, an empty line between them): the gate
    judges the same texts either way."""
    if ask.request.json_schema is not None:
        return answer
    try:
        data = json.loads(answer)
    except ValueError:
        return answer
    if isinstance(data, dict) and isinstance(data.get("turns"), list):  # walkthrough: turn after turn
        return "\n\n".join(str(t.get(k, "")) for t in data["turns"] if isinstance(t, dict) for k in ("person", "reply"))
    for keys in (("question", "answer"), ("line", "paragraph", "page")):
        if isinstance(data, dict) and data and set(data) <= set(keys):
            return "\n\n".join(str(data.get(k, "")) for k in keys).strip()
    return answer


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_gate_decides_the_labelled_cases(case):
    got = [v.reason or "keep" for v in verdicts(case)]
    assert got == case["expect"], [v.detail for v in verdicts(case)]


def test_the_labelled_set_has_good_and_bad_and_real_model_answers():
    expected = [e for c in CASES for e in c["expect"]]
    assert "keep" in expected and len(set(expected)) >= 8
    assert any(c["source"] != "hand" for c in CASES), "no real answer of a model among the cases"
    assert {c["view"] for c in CASES} == set(GENERATED_VIEWS)


def test_examples_per_ask_match_what_the_views_build():
    """The volume planner turns kept examples into requests by EXAMPLES_PER_ASK: it must be what a read answer
    gives."""
    seen = set()
    for case in CASES:
        m, dialog = module(case["module"])
        others = [module(case["other"])[0]] if case.get("other") else []
        asks = GENERATED[case["view"]](GenContext(m, dialog, "", others, 300, 0.2), 1)
        cands = candidates(asks[0], plain(asks[0], case["answer"]))
        if any(c.error for c in cands):
            continue  # an unreadable answer is one candidate whatever the view
        assert len(cands) == EXAMPLES_PER_ASK.get(case["view"], 1), case["name"]
        seen.add(case["view"])
    assert {"depth", "paper_applied"} <= seen
    for key in MODULES:  # a view with a limit asks no more than it, whatever its count
        m, dialog = module(key)
        for view, most in MAX_ASKS.items():
            assert len(GENERATED[view](GenContext(m, dialog, "", [], 300, 0.2), 5)) <= most


def test_every_rejection_says_why():
    for case in CASES:
        for v in verdicts(case):
            assert v.keep or (v.reason and v.detail), case["name"]


def test_near_duplicate_within_the_run_and_across_modules():
    said = ("One adapter per scene keeps every scene removable without retraining the others, and a wrong scene "
            "costs one small training run instead of a whole new adapter for the twin.")
    corpus = gate.Corpus(0.7, [said])
    assert corpus.duplicate_of(said.replace("a whole new", "an entire new").replace(",", ""))
    assert not corpus.duplicate_of("Stacking small adapters at inference costs less than one retrained adapter.")
    corpus.add(["Stacking small adapters at inference costs less than one retrained adapter."])
    assert corpus.duplicate_of("Stacking small adapters at inference costs less than one retrained adapter!")


def test_every_prompt_exists_in_russian_and_english_with_the_same_sections():
    for view in [*GENERATED_VIEWS, "judge"]:
        en, ru = load_prompt(view, "en"), load_prompt(view, "ru")
        assert (en.language, ru.language) == ("en", "ru") and en.version == ru.version == VERSIONS[view]
        assert set(en.asks) == set(ru.asks)
        assert en.system and en.user and ru.system and ru.user
        assert load_prompt(view, "de").language == "en"  # no German prompt: the English one


# --- end to end through a scripted OpenAI-compatible server ---------------------------------------------------

GOOD = {
    "paraphrase": {"question": "Каким образом ужать длинную переписку до модуля мышления?"},
    "new_question": {"question": "Что остаётся от разговора, когда его сжали в модуль?",
                     "answer": "Остаётся фраза, понятия и метаход: фраза сжимает суть, понятия и метаход "
                               "разворачивают её обратно."},
    "depth": {"line": "Диалог сжимается в фразу, понятия и метаход.",
              "paragraph": "Модуль держит три слоя: фразу, понятия и метаход. Фраза — суть, понятия — из чего "
                           "она сделана, метаход — как мысль к ней пришла.",
              "page": "Тот же текст, что и абзац: фраза, понятия и метаход, один за другим, без нового."},
}


def reply_for(body: dict) -> str:
    """The fake model: good answers for paraphrase, new_question and depth; the walkthrough loops."""
    system = body["messages"][0]["content"]
    if "Оцени пример" in system:  # the judge: poor, except for the paraphrase
        return json.dumps({"score": 4 if "Каким образом" in body["messages"][1]["content"] else 2, "why": "."})
    if "переписываешь сообщение" in system:  # the plain-text versions: the text, no JSON
        return GOOD["paraphrase"]["question"]
    if "пары «вопрос — ответ»" in system or "question-and-answer pairs" in system:
        return GOOD["new_question"]["question"] + "\n\n" + GOOD["new_question"]["answer"]
    if "трёх глубинах" in system or "three depths" in system:
        d = GOOD["depth"]  # the page repeats the paragraph: a near-duplicate
        return "\n\n".join([d["line"], d["paragraph"], d["paragraph"]])
    return "\n\n".join(["Что такое модуль?", "Модуль это фраза понятия метаход."] * 3)


@pytest.fixture
def server(scripted):
    def reply(body, headers):
        content = reply_for(body)
        return 200, {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                     "model": "fake", "usage": {"prompt_tokens": 10, "completion_tokens": 10}}, {}
    return scripted(reply)


def generated_cfg(url: str, **changes) -> ExpandConfig:
    gen = {"views": ["paraphrase", "new_question", "walkthrough", "depth"], "per_view": 1, "tries": 1,
           "backend": BackendConfig(name="openai", model="fake", base_urls=[url], retries=0).model_dump()}
    return ExpandConfig(generated=gen | changes)


def test_generated_views_run_end_to_end_and_keep_rejects_with_reasons(store, server):  # noqa: F811
    url, seen = server
    put(store, rich_ru(store))
    report = expand(store, generated_cfg(url))
    gen = report.generated
    assert gen["backend"] == "openai:fake" and len(seen) == 4  # one request per view for the one module
    rows = {r["view"]: r for r in store.db.execute("SELECT * FROM examples WHERE view IN ('paraphrase', "
                                                   "'new_question', 'depth', 'walkthrough')")}
    assert {"paraphrase", "new_question", "depth"} <= set(rows) and "walkthrough" not in rows
    para = json.loads(rows["paraphrase"]["messages"])
    assert para[0]["content"] == GOOD["paraphrase"]["question"] and para[1]["role"] == "assistant"
    meta = json.loads(rows["paraphrase"]["meta"])
    assert meta["prompt_version"] == "paraphrase.v3" and meta["backend"] == "openai:fake"
    reasons = {(r["view"], r["reason"]) for r in rejects(store)}
    assert reasons == {("walkthrough", "degenerate"), ("depth", "near-duplicate")}
    assert all(r["detail"] and r["prompt_version"] and r["backend"] == "openai:fake" for r in rejects(store))
    assert view_pass_rates(store) == {"depth": (2, 1), "new_question": (1, 0), "paraphrase": (1, 0),
                                      "walkthrough": (0, 1)}
    assert backend_pass_rates(store) == {"openai:fake": (4, 2)}
    assert gen["views"]["depth"] == {"kept": 2, "rejected": 1, "pass_rate": 0.667}
    assert report.volumes["views"]["paraphrase"]["examples"] == 1  # counted in the volumes like any view


def test_a_second_run_asks_nothing_and_a_changed_module_asks_only_the_cache(store, server):  # noqa: F811
    url, seen = server
    put(store, rich_ru(store))
    expand(store, generated_cfg(url))
    before = store.db.execute("SELECT id, messages FROM examples ORDER BY id").fetchall()
    again = expand(store, generated_cfg(url)).generated
    assert len(seen) == 4 and again["unchanged"] == 1 and again["calls"] == 0
    assert store.db.execute("SELECT id, messages FROM examples ORDER BY id").fetchall() == before
    # a gate setting changed: the module is gated again from the cached answers, no request is sent
    regated = expand(store, generated_cfg(url, gate={"near_duplicate": 1.0})).generated
    assert len(seen) == 4 and regated["cache_hits"] == 4 and regated["generated"] == 1


def test_template_re_expansion_keeps_generated_examples(store, server):  # noqa: F811
    url, _ = server
    put(store, rich_ru(store))
    expand(store, generated_cfg(url))
    n = store.db.execute("SELECT count(*) FROM examples WHERE view = 'paraphrase'").fetchone()[0]
    cfg = generated_cfg(url)
    cfg.per_view = 3  # the template views change; the generated ones stay
    expand(store, cfg)
    assert store.db.execute("SELECT count(*) FROM examples WHERE view = 'paraphrase'").fetchone()[0] == n == 1


def test_dropping_a_view_from_the_config_drops_its_examples_and_rejects(store, server):  # noqa: F811
    url, _ = server
    put(store, rich_ru(store))
    expand(store, generated_cfg(url))
    expand(store, generated_cfg(url, views=["paraphrase"]))
    assert set(view_pass_rates(store)) == {"paraphrase"}


def test_the_optional_judge_sets_aside_low_scores(store, server):  # noqa: F811
    url, seen = server
    put(store, rich_ru(store))
    expand(store, generated_cfg(url, gate={"judge": True, "judge_threshold": 3}))
    assert view_pass_rates(store) == {"depth": (0, 3), "new_question": (0, 1), "paraphrase": (1, 0),
                                      "walkthrough": (0, 1)}
    assert {r["reason"] for r in rejects(store, view="new_question")} == {"judge-low"}
    # the judge saw only what passed the rules: not the looping walkthrough (near-duplicates are found after it)
    assert len(seen) == 4 + 5


def test_the_judge_can_be_another_backend(store, server, scripted):  # noqa: F811
    url, seen = server
    judged = scripted(lambda body, headers: (200, {"choices": [{"message": {"role": "assistant", "content":
                                                   '{"score": 5, "why": "fine"}'}, "finish_reason": "stop"}]}, {}))
    judge = BackendConfig(name="openai", model="judge", base_urls=[judged[0]], retries=0).model_dump()
    put(store, rich_ru(store))
    expand(store, generated_cfg(url, gate={"judge": True, "judge_backend": judge}))
    assert len(seen) == 4 and len(judged[1]) == 5  # generation on one server, the five judgements on the other
    assert view_pass_rates(store)["new_question"] == (1, 0)


def test_extractive_backend_generates_nothing_and_says_so(store):  # noqa: F811
    put(store, rich_ru(store), simple_en())
    cfg = ExpandConfig(generated={"views": ["paraphrase", "depth"]})
    result = run_stage(store, cfg)
    assert result.ok and any("extractive backend has no model" in n for n in result.notes)
    assert not view_pass_rates(store)
    assert "generated" not in result.summary


def test_stage_summary_reports_the_pass_rate_per_view(store, server):  # noqa: F811
    url, _ = server
    put(store, rich_ru(store))
    result = run_stage(store, generated_cfg(url))
    gen = result.summary["generated"]
    assert gen["backend"] == "openai:fake" and gen["views"]["walkthrough"] == 0.0
    assert gen["views"]["paraphrase"] == 1.0 and gen["reasons"] == {"degenerate": 1, "near-duplicate": 1}


def test_server_down_stops_the_run_and_keeps_the_template_examples(store, tmp_path):  # noqa: F811
    put(store, rich_ru(store))
    cfg = ExpandConfig(generated={"views": ["paraphrase"], "backend": {
        "name": "openai", "model": "x", "base_urls": ["http://127.0.0.1:9/v1"], "retries": 0, "timeout": 2}})
    with pytest.raises(BackendError):
        expand(store, cfg)
    assert store.db.execute("SELECT count(*) FROM examples").fetchone()[0] > 0


def test_unknown_generated_view_is_a_config_error(store):  # noqa: F811
    put(store, rich_ru(store))
    with pytest.raises(ConfigError, match="unknown generated view"):
        expand(store, ExpandConfig(generated={"views": ["poem"]}))


def test_cli_lists_rejected_examples_with_reasons(store, server, tf):  # noqa: F811
    url, _ = server
    put(store, rich_ru(store))
    expand(store, generated_cfg(url))
    out = tf("examples", "--rejected", "--json", ws=store.workspace)
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in out.output.splitlines() if x.startswith("{")]
    assert {(x["view"], x["reason"]) for x in lines} == {("walkthrough", "degenerate"), ("depth", "near-duplicate")}
    plain = tf("examples", "--rejected", "--reason", "degenerate", ws=store.workspace)
    assert "walkthrough" in plain.output and "near-duplicate" not in plain.output


# --- narrow few-shot asks and retries ----------------------------------------------------------------------


def test_a_prompt_with_examples_shows_them_as_earlier_turns_and_a_retry_rotates_them():
    m, dialog = module("ru")
    ctx = GenContext(m, dialog, "", [], 300, 0.2, own_words_min_chars=0)
    ask = GENERATED["new_question"](ctx, 1)[0]
    p = load_prompt("new_question", "ru")
    assert len(p.examples) >= 2 and ask.request.json_schema is None  # plain text: no JSON grammar
    roles = [x["role"] for x in ask.request.messages]
    assert roles == ["system"] + ["user", "assistant"] * len(p.examples) + ["user"]
    assert ask.request.messages[1]["content"] == p.examples[0][0]
    assert ask.request.messages[2]["content"] == p.examples[0][1]
    assert ctx.focus(m.concepts, 0)[0] in ask.request.messages[-1]["content"]  # the words it must use
    again = ask.retry(1)
    assert again.messages[1]["content"] == p.examples[1][0] and again.messages[-1] == ask.request.messages[-1]
    assert again.temperature > ask.request.temperature


def test_focus_hands_each_item_as_many_concepts_as_the_gate_wants_named():
    m, dialog = module("ru")
    ctx = GenContext(m, dialog, "", [], 300, 0.2, min_concepts=0.34)
    concepts = [f"понятие{i}" for i in range(10)]
    first, second = ctx.focus(concepts, 0), ctx.focus(concepts, 1)
    assert len(first) == len(second) == 4 and not set(first) & set(second)
    assert ctx.focus(concepts[:2], 0) == concepts[:1] and ctx.focus([], 3) == []
    assert len(ctx.focus(concepts, 0, spare=1)) == 5 and len(ctx.focus(concepts[:3], 0, spare=5)) == 3


def test_a_plain_answer_is_read_as_question_and_answer():
    m, dialog = module("ru")
    ask = GENERATED["new_question"](GenContext(m, dialog, "", [], 300, 0.2), 1)[0]
    (c,) = candidates(ask, "Зачем нужен вопрос?\n\nЧтобы ответить на него двумя фразами.")
    assert [x["content"] for x in c.messages] == ["Зачем нужен вопрос?", "Чтобы ответить на него двумя фразами."]
    (c,) = candidates(ask, "Только вопрос без ответа?")
    assert c.error  # no answer part: unparsed, not an example with an empty turn


COPY_FIRST = "Как сжать длинный диалог в модуль мышления?"


@pytest.fixture
def retrying(scripted):
    """A fake model whose first paraphrase copies the person's question and whose retry (another order of the
    examples) rewords it; its walkthrough always loops."""
    def reply(body, headers):
        system = body["messages"][0]["content"]
        if "переписываешь сообщение" in system:
            first_try = body["messages"][1]["content"] == load_prompt("paraphrase", "ru").examples[0][0]
            content = body["messages"][-1]["content"] if first_try else GOOD["paraphrase"]["question"]
        else:
            content = reply_for(body)
        return 200, {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                     "model": "fake", "usage": {"prompt_tokens": 10, "completion_tokens": 10}}, {}
    return scripted(reply)


def test_what_the_gate_sets_aside_is_asked_again_until_it_passes_or_the_tries_are_spent(store, retrying):  # noqa: F811
    url, seen = retrying
    put(store, rich_ru(store))
    gen = expand(store, generated_cfg(url, views=["paraphrase", "walkthrough"], tries=3)).generated
    # paraphrase: copied, then kept on the second try; walkthrough: three tries, all loops
    assert len(seen) == 2 + 2 + 1 and gen["retries"] == 3
    assert view_pass_rates(store) == {"paraphrase": (1, 0), "walkthrough": (0, 1)}
    row = store.db.execute("SELECT messages, meta FROM examples WHERE view = 'paraphrase'").fetchone()
    assert json.loads(row[0])[0]["content"] == GOOD["paraphrase"]["question"] and json.loads(row[1])["try"] == 2
    (walk,) = rejects(store, view="walkthrough")
    assert walk["reason"] == "degenerate" and "try 3 of 3" in walk["detail"]
    again = expand(store, generated_cfg(url, views=["paraphrase", "walkthrough"], tries=3)).generated
    assert again["calls"] == 0 and len(seen) == 5  # the retries were cached too


def test_a_paraphrase_asks_the_model_to_avoid_the_questions_words():
    m, dialog = module("ru")
    ask = GENERATED["paraphrase"](GenContext(m, dialog, "", [], 300, 0.2, own_words_min_chars=0), 1)[0]
    assert ask.request.avoid == dialog[0].text and ask.retry(1).avoid == dialog[0].text
    assert not GENERATED["new_question"](GenContext(m, dialog, "", [], 300, 0.2), 1)[0].request.avoid


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_a_paraphrase_is_asked_in_the_persons_voice(lang):
    """Issue 14: paraphrases keep the person's register and vocabulary, from the persona card when there is one
    and their own messages."""
    m, dialog = module(lang)
    card = "Пишет коротко, без вежливостей; любит слово «связка»." if lang == "ru" else "Writes tersely; says 'glue'."
    ask = GENERATED["paraphrase"](GenContext(m, dialog, voice(card, dialog), [], 300, 0.2, own_words_min_chars=0),
                                  1)[0]
    system = ask.request.messages[0]["content"]
    assert card in system and dialog[0].text[:40] in system


def test_avoid_biases_word_tokens_only_and_keys_the_cache_only_when_set():
    pieces = {1: "Как", 2: " сжать", 3: " —", 4: " a", 5: "?", 6: " диалог"}
    tokenize = lambda data, add_bos: [1, 2, 3, 4, 6, 5]
    detokenize = lambda tokens: "".join(pieces[t] for t in tokens).encode()
    assert avoid_bias(tokenize, detokenize, "Как сжать — a диалог?") == {1: AVOID_BIAS, 2: AVOID_BIAS, 6: AVOID_BIAS}
    assert AVOID_BIAS < 0
    plain_request = Request([{"role": "user", "content": "x"}])
    assert call_key("b", "m", "v", plain_request) == call_key("b", "m", "v", Request([{"role": "user", "content": "x"}],
                                                                                     avoid=""))
    assert call_key("b", "m", "v", plain_request) != call_key("b", "m", "v", Request(plain_request.messages, avoid="x"))
