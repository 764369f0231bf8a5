"""Recipes: typed config loaded from YAML (after litgpt's config hub). Every field has a safe default."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

RECIPES_DIR = Path(__file__).parent / "recipes"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestConfig(_Strict):
    inputs: list[str] = Field(default_factory=list, description="files, folders or zips to ingest")
    max_zip_ratio: float = Field(100.0, gt=1, description="refuse zips expanding more than this many times")
    max_zip_bytes: int = Field(64 * 1024**3, gt=0, description="refuse zips expanding past this many bytes")


class BackendConfig(_Strict):
    """Which model answers, and how it is called. Shared by every backend (and every stage that uses one)."""

    name: str = Field("extractive", description="extractive | llamacpp | openai | transformers")
    model: str | None = Field(None, description="model name (openai), GGUF path (llamacpp; default: the embedded "
                              "one), or a Hugging Face folder (transformers)")
    base_urls: list[str] = Field(default_factory=list, description="OpenAI-compatible servers; work is spread "
                                 "over all of them")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key (if any)")
    concurrency: int = Field(2, ge=1, description="requests in flight at once (per backend)")
    timeout: float = Field(120.0, gt=0, description="seconds per request")
    retries: int = Field(3, ge=0, description="retries after a failed request, with exponential backoff")
    max_tokens: int = Field(1024, ge=1)
    temperature: float = Field(0.2, ge=0)
    context: int = Field(4096, ge=256, description="context window (llamacpp)")
    seed: int = Field(0, description="sampling seed, for reproducible runs")


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


class Recipe(_Strict):
    name: str = "default"
    description: str = ""
    stages: list[str] = Field(default_factory=lambda: ["ingest"])
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    clean: CleanConfig = Field(default_factory=CleanConfig)


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
