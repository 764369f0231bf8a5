"""The distill stage: kept dialogs → thinking modules, on the sample archive and the seeds, through the CLI."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import SAMPLE, rows

from twinforge.backends import get_backend
from twinforge.backends.base import BackendError, Completion, Request
from twinforge.config import BackendConfig, DistillConfig
from twinforge.distill.assemble import ground_phrase, match_quotes, merge, resolve_meta_move, top_up_quotes
from twinforge.distill.render import (
    Dialog,
    PromptStrategy,
    Turn,
    chunk_dialog,
    split_text,
)
from twinforge.distill.repair import Draft, DraftError, loads, parse_draft
from twinforge.distill.rules import EXTRACTIVE_VERSION, meta_move_by_rules
from twinforge.distill.run import distill, load_dialogs
from twinforge.distill.schema import META_MOVES, Module
from twinforge.distill.taxonomy import names as taxonomy_names
from twinforge.store import Store

# ids from examples/sample-archive/README.md
DISTILL = "68381a57-0c81-8008-9619-5537f94f39f9"
STORE_EN = "6866aa23-8e90-8000-bf68-72da97af9daa"
TOKENS = "683df050-0654-8003-8205-988f86e8de81"
SUBSTANCE = [DISTILL, "68564364-5ddb-8000-bc0c-75e5e20c599e", STORE_EN, "686b6468-b737-800e-9ecb-91af0fc806fa",
             TOKENS]
CHATTER = ["67d4450d-9222-8006-a8a0-cbce38b0eaca", "6803da1d-6877-8008-b95a-c77dbed494de",
           "67a9eef0-efab-800a-8f81-f2b9d27d7be1", "677a4a1e-d4db-8006-a97a-2491e471b9b0"]
DUPLICATE_Q = "687d4702-7a54-800c-bd74-777ab8565a0d"  # its only question is a duplicate: no words of the person left


def count(ws: Path, table: str) -> int:
    return rows(ws, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def modules(ws: Path) -> dict[str, Module]:
    return {r["conversation_id"]: Module.model_validate_json(r["json"])
            for r in rows(ws, "SELECT conversation_id, json FROM modules")}


def run_json(tf, *args) -> dict:
    r = tf("distill", "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def assert_quotes_verbatim(ws: Path, mods: dict[str, Module]) -> int:
    n = 0
    for cid, m in mods.items():
        for q in m.quotes:
            msg = rows(ws, "SELECT c.text, c.conversation_id, m.role FROM clean_messages c JOIN messages m"
                           " ON m.id = c.message_id WHERE c.message_id = ?", q.message_id)
            assert msg, f"{q.message_id} is not a message"
            assert msg[0]["conversation_id"] == cid and msg[0]["role"] == "user"
            assert q.text in msg[0]["text"], (q.text, msg[0]["text"])
            n += 1
    return n


# --- the stage on the sample archive (extractive backend: no model) ------------------------------------------


def test_one_valid_module_per_substantive_conversation(cleaned, tf):
    report = run_json(tf)
    mods = modules(cleaned)
    assert set(SUBSTANCE) <= set(mods)
    assert not set(CHATTER) & set(mods), "chatter was distilled"
    assert DUPLICATE_Q not in mods
    with_user_text = {r["conversation_id"] for r in rows(
        cleaned, "SELECT DISTINCT c.conversation_id FROM clean_messages c JOIN messages m ON m.id = c.message_id"
                 " WHERE c.keep = 1 AND m.role = 'user'")}
    assert set(mods) == with_user_text
    assert report["distilled"] == len(mods) == report["eligible"] and report["failed"] == 0
    for cid, m in mods.items():
        assert m.id.startswith("m-") and m.conversation_id == cid and m.kind == "dialog"
        assert m.phrase and m.concepts and m.meta_move in taxonomy_names()
        assert m.backend == "extractive:extractive" and m.prompt_version == EXTRACTIVE_VERSION
        kept = {r["message_id"] for r in rows(cleaned, "SELECT message_id FROM clean_messages WHERE keep = 1"
                                                       " AND conversation_id = ?", cid)}
        assert set(m.message_ids) <= kept
    assert mods[STORE_EN].language == "en" and mods[DISTILL].language == "ru"
    assert mods[TOKENS].meta_move == "scaling-estimate"  # "Сколько … токенов … 15 000 страниц"
    assert any(m.meta_move == "inversion" for m in mods.values())  # "переверни", "наоборот"


def test_quotes_are_the_persons_verbatim_text_with_their_message_ids(cleaned, tf):
    run_json(tf)
    mods = modules(cleaned)
    assert assert_quotes_verbatim(cleaned, mods) >= len(mods)  # the extractive phrase is always quoted
    for m in mods.values():
        assert m.phrase in {q.text for q in m.quotes}


def test_markdown_shows_the_three_layers_first_and_yaml_is_the_module(cleaned, tf):
    run_json(tf)
    mods = modules(cleaned)
    for cid, m in mods.items():
        md = (cleaned / "modules" / f"{m.id}.md").read_text(encoding="utf-8")
        lines = [x for x in md.splitlines() if x.strip()]
        assert lines[0] == f"# {m.title}"
        assert lines[1] == f"**Phrase:** {m.phrase}"
        assert lines[2].startswith("**Concepts:** ") and m.concepts[0] in lines[2]
        assert lines[3] == f"**Meta-move:** {m.meta_move}"
        assert f"conversation `{cid}`" in lines[-1]
        for q in m.quotes:
            assert f"`{q.message_id}`" in md
        scene = yaml.safe_load((cleaned / "modules" / f"{m.id}.yaml").read_text(encoding="utf-8"))
        assert Module.model_validate(scene) == m
    listed = [json.loads(x) for x in tf("modules", "--json").output.splitlines()]
    assert {x["conversation_id"] for x in listed} == set(mods)
    assert set(listed[0]) >= {"id", "title", "language", "phrase", "meta_move", "conversation_id"}
    assert f"{len(mods)} modules" in tf("modules").output


def test_rerun_is_free_and_force_hits_the_cache(cleaned, tf):
    first = run_json(tf)
    calls, before = count(cleaned, "llm_calls"), {k: m.model_dump() for k, m in modules(cleaned).items()}
    assert calls == first["calls"] == first["chunks"] > 0
    again = run_json(tf)
    assert again["pending"] == 0 and again["done_before"] == first["distilled"] and again["calls"] == 0
    forced = run_json(tf, "--force")
    assert forced["distilled"] == first["distilled"] and forced["calls"] == 0
    assert forced["cache_hits"] == forced["chunks"]
    assert count(cleaned, "llm_calls") == calls
    assert {k: m.model_dump() for k, m in modules(cleaned).items()} == before


def test_limit_then_full_run_does_only_the_rest(cleaned, tf):
    part = run_json(tf, "--limit", "2")
    assert part["distilled"] == 2 and count(cleaned, "modules") == 2
    rest = run_json(tf)
    assert rest["done_before"] == 2 and rest["distilled"] == rest["eligible"] - 2
    assert rest["calls"] == rest["chunks"]  # nothing finished was asked again
    statuses = [r["status"] for r in rows(cleaned, "SELECT status FROM runs WHERE stage = 'distill'")]
    assert statuses == ["ok", "ok"]


class Killed:
    """The extractive backend, killed (Ctrl-C) during its second batch."""

    def __init__(self):
        self.inner = get_backend(BackendConfig(name="extractive"))
        self.name, self.model, self.batches = self.inner.name, self.inner.model, 0

    def complete(self, request):
        return self.inner.complete(request)

    def complete_many(self, requests):
        self.batches += 1
        if self.batches == 2:
            raise KeyboardInterrupt
        return self.inner.complete_many(requests)


def test_killed_run_keeps_finished_modules_and_resumes(cleaned, tf):
    with Store(cleaned) as store, pytest.raises(KeyboardInterrupt):
        distill(store, DistillConfig(), backend=Killed())
    done = count(cleaned, "modules")
    assert 0 < done < 8  # the first batch was committed, the second was not
    assert [r["status"] for r in rows(cleaned, "SELECT status FROM runs WHERE stage = 'distill'")] == ["interrupted"]
    assert len(list((cleaned / "modules").glob("*.md"))) == done
    rest = run_json(tf)
    assert rest["done_before"] == done and rest["distilled"] == rest["eligible"] - done


def test_dry_run_renders_estimates_and_writes_nothing(cleaned, tf):
    r = tf("distill", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "prompt tokens" in r.output and "time instant" in r.output and "nothing was written" in r.output
    r = tf("distill", "--dry-run", "--backend", "llamacpp", "--json")
    est = json.loads(r.output)
    assert est["prompt_tokens"] > 1000 and est["output_tokens"] > 0 and est["seconds"] > 0
    assert "assumed" in est["speed_basis"] and "not measured" in est["speed_basis"]  # the figure says its basis
    r = tf("distill", "--dry-run", "--backend", "llamacpp")
    assert "answer tokens/s" in r.output and "set distill.tokens_per_second" in r.output
    assert est["chunks"] >= est["pending"] == est["eligible"]
    system, user = est["sample"]
    # auto gives the embedded model the decomposed mode: narrow choices, several a chunk, each counted
    assert system["role"] == "system" and "one narrow choice" in system["content"]
    assert "The person wrote" in user["content"] and "meta_move" not in user["content"]
    assert est["output_tokens"] > est["chunks"] * 96
    assert count(cleaned, "modules") == 0 and count(cleaned, "llm_calls") == 0
    assert not rows(cleaned, "SELECT 1 FROM runs WHERE stage = 'distill'")
    assert not (cleaned / "modules").exists()


def test_prompt_follows_the_dialogs_language(cleaned):
    with Store(cleaned) as store:
        dialogs = {d.conversation_id: d for d in load_dialogs(store, DistillConfig())}
    s = PromptStrategy()
    for cid, marker in ((DISTILL, "Ты дистиллируешь"), (STORE_EN, "You distill")):
        d = dialogs[cid]
        chunks = chunk_dialog(d, 4000, 400)
        reqs = [s.request(d, c, len(chunks)) for c in chunks]
        assert all(marker in r.messages[0]["content"] for r in reqs)
        shown = "".join(r.messages[1]["content"] for r in reqs)
        for t in d.turns:  # every message is shown with its id, so the model can quote it
            assert f"[{t.role} {t.id}]" in shown
        assert reqs[0].json_schema and "phrase" in reqs[0].json_schema["properties"]


def test_long_dialogs_are_chunked_and_merged_into_one_module(cleaned, tf, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("distill: {chunk_chars: 600, overlap_chars: 150}\n")
    report = run_json(tf, "-c", recipe)
    mods = modules(cleaned)
    assert report["chunks"] > 2 * len(mods) and len(mods) == report["eligible"]
    assert len(mods) < count(cleaned, "llm_calls") <= report["chunks"]  # identical chunks share one call
    assert_quotes_verbatim(cleaned, mods)
    assert all(m.phrase and m.concepts for m in mods.values())


def test_seeds_become_russian_modules(tf, seeds, workspace):
    assert tf("ingest", seeds).exit_code == 0
    assert tf("clean").exit_code == 0
    report = run_json(tf)
    mods = modules(workspace)
    assert report["distilled"] == len(mods) == 5 and report["failed"] == 0
    assert {m.language for m in mods.values()} == {"ru"}
    assert len({m.meta_move for m in mods.values()}) >= 3  # issue 13: the seeds are no one-move archive
    assert assert_quotes_verbatim(workspace, mods) >= 5
    for m in mods.values():
        assert (workspace / "modules" / f"{m.id}.md").read_text(encoding="utf-8").startswith(f"# {m.title}\n")


def test_distill_before_clean_is_one_line(tf, tmp_path):
    tf("ingest", SAMPLE)
    r = tf("distill")
    assert r.exit_code == 1 and r.stderr.startswith("error: nothing cleaned")


# --- a model's answers: repair, retry, failures -------------------------------------------------------------


class Scripted:
    """A model that answers from a script: one function of the request per call."""

    name, model = "scripted", "script-1"

    def __init__(self, answer):
        self.answer, self.requests = answer, []

    def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        return Completion(self.answer(request, len(self.requests)), self.model)

    def complete_many(self, requests):
        return [self.complete(r) for r in requests]


def _first_user_sentence(request: Request) -> str:
    user = re.split(r"\[user [0-9a-f]+\]\n", request.messages[1]["content"], maxsplit=1)[1]
    return user.split(". ")[0].split("\n")[0].strip()


GOOD = {"title": "t", "concepts": ["a"], "meta_move": "Инверсия", "axes": ["A ↔ B", "local ↔ global"]}


def test_broken_answer_is_retried_once_then_lands_in_failures(cleaned, tf):
    broken = "Sure! Here is the module:\n```json\n{title: 'Only a title', concepts: ['x'],"
    model = Scripted(lambda req, n: broken)
    with Store(cleaned) as store:
        report = distill(store, DistillConfig(limit=1), backend=model)
    assert report.failed == 1 and report.retries == 1 and report.distilled == 0
    assert len(model.requests) == 2
    retry = model.requests[1].messages
    assert retry[-2] == {"role": "assistant", "content": broken} and "phrase" in retry[-1]["content"]
    out = [json.loads(x) for x in tf("failures", "--json").output.splitlines()]
    assert len(out) == 1 and out[0]["raw"] == broken and "phrase" in out[0]["error"]
    assert "1 failed answers" in tf("failures").output
    assert count(cleaned, "llm_calls") == 2  # both answers cached: a re-run asks nothing
    with Store(cleaned) as store:
        again = distill(store, DistillConfig(limit=1), backend=model)
    assert again.calls == 0 and again.cache_hits == 2 and again.failed == 1 and len(model.requests) == 2


def test_retry_with_the_error_shown_can_succeed(cleaned):
    def answer(req: Request, n: int) -> str:
        if n == 1:
            return '{"title": "t", "phrase": ""}'
        quote = _first_user_sentence(req)
        return "```json\n" + json.dumps(GOOD | {"phrase": quote, "quotes": [quote]}, ensure_ascii=False) + ",\n```"

    with Store(cleaned) as store:
        report = distill(store, DistillConfig(limit=1), backend=Scripted(answer))
    assert report.distilled == 1 and report.retries == 1 and report.failed == 0
    (m,) = modules(cleaned).values()
    assert m.meta_move == "inversion" and m.axes == ["local ↔ global"]  # normalized; the prompt's example dropped
    # the model's quote, then one of the person's own sentences topped up (MIN_QUOTES = 2)
    assert len(m.quotes) == 2 and not rows(cleaned, "SELECT 1 FROM distill_failures")


def test_a_long_dialog_with_one_bad_chunk_still_gets_its_module(cleaned):
    def answer(req: Request, n: int) -> str:
        if "часть 2 из" in req.messages[1]["content"]:
            return "I cannot help with that."
        quote = _first_user_sentence(req)
        return json.dumps(GOOD | {"phrase": quote, "concepts": [f"c{n}"], "quotes": [quote]}, ensure_ascii=False)

    cfg = DistillConfig(chunk_chars=800, overlap_chars=100, languages=["ru"], limit=1)
    with Store(cleaned) as store:
        report = distill(store, cfg, backend=Scripted(answer))
        (f,) = rows(cleaned, "SELECT * FROM distill_failures")
    assert report.chunks >= 2 and report.distilled == 1 and report.chunk_failures == 1 and report.retries == 1
    assert f["chunk"] == 1 and f["raw"] == "I cannot help with that." and "no JSON" in f["error"]
    (m,) = modules(cleaned).values()
    assert len(m.concepts) == report.chunks - 1  # united over the chunks that worked
    assert_quotes_verbatim(cleaned, {m.conversation_id: m})


def test_model_quotes_that_are_not_the_persons_words_are_dropped(cleaned):
    def answer(req: Request, n: int) -> str:
        quote = _first_user_sentence(req)
        quotes = ["  " + quote.replace(" ", "\n ", 1) + "  ", "A sentence nobody wrote in this dialog.",
                  quote + ", and then some words the person never wrote"]
        return json.dumps(GOOD | {"phrase": quote, "quotes": quotes}, ensure_ascii=False)

    with Store(cleaned) as store:
        report = distill(store, DistillConfig(limit=3), backend=Scripted(answer))
    mods = modules(cleaned)
    assert report.distilled == 3 and report.quotes_dropped == 6
    # per module: the one verbatim quote the model gave (the two others dropped), topped up with the person's own
    # closest sentence unless that one is the same quote trimmed
    assert 3 < assert_quotes_verbatim(cleaned, mods) <= 6
    assert all(len(m.quotes) in (1, 2) for m in mods.values())


def test_backend_down_stops_the_run_with_one_line(cleaned, tf):
    r = tf("distill", "--backend", "openai")  # no base_urls configured
    assert r.exit_code == 1 and r.stderr.startswith("error:")
    assert count(cleaned, "modules") == 0


class Down(Scripted):
    def complete_many(self, requests):
        return [BackendError("connection refused") for _ in requests]


def test_a_backend_failing_every_call_stops_the_run_instead_of_failing_each_dialog(cleaned):
    with Store(cleaned) as store, pytest.raises(BackendError, match="connection refused"):
        distill(store, DistillConfig(), backend=Down(None))
    assert [r["status"] for r in rows(cleaned, "SELECT status FROM runs WHERE stage = 'distill'")] == ["failed"]
    assert count(cleaned, "distill_failures") == 0 and count(cleaned, "llm_calls") == 0


def test_a_conversation_dropped_later_loses_its_module(cleaned, tf):
    run_json(tf)
    gone = modules(cleaned)[DISTILL].id
    assert tf("drop", DISTILL).exit_code == 0
    report = run_json(tf)
    assert report["removed"] == 1 and DISTILL not in modules(cleaned)
    assert not (cleaned / "modules" / f"{gone}.md").exists() and not (cleaned / "modules" / f"{gone}.yaml").exists()


@pytest.mark.parametrize("raw,expect", [
    ('```json\n{"a": 1}\n```', {"a": 1}),
    ('Here you go: {"a": [1, 2,],} Hope it helps!', {"a": [1, 2]}),
    ("{'a': 'it\\'s', b: True, c: None}", {"a": "it's", "b": True, "c": None}),
    ('{"a": "cut off here', {"a": "cut off here"}),
    ('{"a": [1, {"b": "x"', {"a": [1, {"b": "x"}]}),
    ('{"a": 1, "b":', {"a": 1, "b": None}),
    ('{"a": 1, "dangling', {"a": 1}),
    ('{"a": "line\nbreak", "n": 1e3}', {"a": "line\nbreak", "n": 1000.0}),
])
def test_json_repair(raw, expect):
    assert loads(raw) == expect


def test_draft_validation_is_lenient_about_shape_and_strict_about_content():
    d = parse_draft('{"module": {"phrase": "p", "concepts": "one", "meta_move": "x", '
                    '"quotes": [{"text": "q"}, "q", ""], "extra": 1}}')
    assert d.concepts == ["one"] and d.quotes == ["q"]
    for bad, field in [('{"concepts": ["a"], "meta_move": "m"}', "phrase"),
                       ('{"phrase": "p", "concepts": [], "meta_move": "m"}', "concepts"),
                       ("[1, 2]", "object"), ("no json at all", "no JSON")]:
        with pytest.raises(DraftError, match=field):
            parse_draft(bad)


# --- pieces ---------------------------------------------------------------------------------------------------


def test_chunks_fit_overlap_and_cover_everything():
    long = " ".join(f"Предложение номер {i} о сжатии и инверсии." for i in range(300))
    d = Dialog("c", "t", "ru", [Turn("u1", "user", "Вопрос: что если наоборот?"), Turn("a1", "assistant", long),
                                Turn("u2", "user", long[:3000]), Turn("a2", "assistant", "Коротко.")])
    chunks = chunk_dialog(d, 1000, 200)
    assert len(chunks) > 10
    for c in chunks:
        assert sum(len(t.text) + 30 for t in c.turns) <= 1000 + 30
    for a, b in itertools.pairwise(chunks):
        assert b.turns[0].text in a.turns[-1].text or b.turns[0] in a.turns  # starts with the end of the one before
    assert {t.id for c in chunks for t in c.turns} == {"u1", "a1", "u2", "a2"}
    assert "".join(split_text(long, 700)) == long and max(map(len, split_text(long, 700))) <= 700


def test_merge_unites_lists_and_takes_the_layers_from_the_richest_chunk():
    a = Draft(title="A", phrase="first", concepts=["x", "y"], meta_move="analogy", quotes=["q1"])
    b = Draft(title="B", phrase="second", concepts=["Y", "z"], meta_move="inversion", quotes=["q2", "q1"])
    m = merge([(a, 10), (b, 50)])
    assert (m.title, m.phrase, m.meta_move) == ("B", "second", "inversion")
    assert m.concepts == ["y", "x", "z"] and m.quotes == ["q1", "q2"]  # "y": named by both chunks


def test_merge_gives_a_later_chunks_best_concepts_room_under_the_cap():
    a = Draft(title="A", phrase="first", concepts=[f"a{i}" for i in range(12)], meta_move="analogy", quotes=[])
    b = Draft(title="B", phrase="second", concepts=["b0", "b1"], meta_move="analogy", quotes=[])
    m = merge([(a, 50), (b, 10)])
    assert m.concepts[:4] == ["a0", "b0", "a1", "b1"]


def test_quotes_map_to_the_message_they_come_from():
    turns = [Turn("u1", "user", "Первое.\nВторая  мысль про сжатие."), Turn("u2", "user", "Третья мысль, длинная.")]
    quotes, dropped = match_quotes(["«Вторая мысль про сжатие.»", "Третья мысль", "чужие слова, которых нет", "Да"],
                                   turns)
    assert [(q.text, q.message_id) for q in quotes] == [("Вторая  мысль про сжатие.", "u1"), ("Третья мысль", "u2")]
    assert dropped == 2


@pytest.mark.parametrize("text,move", [
    ("А что если наоборот: сначала обучить, потом чистить?", "inversion"),
    ("Давай разобьём задачу на этапы и пройдём по шагам.", "decomposition"),
    ("Сколько токенов в 15 000 страниц?", "scaling-estimate"),
    ("How many GPUs for 7B at 1,500 tokens per second? Estimate it.", "scaling-estimate"),
    ("Память — это как будто библиотека без каталога.", "analogy"),
    ("Invert it: what would make this fail?", "inversion"),
    ("Что лучше: дообучать адаптерами или учить с нуля? Сравни.", "comparison"),
    ("Представь, что модель прочитала все мои переписки.", "thought-experiment"),
])
def test_meta_move_rules(text, move):
    assert meta_move_by_rules(text) == move
    assert move in META_MOVES  # the rules only ever answer with the taxonomy's names


def test_meta_move_names_are_mapped_onto_the_taxonomy_or_rejected_with_the_raw_word_kept():
    assert resolve_meta_move("inversion", "") == ("inversion", "")
    assert resolve_meta_move("Inversion", "") == ("inversion", "")  # the name itself, in other letters
    assert resolve_meta_move("Инверсия", "") == ("inversion", "Инверсия")
    assert resolve_meta_move("scaling estimate", "") == ("scaling-estimate", "")
    assert resolve_meta_move("Critique of premise", "") == ("critique-of-premise", "")
    assert resolve_meta_move("a Fermi estimate", "") == ("scaling-estimate", "a Fermi estimate")
    # no taxonomy word: the move comes from the rules over the person's text, the model's word is kept
    assert resolve_meta_move("pattern-matching", "А что если наоборот?") == ("inversion", "pattern-matching")
    move, raw = resolve_meta_move("other", "Просто мысль вслух.")
    assert move in META_MOVES and raw == "other"
    assert "generalization" not in META_MOVES and "other" not in META_MOVES


# --- a real model -----------------------------------------------------------------------------------------------


def test_embedded_model_through_llamacpp_gives_a_module_or_a_recorded_failure(tf, workspace, tmp_path):
    """One short dialog through the embedded GGUF with a tiny answer budget: whatever the 0.5B model writes ends
    as a valid module or as a failure with its raw text; either way the answer is cached."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    note = tmp_path / "inversion.md"
    note.write_text("# Inverting the pipeline\n\nWhat if we invert the training pipeline: train first, clean later? "
                    "The errors of the first adapter would show us exactly which data to clean.\n", encoding="utf-8")
    assert tf("ingest", note).exit_code == 0 and tf("clean").exit_code == 0
    cfg = DistillConfig(backend=BackendConfig(name="llamacpp", max_tokens=64, context=1024, temperature=0))
    with Store(workspace) as store:
        report = distill(store, cfg)
        assert report.eligible == 1 and report.calls >= 1
        assert report.distilled + report.failed == 1
        if report.distilled:
            (m,) = modules(workspace).values()
            assert m.phrase and m.concepts and m.backend.startswith("llamacpp:")
            assert_quotes_verbatim(workspace, {m.conversation_id: m})
        else:
            assert rows(workspace, "SELECT raw FROM distill_failures")[0]["raw"]
        again = distill(store, cfg, force=True)
    assert again.calls == 0 and again.cache_hits == report.calls


