"""Every bundled recipe loads; bad recipes fail with one clear line."""

from __future__ import annotations

import pytest

from twinforge.config import bundled_recipes, load_recipe
from twinforge.errors import ConfigError
from twinforge.runner import STAGES


@pytest.mark.parametrize("path", bundled_recipes(), ids=lambda p: p.stem)
def test_bundled_recipe_loads(path):
    recipe = load_recipe(path)
    assert recipe.stages and all(s in STAGES for s in recipe.stages)


def test_bundled_recipe_by_name():
    assert load_recipe("demo").name == "demo"


@pytest.mark.parametrize("text,expect", [
    ("stages: [ingest]\ningest: {inputs: x, bogus: 1}\n", "ingest"),
    ("stages: [ingest\n", "invalid YAML"),
    ("- just\n- a list\n", "mapping"),
    ("ingest: {max_zip_ratio: 0}\n", "max_zip_ratio"),
])
def test_bad_recipe_is_a_config_error(tmp_path, text, expect):
    p = tmp_path / "r.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_recipe(p)
    assert expect in str(e.value)
    assert str(p) in str(e.value)


def test_run_unknown_stage_is_one_line(tf, tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("stages: [ingest, teleport]\ningest: {inputs: [x]}\n")
    r = tf("run", "--config", p)
    assert r.exit_code == 1
    assert r.stderr.strip() == f"error: unknown stage(s) in recipe default: teleport — available: {', '.join(STAGES)}"


def test_a_command_line_backend_drops_the_recipes_model_but_keeps_its_settings():
    from twinforge.backends.config import BackendConfig

    cfg = BackendConfig(name="llamacpp", model="/m/qwen.gguf", context=8192)
    assert cfg.overridden("openai").model is None and cfg.overridden("openai").context == 8192
    assert cfg.overridden("llamacpp").model == "/m/qwen.gguf"  # same backend: its model stays
    assert cfg.overridden("openai", "Qwen/Qwen3-32B").model == "Qwen/Qwen3-32B"
    assert cfg.overridden() == cfg


def test_the_suite_runs_isolated_from_the_users_settings(tmp_path):
    """conftest's autouse fixtures: a command without -w lands in the test's folder, models in a test cache."""
    import os

    assert os.environ["TWINFORGE_WORKSPACE"].startswith(str(tmp_path))
    assert os.environ["TWINFORGE_CACHE"] and not os.environ["TWINFORGE_CACHE"].startswith(
        os.path.expanduser("~/.cache"))
    assert "TWINFORGE_TOKEN" not in os.environ
