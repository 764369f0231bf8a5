"""Honest volume: unique pages (template frame cut, repeats once), the volume planner, its CLI."""

from __future__ import annotations

import json
import math

import orjson
import pytest
from test_expand import put, rich_ru, simple_en, store  # noqa: F401  (store: the fixture)

from twinforge.expand import planner, uniqueness, volume
from twinforge.expand.run import expand
from twinforge.expand.views import VIEWS

NOVEL = ("Granite bridges hum softly whenever autumn pilots rehearse their curious lanterns beside quiet "
         "harbours; meanwhile seven orchards trade velvet compasses for borrowed thunder, and every violin "
         "remembers which river taught it patience before the glaciers moved north across the plain. ") * 1


def _novel(seed: int, words: int = 300) -> str:
    """Text no template and no dialog holds: words of a fixed vocabulary in a seeded order."""
    import random

    vocab = sorted(set(NOVEL.replace(";", "").replace(",", "").replace(".", "").split()))
    rng = random.Random(seed)
    return " ".join(rng.choice(vocab) for _ in range(words))


def add_example(db, module_id: str, view: str, position: int, user: str, answer: str,
                generated: bool = False) -> None:
    """An example; `generated`: with the meta generated_run writes (a prompt version), as the gate kept it."""
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    meta = orjson.dumps({"generated": True, "prompt_version": f"{view}.v1"}).decode() if generated else None
    db.execute("INSERT INTO examples (id, module_id, view, position, messages, language, chars, tokens, meta, run_id)"
               " VALUES (?, ?, ?, ?, ?, 'en', ?, 0, ?, NULL)",
               (f"{module_id}-{view}-{position}", module_id, view, position, orjson.dumps(messages).decode(),
                len(user) + len(answer), meta))


# --- the unique measure ----------------------------------------------------------------------------------


def test_repeated_text_counts_once_and_a_new_sentence_adds():
    d = uniqueness.Distinct()
    d.add(NOVEL)
    once = d.count
    d.add(NOVEL)
    d.add(NOVEL.upper())  # case does not make text new
    assert d.count == once > 0
    d.add("An entirely different sentence about sailing ships and their ropes appears here today.")
    assert d.count > once


def test_template_frame_is_cut_out():
    frame = uniqueness.template_frame()
    asks = [f"Explain the concept “{c}” in the context of “Dialogs”." for c in ("alpha", "beta", "gamma")]
    raw, cut = uniqueness.Distinct(), uniqueness.Distinct(frame)
    for a in asks:
        raw.add(a)
        cut.add(a)
    # uncut, every wording's frame 5-grams around each concept count; cut, only the filled-in fields remain
    assert raw.count > cut.count
    assert cut.count <= 4  # "alpha", "beta", "gamma", "dialogs": one unit each


def test_sampling_past_the_exact_limit_estimates_the_same_count():
    exact, sampled = uniqueness.Distinct(), uniqueness.Distinct(exact_limit=500)
    for i in range(40):
        text = _novel(i, 400)
        exact.add(text)
        sampled.add(text)
    assert sampled.sample == uniqueness.SAMPLE and exact.sample == 1
    assert abs(sampled.count - exact.count) / exact.count < 0.1


def test_template_views_give_pages_not_unique_content_and_new_text_shows_the_gain(store):  # noqa: F811
    put(store, rich_ru(store), simple_en())
    vol = expand(store).volumes
    t = vol["kinds"]["template"]
    assert t["ratio"] > 1.5 * t["unique_ratio"]  # the template views repeat the module's text in many frames
    assert vol["definition"] == volume.DEFINITION and set(vol["kinds"]) == {"template"}
    base = vol["total"]["unique_pages"]
    # a "generated" view that only copies template text adds pages but no unique content ...
    copy = store.db.execute("SELECT messages FROM examples WHERE view = 'concept' LIMIT 1").fetchone()[0]
    m = orjson.loads(copy)
    add_example(store.db, "m-ru", "paraphrase", 0, m[0]["content"], m[1]["content"])
    copied = volume.volumes(store.db)
    assert copied["kinds"]["generated"]["pages"] > 0
    assert copied["total"]["unique_pages"] == base
    # ... one with new text adds about its own size in unique pages
    text = _novel(1, 600)
    add_example(store.db, "m-ru", "paraphrase", 1, "What else?", text)
    grown = volume.volumes(store.db)
    gain = grown["total"]["unique_pages"] - base
    assert gain > 0
    assert grown["views"]["paraphrase"]["unique_pages"] > copied["views"]["paraphrase"]["unique_pages"]
    assert grown["kinds"]["generated"]["unique_ratio"] > copied["kinds"]["generated"]["unique_ratio"]