# --- papers: digest modules ------------------------------------------------------------------------------------

PAPERS = Path(__file__).parent / "data" / "papers"


@pytest.fixture
def papers_and_dialogs(cleaned, tf):
    """The cleaned sample plus the markdown and PDF test papers, ingested and cleaned into the same store."""
    r = tf("ingest", PAPERS / "fractal-modules-ru.md", PAPERS / "paper.pdf")
    assert r.exit_code == 0, r.output
    assert tf("clean").exit_code == 0
    return cleaned


def paper_modules(ws: Path) -> dict[str, Module]:
    return {m.title: m for m in modules(ws).values() if m.kind == "paper"}


def test_papers_become_digest_modules_with_five_parts(papers_and_dialogs, tf):
    ws = papers_and_dialogs
    report = run_json(tf)
    papers = paper_modules(ws)
    assert set(papers) == {"Фрактальные модули мышления", "Sparse Adapters for Thinking Twins"}
    assert report["papers"] == 2 and report["failed"] == 0
    assert report["paper_prompt_version"] == "extractive-paper.v1"
    kinds = {r["conversation_id"]: r["kind"] for r in rows(ws, "SELECT conversation_id, kind FROM modules")}
    providers = dict(rows(ws, "SELECT id, provider FROM conversations"))
    assert all((kinds[c] == "paper") == (providers[c] == "paper") for c in kinds)

    ru, pdf = papers["Фрактальные модули мышления"], papers["Sparse Adapters for Thinking Twins"]
    for m in (ru, pdf):
        p = m.paper
        assert p and p.problem and p.method and p.results and p.application
        assert m.phrase and m.concepts and m.prompt_version == "extractive-paper.v1"
        assert "References" not in p.problem and "Hu et al" not in " ".join(p.results)
    assert ru.language == "ru" and pdf.language == "en"
    # problem: the abstract's first sentences; method: the cue and the method section; results: with numbers
    assert ru.paper.problem.startswith("Мы предлагаем сжимать диалог")
    assert "Каждый диалог очищается от бытовухи" in ru.paper.method
    assert any(re.search(r"\d", r) for r in ru.paper.results) and "15–50 тысяч" in " ".join(ru.paper.results)
    assert pdf.paper.problem.startswith("We study how a small model")
    assert "distillation" in pdf.paper.problem  # the PDF's hyphenated line end came back joined
    assert "one adapter is trained per scene" in pdf.paper.method
    assert pdf.paper.results == ["Fifteen views per module gave a twelvefold expansion of the corpus."]
    # the application is honest: no model, no judgement, plus the abstract's own last sentence
    assert "needs a model" in pdf.paper.application and "cannot judge" in pdf.paper.application
    assert "нужен бэкенд с моделью" in ru.paper.application
    assert "Из одного модуля разворачивается много обучающих примеров." in ru.paper.application
    assert_quotes_verbatim(ws, papers_by_cid := {m.conversation_id: m for m in papers.values()})

    md = (ws / "modules" / f"{ru.id}.md").read_text(encoding="utf-8")
    assert md.startswith(f"# {ru.title}\n") and "## Paper" in md
    for line in (f"- Problem: {ru.paper.problem}", f"- Method: {ru.paper.method}",
                 "- Result: Из 1–4 тысяч страниц", f"- Application to the twin: {ru.paper.application}"):
        assert line in md
    scene = yaml.safe_load((ws / "modules" / f"{pdf.id}.yaml").read_text(encoding="utf-8"))
    assert scene["kind"] == "paper" and scene["paper"]["results"] == pdf.paper.results
    listed = [json.loads(line) for line in tf("modules", "--json").output.splitlines() if line.strip()]
    assert {x["kind"] for x in listed if x["conversation_id"] in papers_by_cid} == {"paper"}


