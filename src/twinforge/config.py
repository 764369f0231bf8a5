"""Recipes: typed config loaded from YAML (after litgpt's config hub). Every field has a safe default.

Each stage keeps its own section's model in its folder (`clean/config.py`, …); this module only assembles them
into the recipe, so no stage imports it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from .backends.config import BackendConfig
from .clean.config import CleanConfig, JudgeConfig
from .dataset.config import DatasetConfig
from .distill.config import DistillConfig
from .errors import ConfigError
from .eval.config import EvalConfig
from .expand.config import ExpandConfig
from .hyper.config import HyperConfig
from .ingest.config import IngestConfig
from .memory.config import MemoryConfig
from .serve.config import ServeConfig
from .strict import Strict
from .train.config import TrainConfig

__all__ = ["BackendConfig", "CleanConfig", "DistillConfig", "IngestConfig", "JudgeConfig", "Recipe", "load_recipe"]

RECIPES_DIR = Path(__file__).parent / "recipes"




class Recipe(Strict):
    name: str = "default"
    description: str = ""
    stages: list[str] = Field(default_factory=lambda: ["ingest"])
    allow_failures: list[str] = Field(default_factory=list, description="stages whose failures are reported but "
                                      "do not fail the run (the run goes on after them)")
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    expand: ExpandConfig = Field(default_factory=ExpandConfig)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    hyper: HyperConfig = Field(default_factory=HyperConfig)


def load_recipe(path: str | Path) -> Recipe:
    p = Path(path)
    if not p.exists() and (RECIPES_DIR / f"{path}.yaml").exists():
        p = RECIPES_DIR / f"{path}.yaml"  # a bundled recipe by name, e.g. `demo`
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as e:
        bundled = ", ".join(sorted(r.stem for r in RECIPES_DIR.glob("*.yaml")))
        raise ConfigError(f"recipe {path} not found", f"give a YAML file or a bundled recipe: {bundled}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({str(e).splitlines()[0]})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a recipe is a YAML mapping, found {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:  # every problem at once, not the first (after litgpt's validate_args)
        problems = [f"{'.'.join(str(x) for x in err['loc']) or '(top)'}: {err['msg']}" for err in e.errors()]
        raise ConfigError(f"{p}: {len(problems)} problem(s): " + "; ".join(problems)) from e


def bundled_recipes() -> list[Path]:
    return sorted(RECIPES_DIR.glob("*.yaml"))