# --- the planner (pure) ------------------------------------------------------------------------------------


def gen(view: str, pages: float = 0.5, unique: float = 0.8, pass_rate: float = 1.0, cap: int = 10):
    return planner.ViewYield(view, True, pages, pages * 18, unique, pass_rate, cap, prompt_tokens=500,
                             output_tokens=200)


def test_a_target_the_template_views_meet_needs_no_generation():
    p = planner.plan(100, "pages", 100, 2.0, [gen("paraphrase")], None)
    assert p.reachable and p.base == 200 and all(v.per_module == 0 for v in p.views) and p.requests == 0


def test_reachable_target_plans_the_fewest_examples_that_meet_it():
    views = [gen("paraphrase"), gen("new_question", pages=1.0)]
    p = planner.plan(1000, "pages", 200, 1.0, views, planner.Throughput(100.0, "stated"))
    assert p.reachable
    unique = p.base + sum(v.unique_pages for v in p.views)
    assert unique >= 1000
    # one example fewer of every view per module falls short: the plan is not padded
    short = p.base + sum((v.per_module - 1) * 200 * y.pages * y.unique for v, y in zip(p.views, views))
    assert short < 1000
    assert p.output_tokens == p.requests * 200 and p.seconds == round(p.output_tokens / 100.0, 1)


def test_pass_rate_multiplies_the_requests_not_the_kept_examples():
    full = planner.plan(1000, "pages", 200, 1.0, [gen("paraphrase", pass_rate=1.0)], None)
    half = planner.plan(1000, "pages", 200, 1.0, [gen("paraphrase", pass_rate=0.5)], None)
    assert full.views[0].per_module == half.views[0].per_module
    assert half.views[0].requests_per_module == math.ceil(full.views[0].per_module / 0.5)
    assert half.requests == 2 * full.requests


def test_unreachable_target_says_so_and_how_many_modules_would_reach_it():
    views = [gen("paraphrase", cap=4), gen("depth", cap=4)]
    p = planner.plan(15000, "pages", 100, 1.0, views, None)
    per_module = 1.0 + 2 * 4 * 0.5 * 0.8
    assert not p.reachable and p.most == pytest.approx(per_module * 100)
    assert p.modules_needed == math.ceil(15000 / per_module)
    assert all(v.per_module == 4 for v in p.views)  # everything the caps allow
    assert planner.plan(15000, "pages", p.modules_needed, 1.0, views, None).reachable


def test_raw_target_counts_repeated_pages_unique_does_not():
    views = [gen("paraphrase", unique=0.25)]
    unique = planner.plan(300, "pages", 100, 0.0, views, None)
    raw = planner.plan(300, "pages", 100, 0.0, views, None, unique=False)
    assert raw.views[0].per_module < unique.views[0].per_module


def test_lines_target_uses_lines_per_example():
    p = planner.plan(1_000_000, "lines", 1000, 10.0, [gen("walkthrough", pages=1.0)], None)
    assert p.unit == "lines" and p.reachable == (1_000_000 <= 1000 * (10 + 10 * 18 * 0.8))


@pytest.mark.parametrize("text, value", [("15000", 15000), ("15k", 15000), ("1M", 1e6), ("1.5m", 1.5e6),
                                         ("2,500", 2500)])