def test_papers_leave_dialog_modules_unchanged_and_resume_like_dialogs(cleaned, tf):
    run_json(tf)
    before = modules(cleaned)
    assert tf("ingest", PAPERS / "fractal-modules-ru.md", PAPERS / "paper.pdf").exit_code == 0
    assert tf("clean").exit_code == 0
    report = run_json(tf)
    after = modules(cleaned)
    assert report["distilled"] == report["papers"] == 2 and report["done_before"] == len(before)
    assert {c: after[c] for c in before} == before  # dialog modules untouched
    again = run_json(tf)
    assert again["distilled"] == 0 and again["done_before"] == len(after) and again["calls"] == 0
    forced = run_json(tf, "--force")
    assert forced["papers"] == 2 and forced["calls"] == 0 and forced["cache_hits"] >= forced["chunks"]
    dry = run_json(tf, "--dry-run", "--force")
    assert dry["pending"] == len(after) and dry["chunks"] >= len(after)


def test_long_paper_is_chunked_with_overlap_and_merged(tf, workspace, tmp_path):
    body = "\n\n".join(f"See Section {i} and Table {i}. We propose a further step of the method. Accuracy rose by"
                       f" {i}.5% in run {i}. However, this run was limited to small data." for i in range(40))
    paper = tmp_path / "long.md"
    paper.write_text(f"# A Long Paper\n\n**Abstract.** Long papers need chunks. They are merged.\n\n{body}\n\n"
                     "## References\n\n1. Someone. 2020.\n", encoding="utf-8")
    assert tf("ingest", paper).exit_code == 0 and tf("clean").exit_code == 0
    recipe = tmp_path / "r.yaml"
    recipe.write_text("distill: {chunk_chars: 800, overlap_chars: 200}\n")
    report = run_json(tf, "-c", recipe)
    (m,) = paper_modules(workspace).values()
    assert report["chunks"] > 5 and report["papers"] == 1
    assert m.paper.problem == "Long papers need chunks. They are merged."  # from the first chunk
    assert m.paper.results[:2] == ["Accuracy rose by 0.5% in run 0.", "Accuracy rose by 1.5% in run 1."]
    assert len(m.paper.results) == 8 and all(re.search(r"\d+\.5%", r) for r in m.paper.results)
    assert m.paper.limitations == ["However, this run was limited to small data."]  # repeats merged
    assert m.paper.method.startswith("We propose a further step of the method.")
    assert m.paper.application.count("cannot judge") == 1


