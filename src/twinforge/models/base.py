"""The base model an adapter is trained on: where its folder is, what it is (a hash), and loading it.

A base is named one of four ways, all resolved to a local Hugging Face folder (nothing is ever downloaded):
- None / "embedded": the embedded Gemma 3 270M base (models.embedded_trainable_folder, converted once);
- a folder with config.json and safetensors;
- a .gguf file: dequantized by transformers once and kept as safetensors in the cache;
- a named recipe from train/recipes/*.yaml (qwen3-8b-base, ...): the user's own copy of its weights, found in
  the Hugging Face cache or in the twinforge model cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import Field

from ..errors import ConfigError
from ..strict import Strict
from .embedded import cache_dir, embedded_trainable_folder, gguf_to_hf_folder

RECIPES_DIR = Path(__file__).parent / "recipes"
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


class BaseRecipe(Strict):
    """Defaults for training one known base model."""

    name: str
    hub_id: str = Field(description="where the weights are published (never downloaded by twinforge)")
    embedded: bool = False
    params_b: float = Field(description="parameters, billions")
    r: int = 8
    alpha: float = 16
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGETS))
    max_len: int = 1024
    vram_gb: dict[str, float] = Field(default_factory=dict, description="rough GPU memory: lora_bf16, qlora_nf4")


@lru_cache(maxsize=1)
def recipes() -> dict[str, BaseRecipe]:
    out = {}
    for path in sorted(RECIPES_DIR.glob("*.yaml")):
        r = BaseRecipe.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        out[r.name] = r
    return out


def recipe_for(base: str | os.PathLike | None) -> BaseRecipe | None:
    """The recipe a base was named by (None/"embedded" → the embedded one); None for paths."""
    return recipes().get(str(base or "embedded").lower())


def resolve_base(base: str | os.PathLike | None = None) -> Path:
    """The Hugging Face folder that `load_base(base)` loads."""
    if base is None or str(base).lower() == "embedded":
        return embedded_trainable_folder()
    path = Path(base).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return _gguf_folder(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"base {path} is a folder without config.json",
                              "point --base at a Hugging Face model folder (config.json, *.safetensors, tokenizer)")
        return path
    recipe = recipe_for(str(base))
    if recipe is not None:
        return _recipe_folder(recipe)
    names = ", ".join(recipes())
    raise ConfigError(f"base {base} not found: not a folder, a .gguf file or a known name",
                      f"give a Hugging Face folder, a GGUF file, or one of: {names}")


def _recipe_folder(recipe: BaseRecipe) -> Path:
    if recipe.embedded:
        return embedded_trainable_folder()
    ours = cache_dir() / recipe.hub_id.split("/")[-1]
    if (ours / "config.json").is_file():
        return ours
    try:
        from huggingface_hub import snapshot_download

        found = Path(snapshot_download(recipe.hub_id, local_files_only=True))  # the HF cache only, no network
        if (found / "config.json").is_file():
            return found
    except Exception:  # noqa: BLE001 — any failure here just means "not in the HF cache"
        pass
    raise ConfigError(
        f"{recipe.name} needs the weights of {recipe.hub_id} on this machine, and none were found",
        f"download them yourself (e.g. `huggingface-cli download {recipe.hub_id}` into the Hugging Face cache) or "
        f"put the folder at {ours}, or pass --base /path/to/the/folder")


def _gguf_folder(gguf: Path) -> Path:
    """A GGUF converted once: keyed by the file's path, size and mtime, so an edited file is converted again."""
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir() / f"gguf-{gguf.stem}-{key}"
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    gguf_to_hf_folder(gguf, target)
    return target


def base_hash(path: str | os.PathLike) -> str:
    """A fingerprint of a model folder: config.json, and each weight file's name, size and three 1 MiB samples
    (start, middle, end). Reading whole multi-GB files on every run would cost minutes; two different
    checkpoints of one architecture differ in those samples."""
    folder = Path(path)
    h = hashlib.sha256()
    h.update((folder / "config.json").read_bytes())
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        size = f.stat().st_size
        h.update(f"{f.name}\0{size}\0".encode())
        with f.open("rb") as fh:
            for at in (0, max(0, size // 2 - 2**19), max(0, size - 2**20)):
                fh.seek(at)
                h.update(fh.read(2**20))
    return h.hexdigest()[:16]


def load_base(base: str | os.PathLike | None = None, *, device: str | None = None, qlora: bool = False):
    """(model, tokenizer) for training or inference: model on the device in its dtype (4-bit NF4 with
    `qlora`), tokenizer with a chat template (chat.ensure_chat_template) and a pad token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from .chat import ensure_chat_template

    hf_logging.disable_progress_bar()  # its "Loading weights" bar would land in --json output; ours show the work
    from .device import detect, qlora_config

    folder = resolve_base(base)
    dev = detect(device)
    kwargs: dict = {"dtype": dev.dtype}
    if qlora:
        kwargs["quantization_config"] = qlora_config(dev)
        kwargs["device_map"] = {"": 0}
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForCausalLM.from_pretrained(str(folder), **kwargs)
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"transformers cannot load the base {folder} ({str(e).splitlines()[0][:200]})",
                          "is it a complete Hugging Face model folder (config.json, weights, tokenizer)?") from e
    if not qlora:
        model.to(dev.torch)
    ensure_chat_template(tokenizer)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.use_cache = False  # training; generate() turns it back on per call
    return model, tokenizer


def describe(base: str | os.PathLike | None) -> dict:
    """What a base string means, for metadata: the name given, the folder, its hash, its recipe."""
    folder = resolve_base(base)
    recipe = recipe_for(base) if not (base and Path(base).expanduser().exists()) else None
    cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return {"base": str(base or "embedded"), "base_path": str(folder), "base_hash": base_hash(folder),
            "architecture": (cfg.get("architectures") or ["?"])[0], "recipe": recipe.name if recipe else None}
