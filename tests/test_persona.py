"""The persona card: computed from the corpus, quoting the person verbatim, and hand edits survive rebuilds."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter

import pytest
from conftest import rows

from twinforge.persona import card as persona
from twinforge.store import Store


@pytest.mark.parametrize("sentence, kind", [
    ("Почему клиент падает с 401?", "why"),
    ("Why would anyone shard a 2 GB corpus?", "why"),
    ("Как мерить, что сцена что-то изменила?", "how"),
    ("How do I know the adapter learned the move?", "how"),
    ("А что если наоборот — сначала одна общая LoRA?", "what-if"),
    ("What if the scene is the delta to the core?", "what-if"),
    ("Это выжимка фактов или выжимка движения?", "compare"),
    ("SQLite or Parquet for the store?", "compare"),
    ("Да, но переверни: какой класс пропустит каждая проверка.", "critique"),
    ("Где я ошибаюсь?", "critique"),
    ("Посчитай: 15 000 страниц A4 по 1 800 знаков.", "estimate"),
    ("How many tokens is that?", "estimate"),
    ("Может, нужен четвёртый слой — поворот?", "hypothesis"),
    ("Что такое гиперфраза?", "what"),
    ("Объясни на примере.", "explain"),
])
def test_question_kinds(sentence, kind):
    assert persona.is_question(sentence)
    assert persona.classify_question(sentence) == kind


def test_statements_are_not_questions():
    for s in ("Гиперфраза — это не сокращение.", "I'd rather have transactions.", "Как у математика: пусть."):
        assert not persona.is_question(s)


def _card(ws) -> tuple[str, dict]:
    with Store(ws) as store:
        path = persona.build_persona(store).path
        return path.read_text(encoding="utf-8"), persona.read_data(store)


def _user_texts(ws) -> dict[str, tuple[str, str]]:
    """message id -> (conversation id, cleaned text) of kept user messages."""
    return {r[0]: (r[1], r[2]) for r in rows(
        ws, "SELECT m.id, m.conversation_id, cm.text FROM clean_messages cm JOIN messages m ON m.id = cm.message_id"
            " WHERE cm.keep = 1 AND m.role = 'user'")}


def _all_evidence(data: dict) -> list[dict]:
    return ([e for t in data["themes"] for e in t["evidence"]] + [e for q in data["questions"] for e in q["examples"]]
            + [e for m in data["moves"] for e in m["evidence"]])


def test_card_is_computed_from_the_corpus(memory_copy):
    text, data = _card(memory_copy)
    users = _user_texts(memory_copy)
    assert data["corpus"]["user_messages"] == len(users)
    assert data["corpus"]["modules"] == rows(memory_copy, "SELECT count(*) FROM modules WHERE kind='dialog'")[0][0]
    # every quote is a verbatim line of the person, in the message and conversation it names
    evidence = _all_evidence(data)
    assert len(evidence) >= 10
    for e in evidence:
        conv, cleaned = users[e["message_id"]]
        assert conv == e["conversation_id"] and e["text"] in cleaned
        assert f"  > {e['text']}" in text and f"message `{e['message_id']}`" in text
    # moves: exactly the modules' meta-move distribution
    dialogs = rows(memory_copy, "SELECT json FROM modules WHERE kind='dialog'")
    moves = Counter(json.loads(r[0])["meta_move"] for r in dialogs)
    assert {m["move"]: m["count"] for m in data["moves"]} == dict(moves)
    # questions: every example is a question of the kind it is filed under, counts add up
    for q in data["questions"]:
        assert q["examples"] and all(persona.classify_question(e["text"]) == q["kind"] for e in q["examples"])
    assert sum(q["count"] for q in data["questions"]) >= len(data["questions"])
    assert abs(sum(q["share"] for q in data["questions"]) - 1) < 0.01
    # themes: from the memory's concept graph, each quoted where the person used it
    assert data["themes_from"] == "graph" and data["themes"]
    for t in data["themes"]:
        assert t["conversations"] == len({e["conversation_id"] for e in t["evidence"]}) or len(t["evidence"]) == 3
    assert [t["conversations"] for t in data["themes"]] == sorted((t["conversations"] for t in data["themes"]),
                                                                 reverse=True)
    for name in ("summary", "themes", "questions", "moves", "data"):
        assert f"<!-- twinforge:begin {name} sha=" in text and f"<!-- twinforge:end {name} -->" in text


def test_without_graph_themes_come_from_concept_frequencies(memory_copy):
    db = sqlite3.connect(memory_copy / "twin.db")
    db.executescript("DELETE FROM memory_communities; DELETE FROM memory_concepts;")
    db.close()
    _, data = _card(memory_copy)
    assert data["themes_from"] == "concepts" and data["themes"]
    modules = rows(memory_copy, "SELECT json FROM modules")
    concepts = {c.casefold() for r in modules for c in json.loads(r[0])["concepts"]}
    assert all(t["theme"].casefold() in concepts for t in data["themes"])
    assert not any(t["theme"].casefold() in ("это", "the", "таких") for t in data["themes"])


def test_rebuild_without_changes_is_identical(memory_copy):
    first, _ = _card(memory_copy)
    second, _ = _card(memory_copy)
    assert first == second


def _edit_section(text: str, name: str, add: str) -> str:
    end = f"<!-- twinforge:end {name} -->"
    assert end in text
    return text.replace(end, f"{add}\n{end}")


def test_hand_edits_survive_a_rebuild(memory_copy):
    text, data = _card(memory_copy)
    path = memory_copy / "persona.md"
    edited = _edit_section(text, "themes", "- **my own theme** — written by hand")
    edited = edited.replace("## My notes\n", "## My notes\n\nI think in inversions, not lists.\n")
    edited += "\n## Written by me\n\nA section of my own.\n"
    path.write_text(edited, encoding="utf-8")
    assert persona.edited_sections(edited) == ["themes"]
    # the corpus changes: one module goes, so the moves and the summary must change
    gone = rows(memory_copy, "SELECT id, json FROM modules WHERE kind='dialog' ORDER BY id")[0]
    db = sqlite3.connect(memory_copy / "twin.db")
    db.execute("DELETE FROM modules WHERE id = ?", (gone[0],))
    db.commit()
    db.close()
    rebuilt, new_data = _card(memory_copy)
    assert new_data["corpus"]["modules"] == data["corpus"]["modules"] - 1
    assert "- **my own theme** — written by hand" in rebuilt  # the edited section, exactly as edited
    assert "I think in inversions, not lists." in rebuilt and "## Written by me\n\nA section of my own." in rebuilt
    assert new_data["edited"] == ["themes"] and persona.edited_sections(rebuilt) == ["themes"]
    moves_before = re.search(r"begin moves.*?end moves", text, re.S).group(0)
    moves_after = re.search(r"begin moves.*?end moves", rebuilt, re.S).group(0)
    assert moves_before != moves_after  # untouched sections follow the corpus
    # a second rebuild still keeps the edit; discarding edits regenerates it but keeps the notes
    assert "my own theme" in _card(memory_copy)[0]
    with Store(memory_copy) as store:
        persona.build_persona(store, discard_edits=True)
    fresh = path.read_text(encoding="utf-8")
    assert "my own theme" not in fresh and persona.edited_sections(fresh) == []
    assert "I think in inversions, not lists." in fresh and "A section of my own." in fresh


def test_a_deleted_section_comes_back_in_its_place(memory_copy):
    text, _ = _card(memory_copy)
    without = re.sub(r"<!-- twinforge:begin questions .*?<!-- twinforge:end questions -->\n", "", text, flags=re.S)
    assert "Kinds of questions" not in without
    (memory_copy / "persona.md").write_text(without, encoding="utf-8")
    again, _ = _card(memory_copy)
    assert again == text
    assert again.index("begin themes") < again.index("begin questions") < again.index("begin moves")


def test_system_prompt_carries_edits_and_notes_but_no_ids(memory_copy):
    with Store(memory_copy) as store:
        assert persona.system_prompt(store) is None  # no card yet
    text, _ = _card(memory_copy)
    text = _edit_section(text, "moves", "- I always check the opposite first.")
    text = text.replace("## My notes\n", "## My notes\n\nAnswer tersely.\n")
    (memory_copy / "persona.md").write_text(text, encoding="utf-8")
    with Store(memory_copy) as store:
        prompt = persona.system_prompt(store)
        short = persona.system_prompt(store, max_chars=1500)
    assert prompt.startswith("You are the thinking twin")
    assert "I always check the opposite first." in prompt and "Answer tersely." in prompt
    assert "```json" not in prompt and "message `" not in prompt and "<!--" not in prompt
    assert "Recurring themes" in prompt and "> " in prompt  # quotes stay as samples of the voice
    assert len(short) <= 1500 and "Recurring themes" in short and "Answer tersely." in short


def test_cli_persona(memory_copy, tf):
    r = tf("persona", ws=memory_copy)
    assert r.exit_code == 0 and "written:" in r.output and "themes:" in r.output
    r = tf("persona", ws=memory_copy)
    assert r.exit_code == 0 and r.output.startswith("persona card:")  # shown, not rewritten
    data = json.loads(tf("persona", "--json", ws=memory_copy).output)
    assert data["corpus"]["modules"] > 0 and data["edited"] == []
    prompt = tf("persona", "--system-prompt", ws=memory_copy).output
    assert prompt.startswith("You are the thinking twin")
    card = memory_copy / "persona.md"
    card.write_text(_edit_section(card.read_text(encoding="utf-8"), "summary", "Mine."), encoding="utf-8")
    r = tf("persona", "--rebuild", ws=memory_copy)
    assert "kept as you edited: summary" in r.output


def test_cli_persona_on_an_empty_workspace_is_one_error(tf, workspace):
    Store(workspace).close()  # a workspace with nothing ingested
    r = tf("persona")
    assert r.exit_code == 1 and r.output.startswith("error: no kept user messages")
    assert not (workspace / "persona.md").exists()


def test_runner_stage(memory_copy):
    from twinforge.config import Recipe
    from twinforge.runner import run_recipe

    with Store(memory_copy) as store:
        (result,) = run_recipe(store, Recipe(stages=["persona"])).results
    assert result.ok and result.stage == "persona" and result.summary["themes"] > 0
    assert (memory_copy / "persona.md").exists()


def test_a_model_writes_the_summary_once(memory_copy, monkeypatch):
    """With a model backend the summary is the model's (shown the card's data), cached like every backend call."""
    from twinforge.backends import base
    from twinforge.backends.config import BackendConfig

    asked = []

    class Stub:
        name, model = "stub", "stub-1"

        def complete_many(self, requests):
            asked.extend(requests)
            return [base.Completion(text="You invert before you build.", model=self.model)]

    monkeypatch.setattr("twinforge.backends.get_backend", lambda cfg: Stub())
    with Store(memory_copy) as store:
        persona.build_persona(store, BackendConfig(name="openai"))
        persona.build_persona(store, BackendConfig(name="openai"))
        data = persona.read_data(store)
    text = (memory_copy / "persona.md").read_text(encoding="utf-8")
    summary = re.search(r"begin summary.*?end summary", text, re.S).group(0)
    assert "You invert before you build." in summary
    assert len(asked) == 1  # the second build came from the call cache
    brief = json.loads(asked[0].messages[-1]["content"])
    assert brief["themes"] == [t["theme"] for t in data["themes"]]


def test_a_failed_summary_is_reported_not_swallowed(memory_copy, monkeypatch):
    """complete_many returns a failed call as a value: the card falls back to the counted summary and says so."""
    from twinforge.backends import base
    from twinforge.backends.config import BackendConfig

    class Down:
        name, model = "down", "down-1"

        def complete_many(self, requests):
            return [base.BackendError("connection refused") for _ in requests]

    monkeypatch.setattr("twinforge.backends.get_backend", lambda cfg: Down())
    with Store(memory_copy) as store:
        built = persona.build_persona(store, BackendConfig(name="openai"))
    assert built.path.exists()
    assert built.problems and "connection refused" in built.problems[0] and "counted" in built.problems[0]