def test_paper_prompt_asks_for_the_digest_and_a_models_answer_becomes_the_module(tf, workspace):
    assert tf("ingest", PAPERS / "paper.pdf", PAPERS / "fractal-modules-ru.md").exit_code == 0
    assert tf("clean").exit_code == 0
    answer = {"title": "Sparse adapters", "phrase": "One adapter per scene.", "concepts": ["adapters", "views"],
              "meta_move": "decomposition", "quotes": ["Adapters stack and merge."],
              "problem": "How a small model learns one person.", "method": "Modules expanded into views.",
              "results": ["12x expansion from 15 views per module"], "limitations": [],
              "application": "Train one LoRA per scene on Qwen3-Base."}  # flat: the paper part is found anyway
    model = Scripted(lambda req, n: json.dumps(answer))
    with Store(workspace) as store:
        report = distill(store, DistillConfig(), backend=model)
    assert report.papers == 2 and report.failed == 0 and report.paper_prompt_version == "paper.v2"
    by_lang = {r.messages[0]["content"][:20]: r for r in model.requests}
    assert len(model.requests) == 2
    for r in model.requests:
        system, user = r.messages[0]["content"], r.messages[1]["content"]
        assert r.json_schema["required"][-1] == "paper" and "application" in r.json_schema["properties"]["paper"][
            "properties"]
        assert "Qwen3-Base" in system and "LoRA" in system
        assert ("application to the twin" in system) or ("применение к двойнику" in system)
        assert user.startswith(("Title of the paper:", "Название статьи:")) and "References" not in user[:40]
    assert any("Ты делаешь дайджест" in k for k in by_lang) and any("You digest" in k for k in by_lang)
    m = paper_modules(workspace)["Sparse adapters"]
    assert m.kind == "paper" and m.prompt_version == "paper.v2" and m.backend == "scripted:script-1"
    assert m.paper.application == "Train one LoRA per scene on Qwen3-Base." and m.paper.results == answer["results"]
    assert [q.text for q in m.quotes] == ["Adapters stack and merge."]


