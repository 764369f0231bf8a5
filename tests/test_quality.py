"""Module quality: grounding, completeness, degeneracy, the score and its flags, gold metrics, the meta-move
taxonomy's enforcement, and `twinforge modules score` (with and without the labelled set)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, rows

from twinforge.backends.base import Completion, Request
from twinforge.config import DistillConfig
from twinforge.distill import quality, taxonomy
from twinforge.distill.gold import load_gold
from twinforge.distill.render import PromptStrategy, load_template
from twinforge.distill.run import distill
from twinforge.distill.schema import META_MOVES, Module, Quote
from twinforge.errors import TwinforgeError
from twinforge.store import Store

GOLD = REPO / "tests" / "data" / "modules"

PERSON = [
    ("u1", "user", "Я думаю, что адаптеры лучше обучения с нуля, если данных меньше миллиона строк. "
                   "Что лучше для маленького бюджета: адаптеры или своя модель?"),
    ("u2", "user", "А если наоборот: сначала собрать данные, а модель выбрать потом?"),
]
ASSISTANT = [
    ("a1", "assistant", "Low-rank adaptation keeps the frozen base weights and trains small matrices, which is "
                        "cheaper than full fine-tuning. Параметрическая эффективность достигается за счёт "
                        "низкоранговых матриц."),
]
TURNS = [PERSON[0], ASSISTANT[0], PERSON[1]]


def module(**kw) -> Module:
    base = dict(id="m-1", conversation_id="c-1", title="t", language="ru",
                phrase="Адаптеры лучше обучения с нуля, когда строк данных меньше миллиона.",
                concepts=["адаптер", "обучение с нуля", "данные"], meta_move="comparison",
                axes=["адаптеры ↔ своя модель"], hypotheses=["адаптеры лучше"],
                transition_rules=["если данных меньше миллиона строк, адаптеры"],
                inversions=["сначала собрать данные, а модель выбрать потом"],
                open_questions=["Что лучше для маленького бюджета?"],
                quotes=[Quote(text="А если наоборот: сначала собрать данные, а модель выбрать потом?",
                              message_id="u2")])
    return Module(**(base | kw))


def check(m: Module, turns=TURNS) -> quality.Check:
    return quality.check_module(m, *quality.sides(turns, m.language))


# --- grounding -----------------------------------------------------------------------------------------------


def test_a_grounded_complete_module_scores_high_and_is_not_flagged():
    c = check(module())
    assert c.phrase == "lemmas" and c.quotes == ["ok"] and all(c.concepts)  # the phrase's words, other forms
    s = quality.score("m-1", "c-1", "comparison", c, threshold=0.5)
    assert s.grounding == 1.0 and s.completeness == 1.0 and s.degeneracy == 0.0
    assert s.score == 1.0 and not s.flagged and s.reasons == []


def test_a_phrase_lifted_from_the_assistant_is_a_defect_that_flags_the_module():
    verbatim = check(module(phrase="Параметрическая эффективность достигается за счёт низкоранговых матриц."))
    assert verbatim.phrase == "assistant"
    # reworded a little, still a run of the assistant's words
    reworded = check(module(phrase="Эффективность: low-rank adaptation keeps frozen base weights."))
    assert reworded.phrase == "assistant"
    s = quality.score("m-1", "c-1", "comparison", verbatim, threshold=0.0)  # flagged whatever the threshold
    assert s.flagged and "phrase taken from the assistant's words" in s.reasons
    assert s.grounding == pytest.approx(0.6)


def test_a_phrase_in_nobody_s_words_is_not_the_person_s():
    c = check(module(phrase="Квантовые вычисления изменят логистику складов."))
    assert c.phrase == "not-own"
    assert quality.score("m", "c", "comparison", c, 0.0).flagged


def test_an_invented_quote_a_quote_of_the_assistant_and_a_wrong_message_id_are_caught():
    m = module(quotes=[
        Quote(text="А если наоборот: сначала собрать данные", message_id="u2"),  # ok, a verbatim part
        Quote(text="Адаптеры всегда побеждают, это очевидно.", message_id="u1"),  # nobody wrote it
        Quote(text="which is cheaper than full fine-tuning", message_id="u1"),  # the assistant's
        Quote(text="Что лучше для маленького бюджета", message_id="u2"),  # the person's, in u1 not u2
    ])
    c = check(m)
    assert c.quotes == ["ok", "invented", "assistant", "wrong-message"]
    s = quality.score(m.id, m.conversation_id, m.meta_move, c, threshold=0.0)
    assert s.flagged
    assert "quote 2 is not in the person's messages" in s.reasons
    assert "quote 3 is the assistant's words" in s.reasons and "quote 4 names the wrong message" in s.reasons


def test_concepts_are_grounded_by_lemma_in_the_person_s_text_only():
    c = check(module(concepts=["адаптеры", "строки данных", "низкоранговая матрица", "frozen weights"]))
    # "строки данных" are the person's words in other forms; the last two are only the assistant's
    assert c.concepts == [True, True, False, False]


# --- completeness ---------------------------------------------------------------------------------------------


def test_completeness_counts_only_the_fields_the_dialog_supports():
    assert quality.supported_fields("Просто рассказываю, как прошёл день.") == set(quality.CORE_FIELDS)
    cues = quality.supported_fields("Если данных мало, то адаптеры. А может быть наоборот? Или лучше с нуля?")
    assert cues == set(quality.CORE_FIELDS) | set(quality.CUE_FIELDS)
    plain = [("u1", "user", "Просто рассказываю, как прошёл день: адаптер, данные, обучение с нуля.")]
    m = module(phrase="Просто рассказываю, как прошёл день", axes=[], inversions=[], hypotheses=[],
               transition_rules=[], open_questions=[],
               quotes=[Quote(text="Просто рассказываю, как прошёл день", message_id="u1")])
    assert check(m, plain).completeness == 1.0  # nothing the dialog lacks is asked for
    assert check(m).completeness == pytest.approx(4 / 9)  # the cued dialog supports five more fields


# --- degeneracy ----------------------------------------------------------------------------------------------


def test_function_word_and_address_concepts_are_degenerate():
    m = module(concepts=["адаптер", "то, что", "бро", "ChatGPT", "можно", "I've"])
    c = check(m)
    assert c.function_concepts == ["то, что", "бро", "ChatGPT", "можно", "I've"]
    s = quality.score(m.id, m.conversation_id, m.meta_move, c, threshold=0.5)
    assert s.degeneracy == pytest.approx(5 / 6, abs=1e-3) and s.flagged
    assert any(r.startswith("function-word concepts: то, что") for r in s.reasons)


def test_every_module_with_one_meta_move_is_a_collapse_and_near_copies_are_found():
    mods = [module(id=f"m-{i}", conversation_id=f"c-{i}", meta_move="analogy") for i in range(6)]
    scores = quality.score_all([(m, check(m)) for m in mods], threshold=0.5)
    s = quality.summary(scores)
    assert s["meta_move_collapse"] and s["top_meta_move"] == "analogy" and s["top_meta_move_share"] == 1.0
    # the six are the same module: every later one copies the first
    assert [x.copy_of for x in scores] == [None] + ["m-0"] * 5 and s["near_copies"] == 5
    assert scores[1].degeneracy == 0.5 and "near copy of m-0" in scores[1].reasons
    varied = [module(id=f"m-{i}", conversation_id=f"c-{i}", meta_move=mv, phrase=f"Фраза номер {i} про адаптеры",
                     concepts=[f"понятие{i}", "адаптер"]) for i, mv in enumerate(META_MOVES[:6])]
    s2 = quality.summary(quality.score_all([(m, check(m)) for m in varied], threshold=0.5))
    assert not s2["meta_move_collapse"] and s2["near_copies"] == 0


def test_a_move_outside_the_taxonomy_lowers_completeness_and_is_named():
    c = check(module(meta_move="generalization"))
    s = quality.score("m-1", "c-1", "generalization", c, threshold=0.0)
    assert not c.meta_move_known and s.completeness < 1
    assert "meta-move 'generalization' is not in the taxonomy" in s.reasons


# --- gold metrics --------------------------------------------------------------------------------------------


def test_gold_metrics_on_a_hand_made_case():
    m = module(concepts=["адаптеры", "обучение модели с нуля", "бюджет", "погода"],
               meta_move="comparison",
               axes=["адаптеры ↔ обучение с нуля", "быстро ↔ медленно", "без полюсов"],
               inversions=["сначала собрать данные, а модель выбрать потом"],
               hypotheses=["адаптеры выиграют при малом бюджете"],
               transition_rules=[])
    gold = {"concepts": ["адаптер", "обучение с нуля", "бюджет данных", "разметка"], "meta_move": "comparison",
            "axes": [["обучение с нуля", "адаптеры"], ["дёшево", "дорого"]],
            "inversions": ["модель выбрать потом, а данные собрать сначала"],
            "hypotheses": ["если данных меньше миллиона строк, адаптеры выиграют"],
            "transition_rules": ["если бюджет мал, то адаптеры"]}
    g = quality.score_gold(m, gold, "ru")
    # predicted: адаптеры ✓, обучение модели с нуля ⊇ обучение с нуля ✓, бюджет ⊆ бюджет данных ✓, погода ✗
    assert (g.concepts_predicted, g.concepts_predicted_right) == (4, 3)
    # gold: адаптер ✓, обучение с нуля ✓, бюджет данных ✓ (contains "бюджет"), разметка ✗
    assert (g.concepts_gold, g.concepts_gold_found) == (4, 3)
    assert g.meta_move_right == 1
    assert (g.axes_gold, g.axes_found) == (2, 1)  # poles in the other order still match; дёшево ↔ дорого missed
    assert (g.inversions_gold, g.inversions_found) == (1, 1)
    # hypothesis: 2 of its 6 content lemmas (данные маленький миллион строка адаптер выиграть) predicted: < 50%
    assert (g.hypotheses_gold, g.hypotheses_found) == (1, 0)
    assert (g.transition_rules_gold, g.transition_rules_found) == (1, 0)
    f = g.figures()
    assert f["concept_precision"] == 0.75 and f["concept_recall"] == 0.75 and f["axis_recall"] == 0.5
    assert f["meta_move_accuracy"] == 1.0 and f["transition_rule_recall"] == 0.0
    assert "concept: разметка" in g.missed and "axis: дёшево ↔ дорого" in g.missed
    missing = quality.score_gold(None, gold, "ru")  # distill failed: nothing found, nothing right
    assert missing.concepts_gold_found == 0 and missing.meta_move_right == 0 and missing.dialogs == 1
    wrong = quality.score_gold(m.model_copy(update={"meta_move": "analogy"}), gold, "ru")
    assert wrong.meta_move_right == 0


def test_gold_counts_add_up_over_dialogs():
    total = quality.GoldCounts(dialogs=0)
    total.add(quality.GoldCounts(dialogs=1, concepts_gold=4, concepts_gold_found=3, meta_move_right=1))
    total.add(quality.GoldCounts(dialogs=1, concepts_gold=2, concepts_gold_found=0, missed=["x"]))
    f = total.figures()
    assert f["dialogs"] == 2 and f["concept_recall"] == 0.5 and f["meta_move_accuracy"] == 0.5
    assert f["axis_recall"] is None  # no gold axes: no figure, not a perfect one


def test_a_bad_gold_file_is_one_clear_error_naming_it(tmp_path):
    good = {"id": "x", "language": "ru", "split": "tuning", "title": "t",
            "messages": [{"id": "m1", "role": "user", "text": "Что лучше?"}],
            "labels": {"concepts": ["a"], "meta_move": "comparison"}}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(good, allow_unicode=True), encoding="utf-8")
    assert [g.id for g in load_gold(tmp_path)] == ["x"]
    bad = good | {"labels": {"concepts": ["a"], "meta_move": "pattern-matching"}}
    (tmp_path / "y.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TwinforgeError, match=r"y\.yaml: labels\.meta_move 'pattern-matching' is not a taxonomy"):
        load_gold(tmp_path)


# --- the taxonomy's enforcement -------------------------------------------------------------------------------


class Scripted:
    name, model = "scripted", "script-1"

    def __init__(self, answer):
        self.answer, self.requests = answer, []

    def complete_many(self, requests: list[Request]):
        self.requests += requests
        return [Completion(self.answer(r), self.model) for r in requests]


def _first_user_sentence(request: Request) -> str:
    user = re.split(r"\[user [0-9a-f]+\]\n", request.messages[1]["content"], maxsplit=1)[1]
    return user.split(". ")[0].split("\n")[0].strip()


def test_a_models_move_outside_the_taxonomy_is_mapped_or_rejected_and_counted(cleaned, tf):
    words = iter(["Инверсия", "pattern-matching", "inversion"])

    def answer(req: Request) -> str:
        q = _first_user_sentence(req)
        return json.dumps({"title": "t", "phrase": q, "concepts": ["a"], "meta_move": next(words), "quotes": [q]},
                          ensure_ascii=False)

    with Store(cleaned) as store:
        report = distill(store, DistillConfig(limit=3), backend=Scripted(answer))
    assert report.distilled == 3
    assert report.meta_moves_mapped == 1 and report.meta_moves_rejected == 1
    mods = [Module.model_validate_json(r["json"]) for r in rows(cleaned, "SELECT json FROM modules")]
    assert all(m.meta_move in META_MOVES for m in mods)
    raws = sorted(m.meta_move_raw for m in mods)
    assert raws == ["", "pattern-matching", "Инверсия"]  # nothing lost: the model's own word is kept
    assert report.quality["modules"] == 3  # scored at the end of the run
    assert len(rows(cleaned, "SELECT * FROM module_scores")) == 3


def test_the_prompts_list_the_taxonomy():
    for lang in ("ru", "en"):
        t = load_template(lang)
        assert t.version == "module.v3" and "{meta_moves}" in t.system
    req = PromptStrategy().request(*_tiny_dialog())
    system = req.messages[0]["content"]
    for move in taxonomy.moves().values():
        assert f"{move.name}: {move.definition}" in system
    assert "generalization" not in system and ", other" not in system


def _tiny_dialog():
    from twinforge.distill.render import Chunk, Dialog, Turn

    turns = [Turn("u1", "user", "Что лучше?")]
    return Dialog("c", "t", "ru", turns), Chunk(0, turns), 1


# --- the workspace and the CLI ---------------------------------------------------------------------------------


def test_distill_prints_the_scores_and_modules_score_prints_and_parses(cleaned, tf):
    r = tf("distill")
    assert r.exit_code == 0, r.output
    assert re.search(r"^quality: \d+ modules, mean score [01]\.\d\d", r.output, re.MULTILINE)
    assert "meta-moves: " in r.output
    with Store(cleaned) as store:
        stored = store.module_scores()
    n = len(rows(cleaned, "SELECT id FROM modules WHERE kind = 'dialog'"))
    assert len(stored) == n > 0 and all(0 <= s["score"] <= 1 for s in stored.values())
    table = tf("modules", "score")
    assert table.exit_code == 0 and len(re.findall(r"^m-[0-9a-f]{16} ", table.output, re.MULTILINE)) == n
    data = json.loads(tf("modules", "score", "--json").output)
    assert data["overall"]["modules"] == n and data["threshold"] == 0.5
    assert {m["module_id"] for m in data["modules"]} == set(stored)
    assert all({"score", "grounding", "completeness", "degeneracy", "flagged", "reasons", "check"} <= set(m)
               for m in data["modules"])
    # extractive modules are the person's words, verbatim: nothing invented survives
    assert data["overall"]["phrases_not_own"] == 0 and data["overall"]["quotes_not_own"] == 0
    listed = [json.loads(x) for x in tf("modules", "--json").output.splitlines()]
    assert all("score" in x for x in listed)


def test_flagged_modules_are_listed_by_rejects_and_left_out_by_expand(cleaned, tf):
    assert tf("distill").exit_code == 0
    n = len(rows(cleaned, "SELECT id FROM modules WHERE kind = 'dialog'"))
    assert tf("expand").exit_code == 0
    before = rows(cleaned, "SELECT count(*) AS n FROM examples")[0]["n"]
    assert before > 0
    data = json.loads(tf("modules", "score", "--threshold", "1", "--json").output)
    flagged = {m["module_id"] for m in data["modules"] if m["flagged"]}
    assert flagged == {m["module_id"] for m in data["modules"] if m["score"] < 1} and 0 < len(flagged) < n
    r = tf("modules", "score", "--threshold", "1")
    assert f"flagged {len(flagged)}" in r.output and "warning: " in r.output
    listed = [json.loads(x) for x in tf("rejects", "--reason", "module-flagged", "--json").output.splitlines()]
    assert {x["module_id"] for x in listed} == flagged
    assert all(x["reason"] == "module-flagged" and "below 1.00" in x["detail"] for x in listed)
    assert "module-flagged" in tf("rejects").output
    report = json.loads(tf("expand", "--json").output)
    assert report["skipped_flagged"] == len(flagged) and report["unchanged"] == n - len(flagged)
    left = {r["module_id"] for r in rows(cleaned, "SELECT DISTINCT module_id FROM examples")}
    assert left and not left & flagged  # the flagged modules' examples are gone
    # the recipe can keep them
    recipe = Path(cleaned) / "keep.yaml"
    recipe.write_text("expand:\n  skip_flagged: false\n", encoding="utf-8")
    kept = json.loads(tf("expand", "--config", str(recipe), "--json").output)
    assert kept["skipped_flagged"] == 0 and kept["expanded"] == len(flagged)
    # scored again at a threshold nothing is below: unflagged, expanded again by default
    assert tf("modules", "score", "--threshold", "0").exit_code == 0
    assert not tf("rejects", "--reason", "module-flagged", "--json").output.strip()
    assert json.loads(tf("expand", "--json").output)["skipped_flagged"] == 0


def test_modules_score_without_modules_says_run_distill(cleaned, tf):
    r = tf("modules", "score")
    assert r.exit_code == 1 and "run `twinforge distill` first" in r.stderr


@pytest.mark.skipif(not (GOLD / "dialogs").is_dir(), reason="the labelled module set is not in this tree yet")
def test_modules_score_gold_runs_the_extractive_backend_and_prints_heldout_figures(tf, workspace):
    r = tf("modules", "score", "--gold", GOLD, "--backend", "extractive", "--split", "heldout")
    assert r.exit_code == 0, r.output
    assert "heldout (the reported figures)" in r.output and "tuning" not in r.output.split("\n", 1)[1]
    assert re.search(r"concepts \(lemma\): precision [01]\.\d\d, recall [01]\.\d\d", r.output)
    assert re.search(r"meta-move accuracy [01]\.\d\d", r.output)
    both = json.loads(tf("modules", "score", "--gold", GOLD, "--backend", "extractive", "--json").output)
    assert set(both["splits"]) == {"tuning", "heldout"} and both["calls"] > 0  # the tuning part was new
    data = json.loads(tf("modules", "score", "--gold", GOLD, "--backend", "extractive", "--split", "heldout",
                         "--json").output)
    assert data["calls"] == 0 and data["cache_hits"] > 0  # the re-run asked no backend: the cache answered
    assert data["splits"]["heldout"] == both["splits"]["heldout"]
    held = data["splits"]["heldout"]
    heldout_files = [p for p in (GOLD / "dialogs").glob("*.yaml")
                     if yaml.safe_load(p.read_text(encoding="utf-8"))["split"] == "heldout"]
    assert held["dialogs"] == len(heldout_files) and held["failed"] == 0
    for key in ("concept_precision", "concept_recall", "meta_move_accuracy"):
        assert 0 <= held[key] <= 1
    assert held["quality"]["phrases_not_own"] == 0  # extractive phrases are the person's sentences


def test_the_web_ui_api_shows_each_module_s_score_and_flags(cleaned, tf):
    from fastapi.testclient import TestClient

    from twinforge.backends.config import BackendConfig
    from twinforge.serve.app import create_app
    from twinforge.serve.config import ServeConfig

    assert tf("distill").exit_code == 0
    assert tf("modules", "score", "--threshold", "1").exit_code == 0
    scores = json.loads(tf("modules", "score", "--threshold", "1", "--json").output)["modules"]
    by_id = {s["module_id"]: s for s in scores}
    client = TestClient(create_app(cleaned, ServeConfig(backend=BackendConfig(name="extractive"))),
                        base_url="http://127.0.0.1")
    items = client.get("/api/modules").json()["items"]
    assert items and {i["id"] for i in items} == set(by_id)
    for i in items:
        assert i["score"] == by_id[i["id"]]["score"] and i["flagged"] == by_id[i["id"]]["flagged"]
        assert i["flag_reasons"] == by_id[i["id"]]["reasons"]
    flagged = next(i for i in items if i["flagged"])
    one = client.get(f"/api/modules/{flagged['id']}").json()
    assert one["flagged"] and one["flag_reasons"][0].startswith("score ") and one["phrase"] == flagged["phrase"]
    app_js = (REPO / "src" / "twinforge" / "serve" / "static" / "app.js").read_text(encoding="utf-8")
    assert "flag_reasons" in app_js  # the modules page shows them
