"""Recipes: typed config loaded from YAML (after litgpt's config hub). Every field has a safe default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from .backends.config import BackendConfig
from .dataset.config import DatasetConfig
from .errors import ConfigError
from .expand.config import ExpandConfig
from .eval.config import EvalConfig
from .hyper.config import HyperConfig
from .memory.config import MemoryConfig
from .serve.config import ServeConfig
from .strict import Strict
from .train.config import TrainConfig

__all__ = ["BackendConfig", "Recipe", "load_recipe"]

RECIPES_DIR = Path(__file__).parent / "recipes"


_Strict = Strict  # the name this module grew up with


class IngestConfig(_Strict):
    inputs: list[str] = Field(default_factory=list, description="files, folders or zips to ingest")
    max_zip_ratio: float = Field(100.0, gt=1, description="refuse zips expanding more than this many times")
    max_zip_bytes: int = Field(64 * 1024**3, gt=0, description="refuse zips expanding past this many bytes")


class JudgeConfig(_Strict):
    """An optional LLM second opinion on conversations whose chatter score is close to the threshold."""

    enabled: bool = False
    band: tuple[float, float] = Field((0.5, 0.95), description="chatter scores inside this band go to the judge")
    backend: BackendConfig = Field(default_factory=lambda: BackendConfig(name="openai"))


class CleanConfig(_Strict):
    chatter: bool = Field(True, description="drop everyday-chatter conversations")
    chatter_threshold: float | None = Field(
        None, ge=0, le=1, description="chatter score at or above which a conversation is chatter (default: calibrated)"
    )
    boilerplate: bool = Field(True, description="strip assistant flattery, closing offers and decoration")
    redact: bool = Field(True, description="replace secrets and personal data with typed placeholders")
    redact_kinds: list[str] | None = Field(None, description="only these kinds (default: all)")
    dedupe: bool = Field(True, description="drop exact and near-duplicate messages")
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1, description="estimated Jaccard for near-duplicates")
    near_duplicate_min_words: int = Field(8, ge=1, description="shorter messages are not judged as near-duplicates")
    judge: JudgeConfig = Field(default_factory=JudgeConfig)


class DistillConfig(_Strict):
    """Dialogs kept by clean → thinking modules (one per conversation)."""

    backend: BackendConfig = Field(default_factory=BackendConfig, description="who writes the modules "
                                   "(default: extractive, no model)")
    languages: list[str] | None = Field(None, description="only dialogs in these languages, e.g. [ru, en] "
                                        "(default: all)")
    chunk_chars: int = Field(4000, ge=500, description="longer dialogs are cut into chunks of about this many "
                             "characters, distilled one by one and merged; fit it to the model's context "
                             "(4000 suits 4096 tokens)")
    overlap_chars: int = Field(400, ge=0, description="characters each chunk repeats from the one before")
    min_user_chars: int = Field(20, ge=0, description="skip dialogs where the person wrote less than this")
    limit: int | None = Field(None, ge=1, description="at most this many conversations per run (default: all)")
    tokens_per_second: float | None = Field(None, gt=0, description="generation speed for --dry-run's time "
                                            "estimate (default: by backend)")
    output_tokens: int = Field(400, ge=1, description="expected answer length per call, for the estimate")
    mode: Literal["auto", "one-shot", "decomposed"] = Field(
        "auto", description="how a model backend distills: one-shot (the whole module in one answer), decomposed "
        "(the offline distiller proposes, the model makes narrow grammar-constrained choices), or auto (one-shot "
        "for now; see distill/run.py EMBEDDED_AUTO_MODE)")

    @model_validator(mode="after")
    def _overlap_fits(self) -> DistillConfig:
        if self.overlap_chars * 2 > self.chunk_chars:
            raise ValueError(f"overlap_chars ({self.overlap_chars}) must be at most half of chunk_chars "
                             f"({self.chunk_chars})")
        return self


class Recipe(_Strict):
    name: str = "default"
    description: str = ""
    stages: list[str] = Field(default_factory=lambda: ["ingest"])
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
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{p}: {where}: {err['msg']}", f"{len(e.errors())} problem(s) in all") from e


def bundled_recipes() -> list[Path]:
    return sorted(RECIPES_DIR.glob("*.yaml"))
