"""The recipe runner never reports a failure as success: a stage that failed, or did nothing it should have, fails
the run (exit 1), and the lines of the stages before it are still shown."""

from __future__ import annotations

from conftest import SAMPLE

from twinforge.config import Recipe
from twinforge.runner import STAGES, run_recipe
from twinforge.stage import StageResult
from twinforge.store import Store


def prose(body, headers):
    """A server that answers every request with prose instead of the JSON module asked for."""
    return 200, {"choices": [{"message": {"role": "assistant", "content": "Sure! This is a fascinating dialog."},
                              "finish_reason": "stop"}], "model": "m"}, {}


def recipe_file(tmp_path, url: str, extra: str = "") -> str:
    p = tmp_path / "recipe.yaml"
    p.write_text(f"stages: [ingest, clean, distill, expand]\ningest: {{inputs: ['{SAMPLE}']}}\n"
                 f"distill: {{backend: {{name: openai, base_urls: ['{url}'], model: m}}, limit: 2}}\n"
                 + extra, encoding="utf-8")
    return str(p)


def test_a_distill_that_made_no_module_fails_the_run(tf, scripted, tmp_path):
    url, seen = scripted(prose)
    r = tf("run", "--config", recipe_file(tmp_path, url))
    assert r.exit_code == 1
    assert "[ingest] ok" in r.output and "[clean] ok" in r.output  # the stages before it are still reported
    assert "[distill] FAILED" in r.output and "[expand]" not in r.output
    assert "2 of 2 dialogs got no module" in r.stderr and "error: the run failed at distill" in r.stderr
    assert "not run after the failure: expand" in r.stderr
    assert seen  # the server was asked


def test_the_recipe_may_allow_a_stage_to_fail(tf, scripted, tmp_path):
    url, _ = scripted(prose)
    r = tf("run", "--config", recipe_file(tmp_path, url, "allow_failures: [distill]\n"))
    assert "[distill] FAILED (allowed by the recipe)" in r.output
    # expand then runs and has nothing to expand: that is a failure of its own, and not allowed
    assert "[expand] FAILED" in r.output and r.exit_code == 1


def test_a_stage_that_raises_keeps_the_earlier_lines(tmp_path):
    with Store(tmp_path / "ws") as store:
        report = run_recipe(store, Recipe(stages=["ingest", "dataset"],
                                          ingest={"inputs": [str(SAMPLE)]}))
    assert [r.stage for r in report.results] == ["ingest", "dataset"]
    assert report.results[0].ok and not report.results[1].ok and not report.ok
    assert report.results[1].failed  # the error the stage raised, as its failure


def test_every_stage_is_registered_the_same_way():
    for name, stage in STAGES.items():
        assert stage.name == name and callable(stage.run)
        assert hasattr(Recipe(), stage.section), f"{name}: the recipe has no section {stage.section}"


def test_an_empty_memory_fails_its_stage(tmp_path):
    with Store(tmp_path / "ws") as store:
        (res,) = run_recipe(store, Recipe(stages=["memory"])).results
    assert isinstance(res, StageResult) and not res.ok and "memory is empty" in res.failed[0]
