"""Scenes: hand-written scene files (`scenes new`, `train --scene`), edits kept on re-distill, what each scene
changed in eval, and `twin+auto` routing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from twinforge.distill.schema import Module


def _error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _scene(tmp_path: Path, name: str, **fields) -> Path:
    data = {"title": "t", "phrase": "A claim.", "meta_move": "inversion", **fields}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# --- scene files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "field", "why"), [
    ({"axes": "volume ↔ signal"}, "axes", "valid list"),
    ({"axis": ["a ↔ b"]}, "axis", "unknown field"),
    ({"meta_move": "wild-guess"}, "meta_move", "not a meta-move"),
    ({"quotes": [{"text": "no id"}]}, "quotes.0.message_id", "required"),
])
def test_an_invalid_scene_is_one_error_naming_the_file_and_the_field(tf, tmp_path, fields, field, why):
    path = _scene(tmp_path, "bad.yaml", **fields)
    line = _error_line(tf("train", "--scene", path))
    assert str(path) in line and f"field '{field}'" in line and why in line, line
    assert not (tmp_path / "ws" / "adapters").exists()  # nothing half-written


def test_broken_yaml_names_the_file_and_line(tf, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("title: x\nconcepts: [a, b\nphrase: y\n", encoding="utf-8")
    line = _error_line(tf("scenes", "check", path))
    assert f"{path}:" in line and "not valid YAML" in line


def test_the_template_explains_every_field_and_reads_back_as_a_scene(tf, tmp_path):
    from twinforge.scenes.files import read_scene

    path = tmp_path / "my-scene.yaml"
    r = tf("scenes", "new", path)
    assert r.exit_code == 0 and path.is_file(), r.output
    text = path.read_text(encoding="utf-8")
    for name in ("title", "phrase", "concepts", "meta_move", "axes", "inversions", "hypotheses",
                 "transition_rules", "open_questions", "quotes"):
        assert f"{name}:" in text, name
    comments = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert len(comments) >= 10  # commented, not a bare dump
    m = read_scene(path)
    assert m.id == "my-scene" and m.kind == "scene" and m.language == "en" and m.axes and m.inversions
    assert "my-scene" in tf("scenes", "check", path).output
    assert "already exists" in _error_line(tf("scenes", "new", path))


def test_a_scene_gets_examples_from_the_template_views_alone(tmp_path):
    from twinforge.expand.config import ExpandConfig
    from twinforge.scenes.examples import scene_examples
    from twinforge.scenes.files import read_scene
    from twinforge.scenes.template import write_template
    from twinforge.store import Store

    m = read_scene(write_template(tmp_path / "s.yaml"))
    with Store(tmp_path / "ws") as store:
        rows = scene_examples(store, m, ExpandConfig(), system="You are the twin.")
    views = {r["meta"]["view"] for r in rows}
    assert {"concept", "inversion", "poles", "transition", "hypothesis"} <= views
    assert not views & {"qa", "dialog", "next_move"}  # no dialog behind a hand-written scene
    assert all(r["meta"]["module_id"] == m.id and r["messages"][0]["role"] == "system" for r in rows)
    assert len({json.dumps(r["messages"]) for r in rows}) == len(rows)
    assert any("volume" in r["messages"][1]["content"] and "signal" in r["messages"][1]["content"] for r in rows)


def test_train_scene_trains_one_registered_scene_adapter_and_refuses_a_changed_scene(tf, tmp_path):
    pytest.importorskip("peft")
    from twinforge.scenes.files import read_scene

    path = tmp_path / "small-data.yaml"
    assert tf("scenes", "new", path).exit_code == 0
    fast = ["--max-steps", "1", "--max-len", "96", "--batch-size", "1"]
    r = tf("train", "--scene", path, "--json", *fast)
    assert r.exit_code == 0, r.output
    done = json.loads(r.stdout)
    assert done["adapter"] == "hand-scene-small-data" and done["examples"] > 0
    folder = tmp_path / "ws" / "adapters" / "hand-scene-small-data"
    meta = json.loads((folder / "twinforge.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "scene" and meta["scene"] == "small-data"
    assert read_scene(folder / "scene.yaml") == read_scene(path)
    listed = json.loads(tf("scenes", "list", "--json").stdout)
    assert listed == [{"adapter": "hand-scene-small-data", "scene": "small-data",
                       "title": read_scene(path).title, "kind": "scene"}]
    path.write_text(path.read_text(encoding="utf-8").replace("  - small data", "  - tiny data"), encoding="utf-8")
    line = _error_line(tf("train", "--scene", path, *fast))
    assert "another version of scene small-data" in line and "--name" in line


# --- edits kept on re-distill -----------------------------------------------------------------------------


def test_an_edited_module_yaml_survives_a_redistill_and_is_reported(cleaned, tf):
    r = tf("distill", "--json")
    assert r.exit_code == 0, r.output
    files = sorted((cleaned / "modules").glob("*.yaml"))
    assert len(files) >= 2
    edited, untouched = files[0], files[1]
    text = edited.read_text(encoding="utf-8").replace("phrase: ", "phrase: MY OWN WORDS. ", 1)
    edited.write_text(text, encoding="utf-8")
    untouched_before = untouched.read_text(encoding="utf-8")
    untouched.write_text("# One YAML scene: stale\n" + "title: old\n", encoding="utf-8")  # no sha: kept too
    r = tf("distill", "--force")
    assert r.exit_code == 0, r.output
    assert edited.read_text(encoding="utf-8") == text
    assert f"kept your edit: modules/{edited.stem}.yaml" in r.output
    assert f"kept your edit: modules/{untouched.stem}.yaml" in r.output
    untouched.unlink()  # deleted: written afresh, with its sha, by the next run
    tf("distill", "--force")
    assert untouched.read_text(encoding="utf-8") == untouched_before
    from twinforge.store import scene_file

    assert not scene_file.edited(untouched) and scene_file.edited(edited)


def test_an_old_unedited_module_yaml_is_upgraded_not_kept(tmp_path):
    from twinforge.distill import export

    m = Module(id="m1", conversation_id="c1", title="T", language="en", phrase="P.", meta_move="inversion")
    folder = tmp_path / "modules"
    folder.mkdir(parents=True)
    (folder / "m1.yaml").write_text(export._legacy_yaml(m), encoding="utf-8")  # what older versions wrote
    assert export.write_files(tmp_path, m) is False
    assert "twinforge:scene sha=" in (folder / "m1.yaml").read_text(encoding="utf-8")


# --- what each scene changed ------------------------------------------------------------------------------


def _gen(model: str, probe_id: str, text: str, mode: str = "greedy"):
    from twinforge.eval.generate import Generation

    return Generation(model=model, probe_id=probe_id, mode=mode, text=text, raw=text, new_tokens=10, seconds=0.1,
                      engine="transformers")


def test_scene_eval_finds_an_axis_that_newly_appears_and_measures_own_vs_other():
    from twinforge.eval.probes import Probe
    from twinforge.eval.scenes import scene_effects, summary_lines

    scene = Module(id="s1", conversation_id="c", title="Small data", language="en", phrase="Less is more.",
                   meta_move="inversion", concepts=["signal", "small data"], axes=["volume ↔ signal"],
                   inversions=["What if more text made the twin worse?"])
    probes = [Probe("p1", "concept", [{"role": "user", "content": "q"}], "en", ["signal", "small data"],
                    module_id="s1"),
              Probe("p2", "concept", [{"role": "user", "content": "q2"}], "en", ["gardening"], module_id="s2")]
    gens = [_gen("base", "p1", "I like cats. They sleep a lot."), _gen("base", "p2", "Gardening is nice."),
            _gen("a", "p1", "The real choice is volume versus signal: small data carries the signal."),
            _gen("a", "p2", "Cats again."),
            _gen("a", "p1", "What if the opposite were true: more text makes the twin worse.", mode="seed1")]
    metrics = {"base": {"ppl_control": 20.0}, "a": {"ppl_control": 30.0}}
    out = scene_effects({"a": [scene]}, probes, gens, metrics, forgetting_ratio=1.25)["a"]
    assert out["own_coverage"] == 1.0 and out["own_coverage_base"] == 0.0
    assert out["other_coverage"] == 0.0 and out["other_coverage_base"] == 1.0
    by_item = {it["item"]: it for it in out["items"]}
    assert by_item["volume ↔ signal"]["new"] and by_item["volume ↔ signal"]["model"] == ["p1"]
    assert by_item["What if more text made the twin worse?"]["new"]
    assert out["items_new"] == 2 and out["extracted"]["axis"] == 1 and out["extracted_base"]["axis"] == 0
    assert out["control_ratio"] == 1.5 and out["forgetting"]
    # the same axis said by the base too is not new
    gens.append(_gen("base", "p2", "Volume or signal? I pick signal over volume."))
    again = scene_effects({"a": [scene]}, probes, gens, metrics, forgetting_ratio=1.25)["a"]
    assert not {it["item"]: it for it in again["items"]}["volume ↔ signal"]["new"]
    assert "FORGETTING" in summary_lines({"a": out})[0]


def test_the_report_has_the_scene_section():
    from twinforge.eval.report import _scenes

    html = _scenes({"scenes": {"a": {"scenes": ["s1"], "own_probes": 1, "other_probes": 1, "own_coverage": 1.0,
                                     "own_coverage_base": 0.0, "other_coverage": 0.0, "other_coverage_base": 1.0,
                                     "items": [{"scene": "s1", "kind": "axis", "item": "a <b>", "model": ["p1"],
                                                "base": [], "new": True}], "items_new": 1,
                                     "control_ppl": 30.0, "control_ppl_base": 20.0, "forgetting": True}}})
    assert "What each scene changed" in html and "a &lt;b&gt;" in html and "forgetting" in html
    assert _scenes({"scenes": {}}) == ""


# --- routing ----------------------------------------------------------------------------------------------

SCENES = {
    "garden": {"title": "Growing tomatoes on a balcony", "phrase": "Tomatoes on a balcony need sun, deep pots and "
                   "daily water.", "concepts": ["tomatoes", "balcony", "watering"], "axes": ["sun ↔ shade"]},
    "chess": {"title": "Chess openings", "phrase": "An opening is a plan for the centre, not a memorised line.",
                  "concepts": ["chess opening", "centre control", "gambit"], "axes": ["theory ↔ understanding"]},
    "rent": {"title": "Renting versus buying a flat", "phrase": "Renting is cheaper when prices grow slower than "
                 "the rent.", "concepts": ["mortgage", "rent", "flat prices"], "axes": ["rent ↔ buy"]},
}
QUESTIONS = [("How often should I water tomatoes in pots?", "garden"),
             ("Which plants survive on a shady balcony?", "garden"),
             ("Is the Queen's gambit good for beginners?", "chess"),
             ("Should I learn opening theory or just play?", "chess"),
             ("Is it better to take a mortgage or keep renting?", "rent"),
             ("Will flat prices rise faster than rents next year?", "rent")]


@pytest.fixture
def scene_ws(tmp_path) -> Path:
    """A workspace with three registered scene adapters (metadata only: routing loads no model)."""
    from twinforge.adapters import registry
    from twinforge.store import Store, scene_file

    ws = tmp_path / "ws"
    with Store(ws) as store:
        for sid, fields in SCENES.items():
            m = Module(id=sid, conversation_id=f"scene-{sid}", kind="scene", language="en",
                       meta_move="comparison", **fields)
            folder = ws / "adapters" / f"hand-scene-{sid}"
            folder.mkdir(parents=True)
            (folder / "scene.yaml").write_text(scene_file.render(m.model_dump(mode="json"), "copy"),
                                               encoding="utf-8")
            (folder / "twinforge.json").write_text(json.dumps(
                {"id": folder.name, "kind": "scene", "scene": sid, "base": "embedded", "parents": []}),
                encoding="utf-8")
            registry.register(store, folder)
    return ws


def test_routing_sends_each_labelled_question_to_its_scene(scene_ws):
    from twinforge.serve.routing import Router, accuracy
    from twinforge.store import Store

    with Store(scene_ws) as store:
        router = Router.of(store)
    assert sorted(s.module.id for s in router.scenes) == sorted(SCENES)
    acc = accuracy(router, QUESTIONS)
    assert acc["top1"] == 1.0, acc["misses"]
    assert acc["fixed"] == pytest.approx(1 / 3)


def test_twin_auto_is_offered_and_routes_a_question(scene_ws, monkeypatch):
    from twinforge.serve import twin as twin_module
    from twinforge.serve.config import ServeConfig
    from twinforge.serve.twin import Twin
    from twinforge.store import Store

    monkeypatch.setattr(twin_module, "ask_stream", lambda *a, **k: (iter(()), []))  # no memory built here

    twin = Twin(scene_ws, ServeConfig())
    assert "twin+auto" in [m["id"] for m in twin.models()]
    with Store(scene_ws) as store:
        reply = twin.reply(store, "twin+auto", [{"role": "user", "content": "Mortgage or rent: which is cheaper?"}],
                           no_llm=True)
    assert reply.model == "twin+hand-scene-rent" and reply.routes[0]["scene"] == "rent"
