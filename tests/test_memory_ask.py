"""`ask`: evidence with citations, --json shape, answers in the question's language, streaming, bad inputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import rows

from twinforge.backends.config import BackendConfig
from twinforge.errors import TwinforgeError
from twinforge.memory.ask import ask, ask_stream, cited
from twinforge.memory.search import search
from twinforge.store import Store

STORE_EN = "6866aa23-8e90-8000-bf68-72da97af9daa"


def test_no_llm_json_has_citable_sources(memory_ws, tf):
    r = tf("ask", "Как понять, что сцена изменила ход мысли, а не стиль?", "--no-llm", "--json", "--k", "4",
           ws=memory_ws)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert set(d) >= {"answer", "sources", "language"} and d["language"] == "ru"
    assert 1 <= len(d["sources"]) <= 4
    assert d["sources"][0]["conversation_id"] == "68564364-5ddb-8000-bc0c-75e5e20c599e"
    for i, s in enumerate(d["sources"], start=1):
        assert set(s) >= {"conversation_id", "message_id", "score", "title", "date", "snippet"}
        assert s["n"] == i and f"[{i}]" in d["answer"]
        msg = rows(memory_ws, "SELECT m.conversation_id, c.title FROM messages m JOIN conversations c"
                              " ON c.id = m.conversation_id WHERE m.id = ?", s["message_id"])
        assert msg and msg[0]["conversation_id"] == s["conversation_id"] and msg[0]["title"] == s["title"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", s["date"])
    scores = [s["score"] for s in d["sources"]]
    assert scores == sorted(scores, reverse=True)


def test_no_llm_text_lists_evidence(memory_ws, tf):
    r = tf("ask", "SQLite or Parquet for the workspace?", "--no-llm", ws=memory_ws)
    assert r.exit_code == 0 and r.output.startswith("Evidence from memory:")
    assert "[1] «Workspace store: SQLite or Parquet?»" in r.output


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_modes(memory_ws, tf, mode):
    r = tf("ask", "SQLite or Parquet for the workspace?", "--no-llm", "--json", "--mode", mode, ws=memory_ws)
    assert json.loads(r.output)["sources"][0]["conversation_id"] == STORE_EN


def test_extractive_answer_cites_and_streams(memory_ws):
    with Store(memory_ws) as s:
        a = ask(s, "What did I argue about one SQLite file versus Parquet per stage?",
                backend=BackendConfig(name="extractive"), k=3)
        assert a.language == "en" and a.backend == "extractive" and a.answer and len(a.sources) == 3
        # a digest of the evidence: one quoted sentence per source, each found in the source it cites
        points = [line for line in a.answer.splitlines() if line.startswith("- ")]
        assert points and a.cited
        words = lambda t: " ".join(re.findall(r"\w+", t.lower()))  # noqa: E731 — markdown emphasis is dropped
        texts = {x.n: words(_item_text(s, x.item_id)) for x in a.sources}
        for line in points:
            sentence, n = re.fullmatch(r"- (.+) \(.+\) \[(\d+)\]", line).groups()
            assert words(sentence) in texts[int(n)], (sentence, texts[int(n)])
        assert len({p.split(" (")[0] for p in points}) == len(points)  # no sentence twice
        tokens, sources = ask_stream(s, "What did I argue about one SQLite file versus Parquet per stage?",
                                     backend=BackendConfig(name="extractive"), k=3)
        assert [x.item_id for x in sources] == [x.item_id for x in a.sources]
        assert "".join(tokens) == a.answer


def _item_text(store, item_id: str) -> str:
    return store.db.execute("SELECT text FROM memory_items WHERE id = ?", (item_id,)).fetchone()[0]


def test_extractive_digest_quotes_prose_not_keywords_or_labels():
    from twinforge.memory.digest import digest

    module = "Store every stage in one SQLite file, not Parquet per stage.\nsqlite; parquet; migrations\ninversion"
    message = ("```yaml\nmeta_move: inversion\n```\nmeta_move: inversion\nSQLite keeps one file per workspace and "
               "migrations are cheap. SQLite keeps one file per workspace and migrations are cheap.")
    text = digest("SQLite or Parquet?", "en",
                  [(1, "module", "Store", module), (2, "message", "Store", message),
                   (3, "message", "Dup", "SQLite keeps one file per workspace and migrations are cheap.")])
    points = [line for line in text.splitlines() if line.startswith("- ")]
    assert points == ["- Store every stage in one SQLite file, not Parquet per stage. (thinking module, «Store») [1]",
                      "- SQLite keeps one file per workspace and migrations are cheap. («Store») [2]"]
    assert "inversion" not in text and "parquet;" not in text  # no concept list, no meta-move label
    only_code = digest("x?", "ru", [(1, "message", "t", "```\ncode\n```\nkey: value")])
    assert only_code.startswith("В найденных источниках нет связного текста") and only_code.endswith(": [1]")


def test_cited_numbers():
    assert cited("A [2] b [1][2] c [7]", 3) == [2, 1]


def test_graph_expansion_flag(memory_ws, tf):
    r = tf("ask", "гиперфраза", "--no-llm", "--json", "--graph", ws=memory_ws)
    assert r.exit_code == 0 and json.loads(r.output)["sources"]


def test_bad_inputs_are_one_error_line(memory_ws, tf, tmp_path):
    for args, ws in [(["ask", "   "], memory_ws), (["ask", "hello"], tmp_path / "none"),
                     (["ask", "hello", "--adapter", "nope"], memory_ws),
                     (["memory", "build"], tmp_path / "none2")]:
        r = tf(*args, ws=ws)
        assert r.exit_code == 1, (args, r.output)
        assert r.output.startswith("error:") and len(r.output.strip().splitlines()) == 1, r.output
    fresh = tmp_path / "fresh"
    Store(fresh).close()
    r = tf("ask", "hello", ws=fresh)  # a workspace whose memory was never built
    assert r.exit_code == 1 and "twinforge memory build" in r.output
    with Store(memory_ws) as s:
        for bad in [dict(query=""), dict(query="x", k=0), dict(query="x", mode="fuzzy")]:
            with pytest.raises(TwinforgeError):
                search(s, **bad)


def test_empty_memory_answers_nothing_found(tmp_path, tf):
    from twinforge.memory.build import build_memory

    with Store(tmp_path / "empty") as s:
        build_memory(s)
        a = ask(s, "что я думал про адаптеры?", backend=BackendConfig(name="extractive"))
    assert a.sources == [] and a.answer == "В памяти нет ничего по этому вопросу."


@pytest.fixture(scope="session")
def llamacpp_answer(memory_ws):
    """One real answer from the embedded llama.cpp model, in a child process (a native crash fails this test,
    not the whole run)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    cmd = [str(Path(sys.executable).with_name("twinforge")), "-w", str(memory_ws), "ask",
           "Чем гиперфраза отличается от конспекта?", "--backend", "llamacpp", "--k", "3", "--json"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    return p


def test_llamacpp_answers_in_the_question_language(llamacpp_answer):
    p = llamacpp_answer
    assert p.returncode == 0, f"rc {p.returncode}: {p.stderr[-2000:]}"
    d = json.loads(p.stdout)
    assert d["backend"] == "llamacpp" and d["language"] == "ru" and d["sources"]
    cyr = len(re.findall(r"[а-яА-ЯёЁ]", d["answer"]))
    lat = len(re.findall(r"[a-zA-Z]", d["answer"]))
    assert d["answer"].strip() and cyr > lat, d["answer"]


def test_a_model_answer_that_cites_nothing_is_flagged():
    from twinforge.memory.ask import Answer, Source

    sources = [Source("c1", "m1", "t", None, 0.5, "snippet one", n=1), Source("c2", "m2", "t", None, 0.4, "two", n=2)]
    copied = Answer("Дистилляция процесса, а не...", "ru", sources, backend="llamacpp", model="small.gguf")
    assert copied.cited == [] and "cites none of its 2 sources" in copied.uncited_note
    assert "small.gguf" in copied.uncited_note and copied.as_dict()["cited"] == []
    grounded = Answer("Сжатие — это понимание [2], если выдерживает инверсию [2][1].", "ru", sources,
                      backend="llamacpp", model="small.gguf")
    assert grounded.cited == [2, 1] and grounded.uncited_note is None
    assert Answer("a sentence", "en", sources, backend="extractive").uncited_note is None  # quotes, no model
    assert Answer("nothing", "en", [], backend="llamacpp").uncited_note is None


def test_a_source_says_where_to_open_it():
    from twinforge.memory.ask import Source

    msg = Source("c1", "m1", "t", None, 0.5, "s", n=1)
    mod = Source("c1", "m1", "t", None, 0.4, "s", n=2, kind="module", item_id="module:m-9", module_id="m-9")
    paper = Source("p1", None, "t", None, 0.3, "s", n=3, kind="paper", item_id="paper:m-8", module_id="m-8")
    assert msg.locator() == "conversation c1, message m1"
    assert mod.locator() == "module m-9 (conversation c1, message m1)"
    assert paper.locator() == "digest m-8 (conversation p1, message -)"


def test_source_preview_is_readable_text():
    from twinforge.memory.digest import CODE_ONLY, preview

    text = ("**Why** it holds:\n\n## 1. Transactions\n| a | b |\n|---|---|\n| one | two |\n```python\nx = 1\n```\n"
            "meta_move: inversion\nThe *stage* runs once.")
    out = preview(text, "message", 400)
    assert out == "Why it holds: Transactions a b … one two … The stage runs once."
    assert preview("```yaml\nkey: value\n```", "message", 400) == CODE_ONLY
    assert preview("The gist line.\nconcept a; concept b\ninversion", "module", 400) == "The gist line."
    assert preview("word " * 200, "message", 50).endswith("…") and len(preview("word " * 200, "message", 50)) <= 51
