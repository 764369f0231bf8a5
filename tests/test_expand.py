"""Expand: modules in a real store → examples in each view, idempotent re-runs, the expansion ratio, the CLI.

Modules are written straight into the `modules` table (as distill would), over a dialog ingested for real.
"""

from __future__ import annotations

import json
import re

import pytest

from twinforge.distill.schema import Module, PaperDigest, Quote
from twinforge.errors import ConfigError, TwinforgeError
from twinforge.expand.config import DEFAULT_VIEWS, ExpandConfig
from twinforge.expand.run import expand
from twinforge.ingest.run import ingest_paths
from twinforge.records import PAGE_CHARS
from twinforge.store import Store

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
LONG_OWN = ("Я думаю, что модуль должен сжимать диалог до сути: одна фраза, несколько понятий и ход мысли. "
            "Тогда из одной страницы получается много примеров, и двойник учится не словам, а движениям мысли. "
            "Это и есть смысл дистилляции.")
assert len(LONG_OWN) >= ExpandConfig().own_words_min_chars


def chatgpt(cid: str, title: str, turns: list[str]) -> dict:
    """A ChatGPT export conversation with a linear user/assistant chain."""
    mapping = {"root": {"id": "root", "parent": None, "children": [], "message": None}}
    parent = "root"
    for i, text in enumerate(turns):
        nid = f"{cid}-n{i}"
        mapping[parent]["children"].append(nid)
        mapping[nid] = {"id": nid, "parent": parent, "children": [], "message": {
            "id": nid, "author": {"role": "user" if i % 2 == 0 else "assistant"}, "create_time": 1_700_000_000 + i,
            "content": {"content_type": "text", "parts": [text]}, "metadata": {}}}
        parent = nid
    return {"id": cid, "title": title, "create_time": 1_700_000_000, "update_time": 1_700_000_100,
            "current_node": parent, "mapping": mapping}


DIALOG = [
    "Как сжать диалог в модуль мышления?",  # user question → the person's long later statement (own words)
    "Можно выделить главную фразу и понятия.",
    LONG_OWN,  # user: long, own words → answers the question before it
    "Да, и оси с инверсиями дают ещё виды.",
    "А что делать с короткими репликами?",  # user question → next user turn is short → assistant reply
    "Короткие реплики отбрасываются на этапе очистки.",
    "Спасибо!",
]


@pytest.fixture
def store(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([chatgpt("c-ru", "Фрактальные модули", DIALOG),
                                  chatgpt("c-en", "Adapters", ["Why one adapter per scene?",
                                                               "So that each can be removed alone."])],
                                 ensure_ascii=False), encoding="utf-8")
    s = Store(tmp_path / "ws")
    ingest_paths(s, [export])
    yield s
    s.close()


def ids(store: Store, cid: str) -> list[str]:
    return [r[0] for r in store.db.execute(
        "SELECT id FROM messages WHERE conversation_id = ? ORDER BY position", (cid,))]


def rich_ru(store: Store, **changes) -> Module:
    fields = dict(
        id="m-ru", conversation_id="c-ru", message_ids=ids(store, "c-ru"), title="Фрактальные модули",
        language="ru", phrase="Диалог сжимается в модуль из трёх слоёв: фраза, концепт, метаход.",
        concepts=["фраза", "концепт", "метаход"], meta_move="decomposition",
        axes=["сжатие ↔ развёртка", "слова ↔ движения мысли"],
        inversions=["Не модуль вырастает из диалога, а диалог разворачивается из модуля."],
        hypotheses=["Из одной страницы диалога выходит десять страниц обучающих примеров."],
        transition_rules=["Если диалог длиннее контекста, то он режется на куски с перекрытием."],
        open_questions=["Сколько видов нужно, чтобы двойник не заучивал шаблоны?"],
        quotes=[Quote(text=LONG_OWN.strip(), message_id=ids(store, "c-ru")[2])],
    )
    return Module(**(fields | changes))


def simple_en(**changes) -> Module:
    fields = dict(id="m-en", conversation_id="c-en", title="Adapters", language="en",
                  phrase="One adapter per scene keeps every scene removable.", concepts=["adapter", "scene"],
                  meta_move="decomposition")
    return Module(**(fields | changes))