def test_amounts_accept_k_and_m(text, value):
    assert planner.parse_amount(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "1G"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(ValueError):
        planner.parse_amount(text)


# --- measured inputs ---------------------------------------------------------------------------------------


def test_pass_rates_read_from_the_gates_rejects_else_assumed(store):  # noqa: F811
    put(store, rich_ru(store))
    expand(store)
    for i in range(3):
        add_example(store.db, "m-ru", "paraphrase", i, f"Question {i}?", _novel(i, 50))
    vol = volume.volumes(store.db)
    unmeasured = planner.view_yields(vol, store, ["paraphrase", "depth"])  # no generated example, no reject
    assert all(y.pass_rate == planner.ASSUMED_PASS_RATE for y in unmeasured)
    assert any("pass rate" in a for a in unmeasured[0].assumed)
    for i in range(3, 6):
        add_example(store.db, "m-ru", "paraphrase", i, f"Question {i}?", _novel(i, 50), generated=True)
    store.db.execute("INSERT INTO example_rejects VALUES ('r1', 'm-ru', 'paraphrase', 0, 'openai:m', "
                     "'paraphrase.v1', 'ungrounded', '', '[]', NULL)")
    measured = {y.view: y for y in planner.view_yields(vol, store, ["paraphrase", "depth"])}
    assert measured["paraphrase"].pass_rate == pytest.approx(3 / 4)
    assert not any("pass rate" in a for a in measured["paraphrase"].assumed)
    assert not any("pages per example" in a for a in measured["paraphrase"].assumed)  # measured from examples
    assert measured["depth"].pass_rate == planner.ASSUMED_PASS_RATE  # no example, no reject: still assumed


def test_throughput_from_the_call_cache_history(store):  # noqa: F811
    db = store.db
    assert planner.throughput_from_history(store, "openai", "m") is None
    db.execute("INSERT INTO runs (stage, started_at, finished_at, status) VALUES"
               " ('expand', '2026-01-01T10:00:00+00:00', '2026-01-01T10:01:40+00:00', 'ok')")
    for i in range(4):
        db.execute("INSERT INTO llm_calls VALUES (?, 'openai', 'm', 'paraphrase.v1', 'x', 400, 250, ?)",
                   (f"k{i}", f"2026-01-01T10:0{i}:00+00:00"))
    tp = planner.throughput_from_history(store, "openai", "m")
    # calls at 10:00, 10:01 fall in the 100 s run; 10:02 and 10:03 do not
    assert tp.answer_tokens_per_second == pytest.approx(500 / 100)
    assert "measured from the call cache" in tp.basis and "100 s" in tp.basis
    assert planner.throughput_from_history(store, "llamacpp", None) is None
    assert planner.measure_requests(store)["paraphrase"][:2] == (400.0, 250.0)


# --- CLI ---------------------------------------------------------------------------------------------------


def test_cli_dry_run_plan_with_stated_throughput(store, tf):  # noqa: F811
    put(store, rich_ru(store), simple_en())
    assert tf("expand", ws=store.workspace).exit_code == 0
    r = tf("expand", "--dry-run", "--target-pages", "1k", "--modules", "1000", "--tokens-per-second", "2500",
           "--json", ws=store.workspace)
    assert r.exit_code == 0, r.output
    p = json.loads(r.output)
    assert p["modules"] == 1000 and p["target"] == 1000 and p["unit"] == "pages" and p["unique"]
    assert p["seconds"] == round(p["output_tokens"] / 2500, 1) and "stated" in p["throughput_basis"]
    assert {v["view"] for v in p["views"]} == set(planner.GENERATED) and p["assumed"]
    text = tf("expand", "--dry-run", "--target-lines", "1M", ws=store.workspace).output
    assert "NOT reachable" in text and "modules would reach it" in text and "time: unknown" in text


def test_cli_unreachable_target_fails_without_writing(store, tf):  # noqa: F811
    put(store, rich_ru(store))
    assert tf("expand", ws=store.workspace).exit_code == 0
    before = store.db.execute("SELECT count(*) FROM examples").fetchone()[0]
    r = tf("expand", "--target-pages", "1M", ws=store.workspace)
    assert r.exit_code != 0 and "not reachable" in r.output
    assert store.db.execute("SELECT count(*) FROM examples").fetchone()[0] == before


def test_cli_plan_needs_measured_examples_first(store, tf):  # noqa: F811
    put(store, rich_ru(store))
    r = tf("expand", "--dry-run", "--target-pages", "100", ws=store.workspace)
    assert r.exit_code != 0 and "run `twinforge expand` once first" in r.output
    bad = tf("expand", "--dry-run", "--target-pages", "lots", ws=store.workspace)
    assert bad.exit_code != 0 and "not an amount" in bad.output


def test_template_views_are_registered_apart_from_generated():
    assert not set(planner.GENERATED) & set(VIEWS)


def test_calibration_times_a_burst_of_requests(scripted):
    import time

    from twinforge.backends import get_backend
    from twinforge.backends.config import BackendConfig

    def reply(body, headers):
        time.sleep(0.1)
        return 200, {"model": "m", "choices": [{"message": {"content": "q? a."}, "finish_reason": "length"}],
                     "usage": {"prompt_tokens": 50, "completion_tokens": 20}}, {}

    (url_a, seen_a), (url_b, seen_b) = scripted(reply), scripted(reply)
    backend = get_backend(BackendConfig(name="openai", base_urls=[url_a, url_b], model="m", per_url_concurrency=2))
    tp = planner.calibrate(backend, "a module", 8, max_tokens=20)
    assert len(seen_a) + len(seen_b) == 8 and seen_a and seen_b
    # 8 requests, 4 at a time, 0.1 s each: at least 0.2 s for 160 answer tokens, so never above 800 tokens/s
    # (only the upper bound: a loaded machine makes the burst slower, never faster)
    assert 0 < tp.answer_tokens_per_second <= 800
    assert tp.basis.startswith("calibrated now: 8 requests") and "160 answer tokens" in tp.basis


def test_a_met_plan_sets_the_requests_per_module_generated_run_asks():
    from twinforge.cli.expand_plan import apply
    from twinforge.errors import TwinforgeError
    from twinforge.expand.config import ExpandConfig
    from twinforge.expand.generated_run import check_generated

    depth = planner.ViewYield("depth", True, 0.5, 9.0, 0.8, 0.5, 10, per_request=3, prompt_tokens=500,
                              output_tokens=600)
    p = planner.plan(1000, "pages", 200, 1.0, [gen("paraphrase"), depth], None)
    cfg = ExpandConfig()
    apply(cfg, p)
    assert cfg.generated.views == ["paraphrase", "depth"]
    # generated.counts is what generated_run asks of each view per module: requests, not kept examples
    assert cfg.generated.counts == {v.view: v.requests_per_module for v in p.views}
    para, deep = p.views
    assert para.requests_per_module == para.per_module  # one example a request, all kept
    assert deep.requests_per_module == math.ceil(deep.per_module / 3 / 0.5)  # three a request, half kept
    assert check_generated(cfg.generated) == ["paraphrase", "depth"]  # names the runner accepts
    assert ExpandConfig.model_validate(cfg.model_dump()).generated.counts == cfg.generated.counts
    with pytest.raises(TwinforgeError, match="not reachable"):
        apply(ExpandConfig(), planner.plan(1e9, "pages", 2, 1.0, [gen("paraphrase")], None))


def test_a_plan_the_template_views_meet_leaves_the_recipes_generated_views():
    """Emptying them would make generated_run delete examples a model already wrote."""
    from twinforge.cli.expand_plan import apply
    from twinforge.expand.config import ExpandConfig

    p = planner.plan(1, "pages", 200, 1.0, [gen("paraphrase")], None)
    assert not any(v.requests_per_module for v in p.views)
    cfg = ExpandConfig()
    cfg.generated.views, cfg.generated.counts = ["depth"], {"depth": 2}
    apply(cfg, p)
    assert cfg.generated.views == ["depth"] and cfg.generated.counts == {"depth": 2}


def test_view_yields_know_what_one_request_gives(store):  # noqa: F811
    put(store, rich_ru(store))
    expand(store)
    ys = {y.view: y for y in planner.view_yields(volume.volumes(store.db), store,
                                                 ["paraphrase", "depth", "paper_applied"])}
    assert [ys[v].per_request for v in ("paraphrase", "depth", "paper_applied")] == [1, 3, 3]
    assert ys["paper_applied"].cap == 3 and ys["depth"].cap == planner.MAX_PER_MODULE  # a paper is asked once
    assert ys["depth"].pages == pytest.approx(ys["paraphrase"].pages / 3)  # assumed: one answer split in three


def test_cli_target_the_template_views_meet_runs_expand(store, tf):  # noqa: F811
    put(store, rich_ru(store))
    assert tf("expand", ws=store.workspace).exit_code == 0
    r = tf("expand", "--target-pages", "0.5", "--json", ws=store.workspace)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["plan"]["reachable"] and data["plan"]["requests"] == 0 and data["total"]["examples"] > 0