def test_a_paper_answer_without_its_digest_is_retried_then_recorded(tf, workspace):
    assert tf("ingest", PAPERS / "paper.pdf").exit_code == 0 and tf("clean").exit_code == 0
    model = Scripted(lambda req, n: json.dumps({"title": "t", "phrase": "p", "concepts": ["c"], "meta_move": "x"}))
    with Store(workspace) as store:
        report = distill(store, DistillConfig(), backend=model)
    assert report.failed == 1 and report.retries == 1 and len(model.requests) == 2
    assert "paper" in model.requests[1].messages[-1]["content"]  # the retry names what is missing
    (f,) = rows(workspace, "SELECT error FROM distill_failures")
    assert "paper" in f["error"]


def test_a_phrase_lifted_from_the_assistant_gives_way_to_the_persons_closest_sentence():
    turns = [Turn("u1", "user", "Мне кажется, сжатие смысла работает только через цепочки понятий. Как проверить?"),
             Turn("u2", "user", "Ещё вопрос про обучение адаптеров по сценам.")]
    lifted = "Эффективная компрессия информации достигается посредством иерархических представлений цепочек."
    assert ground_phrase(lifted, turns) == "Мне кажется, сжатие смысла работает только через цепочки понятий."
    own = "Сжатие смысла работает через цепочки понятий"  # mostly the person's words: kept as the model wrote it
    assert ground_phrase(own, turns) == own
    unrelated = "Совершенно посторонний текст модели"
    assert ground_phrase(unrelated, turns) == unrelated  # nothing of the person's is close: left, not invented


def test_quotes_are_topped_up_verbatim_from_the_persons_own_sentences():
    turns = [Turn("u1", "user", "Про погоду. Адаптеры по сценам надо обучать отдельно, по одному на сцену."),
             Turn("u2", "user", "Сцены потом складываются как слои адаптеров.")]
    quotes = top_up_quotes([], turns, "адаптеры сцены слои")
    assert [q.message_id for q in quotes] == ["u2", "u1"]  # the closer sentence first; "Про погоду." never
    for q in quotes:
        assert q.text in next(t.text for t in turns if t.id == q.message_id)
    kept, _ = match_quotes(["Сцены потом складываются как слои адаптеров."], turns)
    assert len(top_up_quotes(kept, turns, "адаптеры")) == 2
    assert top_up_quotes([], turns, "квантовая хромодинамика") == []  # nothing related: no filler quotes