def put(store: Store, *modules: Module) -> None:
    """Insert modules as distill does: one row each, the whole Module as JSON. Columns not known here (the
    distill table may grow) get a neutral value, so this fixture follows the table as it is."""
    cols = store.db.execute("PRAGMA table_info(modules)").fetchall()
    for m in modules:
        known = {"id": m.id, "conversation_id": m.conversation_id, "kind": m.kind, "language": m.language,
                 "json": m.model_dump_json(), "backend": "test", "model": "none", "prompt_version": "v1",
                 "created_at": "2025-01-01T00:00:00+00:00", "run_id": None}
        row = {c["name"]: known.get(c["name"], "" if c["notnull"] else None) for c in cols}
        store.db.execute(f"INSERT OR REPLACE INTO modules ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))


def stored(store: Store, module_id: str | None = None) -> list[dict]:
    sql = "SELECT * FROM examples" + (" WHERE module_id = ?" if module_id else "") + " ORDER BY view, position"
    return [dict(r) | {"messages": json.loads(r["messages"]), "meta": json.loads(r["meta"] or "{}")}
            for r in store.db.execute(sql, [module_id] if module_id else [])]


def by_view(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["view"], []).append(r)
    return out


# --- views -----------------------------------------------------------------------------------------------


def test_rich_module_gives_every_view_with_well_formed_messages(store):
    put(store, rich_ru(store))
    report = expand(store)
    assert report.expanded == 1 and not report.invalid
    views = by_view(stored(store))
    assert set(views) == set(DEFAULT_VIEWS)
    for rows in views.values():
        for r in rows:
            msgs = r["messages"]
            roles = [m["role"] for m in msgs]
            assert roles == ["user", "assistant"] * (len(roles) // 2) and roles  # alternating, ends on an answer
            assert all(isinstance(m["content"], str) and m["content"].strip() == m["content"] != "" for m in msgs)
            assert all(set(m) == {"role", "content"} for m in msgs)
            assert r["chars"] == sum(len(m["content"]) for m in msgs) and r["tokens"] > 0
    # one item per concept, each asked in `phrasings` (default 2) different wordings with the same answer
    concept = views["concept"]
    assert len(concept) == 3 * ExpandConfig().phrasings
    for c in ("фраза", "концепт", "метаход"):
        mine = [r for r in concept if r["meta"]["concept"] == c]
        assert len(mine) == 2 and len({r["messages"][0]["content"] for r in mine}) == 2
        assert len({r["messages"][1]["content"] for r in mine}) == 1


@pytest.mark.parametrize("view,field", [
    ("concept", "concepts"), ("inversion", "inversions"), ("hypothesis", "hypotheses"),
    ("transition", "transition_rules"), ("poles", "axes"), ("own_words", "quotes"),
])
def test_view_only_when_module_has_its_field(store, view, field):
    put(store, rich_ru(store, **{field: []}))
    expand(store)
    got = by_view(stored(store))
    assert view not in got
    assert len(got) == len(DEFAULT_VIEWS) - 1  # every other view still there


def test_continue_needs_details_or_quotes(store):
    put(store, simple_en(concepts=[]))  # a phrase alone: nothing to continue with
    expand(store)
    assert "continue" not in by_view(stored(store))


def test_qa_prefers_own_words_then_the_assistant_reply(store):
    put(store, rich_ru(store))
    expand(store)
    qa = by_view(stored(store))["qa"]
    pairs = [(r["messages"][0]["content"], r["messages"][1]["content"], r["meta"]["answer_from"]) for r in qa]
    assert (DIALOG[0], LONG_OWN.strip(), "own") in pairs  # the person's own long statement answers
    assert (DIALOG[4], DIALOG[5], "assistant") in pairs  # "Спасибо!" is too short: the reply answers
    # the long statement is itself a question; the person's next words are short, so the reply answers it
    assert (LONG_OWN.strip(), DIALOG[3], "assistant") in pairs


def test_qa_uses_the_cleaned_kept_text(store):
    msg = ids(store, "c-ru")
    rows = [(mid, "c-ru", 1, "kept", DIALOG[i].upper()) for i, mid in enumerate(msg)]
    rows[5] = (msg[5], "c-ru", 0, "chatter", "")  # clean rejected the reply to the second question
    store.db.executemany("INSERT INTO clean_messages (message_id, conversation_id, keep, reason, text)"
                         " VALUES (?, ?, ?, ?, ?)", rows)
    put(store, rich_ru(store))
    expand(store)
    qa = by_view(stored(store))["qa"]
    assert all(r["messages"][0]["content"].isupper() for r in qa)
    assert not any(r["meta"]["question_id"] == msg[4] for r in qa)  # its answer was rejected: no example


def test_russian_module_gets_russian_templates_english_gets_english(store):
    put(store, rich_ru(store), simple_en())
    expand(store)
    ru = by_view(stored(store, "m-ru"))
    en = by_view(stored(store, "m-en"))
    for view in ("concept", "inversion", "hypothesis", "transition", "continue"):
        for r in ru[view]:
            assert r["language"] == "ru"
            assert CYRILLIC.search(r["messages"][0]["content"].replace("Фрактальные модули", ""))
    ask = en["concept"][0]["messages"][0]["content"]
    assert en["concept"][0]["language"] == "en" and not CYRILLIC.search(ask)
    assert "adapter" in ask and "Adapters" in ask


def test_transition_rule_split_into_condition_and_consequence(store):
    put(store, rich_ru(store))
    expand(store, ExpandConfig(phrasings=1))
    (t,) = by_view(stored(store))["transition"]
    ask, answer = (m["content"] for m in t["messages"])
    assert "диалог длиннее контекста" in ask
    assert answer.startswith("Он режется на куски с перекрытием.")


def test_continue_splits_a_long_quote(store):
    put(store, rich_ru(store))
    expand(store, ExpandConfig(phrasings=1))
    cont = by_view(stored(store))["continue"]
    (quoted,) = [r for r in cont if r["meta"].get("source") == "quote"]
    ask, answer = (m["content"] for m in quoted["messages"])
    # cut at the first sentence end past the middle: two sentences asked, the third continues them
    assert ask.endswith("а движениям мысли.") and "Я думаю, что модуль" in ask
    assert answer == "Это и есть смысл дистилляции."


def test_paper_digest_feeds_continue_and_hypothesis(store):
    digest = PaperDigest(problem="Retraining is slow.", method="One LoRA per scene.",
                         results=["12x expansion"], limitations=["small models"], application="Train per scene.")
    put(store, simple_en(kind="paper", hypotheses=["Scenes are independent."], paper=digest))
    expand(store)
    views = by_view(stored(store))
    assert "What it changes for the twin: Train per scene." in views["continue"][0]["messages"][1]["content"]
    assert "12x expansion" in views["hypothesis"][0]["messages"][1]["content"]


# --- the views cut from the dialog, and the newer field views --------------------------------------------


def test_dialog_windows_are_multi_turn_slices_of_the_dialog(store):
    put(store, rich_ru(store))
    expand(store)
    rows = by_view(stored(store))["dialog"]
    msg = ids(store, "c-ru")
    # replies at turns 1, 3, 5: windows of 2 exchanges ending at 3 and 5, and of 3 exchanges ending at 5
    assert sorted((r["meta"]["exchanges"], r["meta"]["message_ids"][-1]) for r in rows) == sorted(
        [(2, msg[3]), (2, msg[5]), (3, msg[5])])
    for r in rows:
        first = msg.index(r["meta"]["message_ids"][0])
        assert [m["content"] for m in r["messages"]] == DIALOG[first:first + 2 * r["meta"]["exchanges"]]
        assert [m["role"] for m in r["messages"]] == ["user", "assistant"] * r["meta"]["exchanges"]


def test_next_move_flips_roles_so_the_person_answers(store):
    put(store, rich_ru(store))
    expand(store)
    rows = by_view(stored(store))["next_move"]
    answers = {r["messages"][-1]["content"] for r in rows}
    assert answers == {LONG_OWN.strip(), DIALOG[4]}  # the person's turns; "Спасибо!" is too short to learn
    for r in rows:
        assert r["meta"]["flipped"] is True
        first = ids(store, "c-ru").index(r["meta"]["message_ids"][0])
        assert first % 2 == 1  # starts on the assistant's turn, asked as the user
        assert [m["content"] for m in r["messages"]] == [t.strip() for t in DIALOG[first:first + len(r["messages"])]]
    assert max(r["meta"]["exchanges"] for r in rows) == 2


def test_window_setting_limits_the_exchanges(store):
    put(store, rich_ru(store))
    expand(store, ExpandConfig(views=["dialog", "next_move"], window=2))
    rows = stored(store)
    assert max(len(r["messages"]) for r in rows) == 4 and {r["view"] for r in rows} == {"dialog", "next_move"}


def test_reverse_asks_for_the_question_behind_an_answer(store):
    put(store, rich_ru(store))
    expand(store)
    qa = by_view(stored(store))["qa"]
    rev = by_view(stored(store))["reverse"]
    assert {r["messages"][1]["content"] for r in rev} == {r["messages"][0]["content"] for r in qa}
    for r in rev:
        pair = next(x for x in qa if x["meta"]["question_id"] == r["meta"]["question_id"])
        assert pair["messages"][1]["content"] in r["messages"][0]["content"]


def test_own_words_answers_with_the_persons_paragraph(store):
    put(store, rich_ru(store))
    expand(store)
    (row, *more) = by_view(stored(store))["own_words"]
    assert row["messages"][1]["content"] == LONG_OWN.strip()
    assert row["meta"]["message_id"] == ids(store, "c-ru")[2]
    assert all(r["messages"][1]["content"] == LONG_OWN.strip() for r in more)  # other wordings only


def test_poles_and_critique(store):
    put(store, rich_ru(store))
    expand(store)
    views = by_view(stored(store))
    poles = [r for r in views["poles"] if r["meta"]["axis"] == "сжатие ↔ развёртка"]
    assert poles and all("«сжатие»" in r["messages"][0]["content"] and "«развёртка»" in r["messages"][0]["content"]
                         for r in poles)
    critique = views["critique"][0]["messages"][1]["content"]
    m = rich_ru(store)
    assert m.phrase in critique and m.inversions[0] in critique and m.open_questions[0] in critique
    store.db.execute("DELETE FROM expanded_modules")
    put(store, rich_ru(store, inversions=[], open_questions=[]))  # nothing to hold against the premise
    expand(store)
    assert "critique" not in by_view(stored(store))


def test_phrasings_give_distinct_wordings_and_never_duplicate_examples(store):
    put(store, rich_ru(store, concepts=["фраза", "фраза"]))  # the same concept twice asks the same things
    expand(store, ExpandConfig(views=["concept"], phrasings=5))
    rows = stored(store)
    assert len(rows) == 5  # 5 wordings of one item; the copy's identical chats were dropped
    assert len({json.dumps(r["messages"], ensure_ascii=False) for r in rows}) == 5
    store.db.execute("DELETE FROM expanded_modules")
    put(store, rich_ru(store))
    expand(store, ExpandConfig(phrasings=8))
    everything = stored(store)
    assert len({json.dumps(r["messages"], ensure_ascii=False) for r in everything}) == len(everything)


def test_every_example_traces_to_its_module_and_conversation(store):
    put(store, rich_ru(store), simple_en())
    expand(store)
    conversation_of = {"m-ru": "c-ru", "m-en": "c-en"}
    for r in stored(store):
        mids = r["meta"].get("message_ids", []) + [r["meta"][k] for k in ("question_id", "answer_id", "message_id")
                                                    if k in r["meta"]]
        assert set(mids) <= set(ids(store, conversation_of[r["module_id"]]))


def test_more_wordings_add_pages_but_little_unique_content(store):
    put(store, rich_ru(store))
    one = expand(store, ExpandConfig(phrasings=1)).volumes["total"]
    store.db.execute("DELETE FROM expanded_modules")
    four = expand(store, ExpandConfig(phrasings=4)).volumes["total"]
    assert four["pages"] > one["pages"] * 1.3
    assert four["unique_pages"] - one["unique_pages"] < (four["pages"] - one["pages"]) / 3
    assert one["unique_pages"] <= one["pages"] and four["unique_ratio"] < four["ratio"]


def test_a_recipe_section_of_the_older_shape_still_runs(store):
    from twinforge.config import ExpandConfig as RecipeExpandConfig

    put(store, simple_en())
    expand(store, RecipeExpandConfig(views=["concept"]))
    assert {r["view"] for r in stored(store)} == {"concept"}


# --- config, determinism, idempotency --------------------------------------------------------------------


def test_views_and_counts_configurable_and_deterministic(store):
    many = rich_ru(store, concepts=[f"понятие {i}" for i in range(10)])
    put(store, many)
    cfg = ExpandConfig(views=["concept", "inversion"], per_view=4, counts={"inversion": 0}, seed=7, phrasings=1)
    expand(store, cfg)
    first = stored(store)
    assert {r["view"] for r in first} == {"concept"} and len(first) == 4
    store.db.execute("DELETE FROM expanded_modules")  # forget everything: a fresh expansion must match
    expand(store, cfg)
    again = stored(store)
    assert [(r["id"], r["messages"]) for r in again] == [(r["id"], r["messages"]) for r in first]


def test_unknown_view_is_a_config_error(store):
    put(store, simple_en())
    with pytest.raises(ConfigError, match="available: qa, dialog, next_move, concept"):
        expand(store, ExpandConfig(views=["concept", "poetry"]))


def test_rerun_is_idempotent_and_redoes_only_changed_modules(store):
    put(store, rich_ru(store), simple_en())
    first = expand(store)
    assert (first.expanded, first.unchanged) == (2, 0)
    before = stored(store)
    second = expand(store)
    assert (second.expanded, second.unchanged) == (0, 2)
    assert stored(store) == before  # same ids, same rows, same run ids
    put(store, simple_en(concepts=["adapter", "scene", "stack"]))
    third = expand(store)
    assert (third.expanded, third.unchanged) == (1, 1)
    after = stored(store)
    assert [r for r in after if r["module_id"] == "m-ru"] == [r for r in before if r["module_id"] == "m-ru"]
    assert len(by_view(stored(store, "m-en"))["concept"]) == 3 * ExpandConfig().phrasings
    # a module distill no longer holds takes its examples with it
    store.db.execute("DELETE FROM modules WHERE id = 'm-en'")
    expand(store)
    assert {r["module_id"] for r in stored(store)} == {"m-ru"}


def test_invalid_module_reported_not_fatal(store):
    put(store, simple_en())
    store.db.execute("UPDATE modules SET json = '{\"id\": \"m-en\"}'")
    report = expand(store)
    assert report.invalid and report.invalid[0]["module_id"] == "m-en"
    assert stored(store) == []


def test_dry_run_writes_nothing_but_reports(store):
    put(store, rich_ru(store))
    report = expand(store, dry_run=True)
    assert report.volumes["total"]["examples"] > 0
    assert stored(store) == []


def test_limit_leaves_the_rest_for_later(store):
    put(store, rich_ru(store), simple_en())
    report = expand(store, limit=1)
    assert (report.expanded, report.pending) == (1, 1)
    assert expand(store).expanded == 1


# --- the expansion ratio ---------------------------------------------------------------------------------


def test_ratio_is_computed_from_chars_and_above_one_for_a_rich_module(store):
    put(store, rich_ru(store))
    vol = expand(store).volumes
    chars_in = sum(len(t) for t in DIALOG)  # clean has not run: the whole canonical dialog is the input
    chars_out = sum(r["chars"] for r in stored(store))
    assert vol["chars_in"] == chars_in
    assert vol["pages_in"] == round(chars_in / PAGE_CHARS, 2)
    assert vol["total"]["chars"] == chars_out
    assert vol["total"]["ratio"] == round(chars_out / chars_in, 2) > 1
    assert sum(v["examples"] for v in vol["views"].values()) == vol["total"]["examples"]
    assert abs(sum(v["ratio"] for v in vol["views"].values()) - vol["total"]["ratio"]) < 0.05


# --- CLI -------------------------------------------------------------------------------------------------


def test_cli_expand_json_keys_and_examples_listing(store, tf):
    put(store, rich_ru(store), simple_en())
    r = tf("expand", "--json", ws=store.workspace)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert set(data) >= {"modules", "expanded", "unchanged", "pending", "invalid", "pages_in", "chars_in",
                         "views", "total"}
    assert set(data["total"]) == {"examples", "chars", "tokens", "pages", "ratio", "unique_pages", "unique_ratio"}
    from twinforge.config import load_recipe

    assert set(data["views"]) == set(load_recipe("default").expand.views)
    text = tf("expand", ws=store.workspace).output
    assert "pages in →" in text and "unchanged" in text
    lines = [json.loads(x) for x in tf("examples", "--view", "concept", "--json", "--limit", "0",
                                       ws=store.workspace).output.splitlines()]
    assert len(lines) == data["views"]["concept"]["examples"] and {x["view"] for x in lines} == {"concept"}
    assert set(lines[0]) >= {"id", "module_id", "view", "messages", "language", "chars", "tokens"}


def test_cli_without_modules_says_run_distill(tmp_path, tf):
    s = Store(tmp_path / "ws")
    s.close()
    for cmd in (["expand"], ["examples"]):
        r = tf(*cmd, ws=tmp_path / "ws")
        assert r.exit_code == 1
        assert "run `twinforge distill` first" in r.stderr


def test_missing_modules_table_is_the_same_clear_error(tmp_path):
    s = Store(tmp_path / "ws")
    s.db.execute("DROP TABLE modules")  # a workspace from before distill existed
    with pytest.raises(TwinforgeError, match="run `twinforge distill` first"):
        expand(s)
    s.close()


def test_every_template_file_has_the_same_keys_as_english():
    from twinforge.expand import templates

    def shape(d):
        return {k: shape(v) if isinstance(v, dict) else type(v).__name__ for k, v in d.items() if k != "meta_moves"}

    en = templates.load("en")
    assert set(templates.available()) >= {"en", "ru"}
    for code in templates.available():
        assert shape(templates.load(code).data) == shape(en.data), code
    assert templates.load("de").language == "en"  # no German file: English wording
    assert templates.load("ru-RU").language == "ru"
