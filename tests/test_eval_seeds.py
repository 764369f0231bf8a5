"""The proof on real data: the demo adapter trained on the seeds lowers perplexity on held-out seed text, as
measured BY THE EVALUATION (not read from training logs); the zero adapter is caught as inactive; the run is
stored, reported, listed and compared."""

from __future__ import annotations

import json
import re

from fx_eval import eval_recipe


def test_eval_measures_the_adapter_learned_the_seeds(seeds_eval):
    result, run = seeds_eval
    assert run is not None, result.output
    m = run["metrics"]
    base, demo = m["base"]["ppl_heldout"], m["seeds-demo"]["ppl_heldout"]
    # held-out conversations were never trained on; measured 19.7 vs 26.3 (×0.75), asserted with room to spare
    assert demo < 0.85 * base, (demo, base)
    assert m["seeds-demo"]["ppl_train"] < m["base"]["ppl_train"]
    assert m["zero"]["ppl_heldout"] == base  # B = 0: exactly the base
    for name in ("base", "seeds-demo"):
        assert m[name]["ppl_control"] > 1 and 0 <= m[name]["distinct_1"] <= 1
        assert m[name]["style_similarity"] is not None and -1 <= m[name]["style_similarity"] <= 1
        assert m[name]["length_words"] > 0
    kinds = {p["kind"] for p in run["probes"]}
    assert "heldout" in kinds and kinds & {"concept", "inversion"}
    held = [p for p in run["probes"] if p["kind"] == "heldout"]
    assert held[0]["reference"] and held[0]["conversation_id"]
    modes = {(g["model"], g["mode"]) for g in run["generations"]}
    assert {("base", "greedy"), ("seeds-demo", "seed-1"), ("zero", "greedy")} <= modes


def test_inactive_adapter_fails_loudly(seeds_eval):
    result, run = seeds_eval
    assert result.exit_code == 1
    assert re.search(r"^error: INACTIVE: zero behaves exactly like the base", result.stderr, re.M), result.stderr
    assert "seeds-demo behaves" not in result.stderr
    checks = {a["model"]: a for a in run["active"]}
    assert checks["zero"]["max_logit_diff"] == 0 and not checks["zero"]["active"]
    assert checks["seeds-demo"]["active"] and checks["seeds-demo"]["max_logit_diff"] > 1e-3
    assert any(f["model"] == "zero" and f["kind"] == "inactive" for f in run["failures"])


def test_report_and_store(seeds_dataset, seeds_eval, tf):
    _, run = seeds_eval
    report = seeds_dataset / "reports" / f"eval-{run['id']}" / "index.html"
    assert str(report) == run["report"] and report.is_file()
    html = report.read_text(encoding="utf-8")
    assert "perplexity: held-out turns" in html and "data:image/png;base64," in html
    assert "INACTIVE: zero" in html and "<script" not in html.lower()
    saved = json.loads((report.parent / "report.json").read_text(encoding="utf-8"))
    assert saved["metrics"] == run["metrics"]
    r = tf("eval", "list", "--json", ws=seeds_dataset)
    listed = [json.loads(x) for x in r.output.splitlines()]
    assert any(x["id"] == run["id"] and x["inactive"] == ["zero"] for x in listed)
    assert not list((seeds_dataset / "reports").glob(".eval-*"))  # no half-written report left behind


def test_compare_two_runs(seeds_dataset, seeds_adapter, seeds_eval, tf, tmp_path):
    _, first = seeds_eval
    recipe = eval_recipe(tmp_path, probes=1, tokens=4, seeds="[]")
    r = tf("eval", "-c", recipe, "--adapter", "seeds-demo", ws=seeds_dataset)
    assert r.exit_code == 0, r.output
    assert "perplexity: held-out turns" in r.output and "report:" in r.output
    second = int(re.search(r"eval run (\d+)", r.output).group(1))
    c = tf("eval", "compare", str(first["id"]), str(second), "--json", ws=seeds_dataset)
    data = json.loads(c.output)
    rows = {(x["model"], x["metric"]): x for x in data["rows"]}
    # the same models on the same texts: perplexities must agree; the zero adapter is only in the first run
    assert abs(rows[("seeds-demo", "ppl_heldout")]["delta"]) < 1e-6
    assert data["only_in_a"] == ["zero"] and {"model": "zero", "kind": "inactive"} not in data["failures_new"]
    text = tf("eval", "compare", str(first["id"]), str(second), ws=seeds_dataset).output
    assert re.search(rf"run {first['id']} → {second}: \d+ better, \d+ worse", text)


def test_unknown_adapter_and_run_are_one_line_errors(seeds_dataset, tf):
    r = tf("eval", "--adapter", "nope", ws=seeds_dataset)
    assert r.exit_code == 1 and r.stderr.startswith("error: adapter 'nope' not found")
    r = tf("eval", "compare", "1", "999", ws=seeds_dataset)
    assert r.exit_code == 1 and "no eval run 999" in r.stderr
