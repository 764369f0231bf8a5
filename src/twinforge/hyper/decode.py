"""Hyperphrase → text, through a plain backend (a prompt asks it to expand the concept chain) or through the
bridge adapter (a LoRA trained on `hyper-decode:` pairs, run as the backends' base-with-adapters).

Backend answers go through the store's call cache, as distill's do, so a re-run of the report is free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..backends.adapted import AdaptedBackend
from ..backends.base import Request
from ..backends.config import BackendConfig
from ..text.lemmas import language
from .config import HyperConfig
from .dataset import DECODE_PROMPT, ENCODE_PROMPT
from .encode import HyperError, parse

PROMPTS = Path(__file__).with_name("prompts")
PROMPT_VERSION = "hyper-decode.v1"
_SECTION = re.compile(r"^=== (\w+)\n", re.M)


@lru_cache(maxsize=4)
def prompt(lang: str) -> dict[str, str]:
    """The decode prompt's sections (`system`, `user`) in `lang` (ru or en; others get English)."""
    path = PROMPTS / f"decode.v1.{'ru' if lang == 'ru' else 'en'}.txt"
    parts = _SECTION.split(path.read_text(encoding="utf-8"))
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def readable(hyperphrase: str, vocabulary: set[str] | None = None) -> str:
    """The hyperphrase as a backend should see it: concepts split (a concatenated chain through the vocabulary)
    and joined by '·', one scene a line."""
    return "\n".join("·".join(s) for s in parse(hyperphrase, vocabulary))


@dataclass
class Decoded:
    hyperphrase: str
    text: str | None  # None: the decoder failed on this one
    error: str | None = None


class BackendDecoder:
    def __init__(self, store, cfg: BackendConfig, vocabulary: set[str] | None = None, max_tokens: int = 160):
        from ..backends import get_backend
        from ..backends.cache import CachedBackend

        backend = get_backend(cfg)
        self.cfg = cfg
        self.name = f"{backend.name}:{backend.model}"
        self.vocabulary = vocabulary
        self.max_tokens = max_tokens
        self.cached = CachedBackend(store, backend, PROMPT_VERSION) if store is not None else None
        self.backend = backend

    def request(self, hyperphrase: str) -> Request:
        chain = readable(hyperphrase, self.vocabulary)
        p = prompt(language(chain))
        n = sum(len(s) for s in parse(chain))
        return Request([{"role": "system", "content": p["system"]},
                        {"role": "user", "content": p["example_user"]},  # one worked example, as turns: a
                        {"role": "assistant", "content": p["example_assistant"]},  # small model copies less
                        {"role": "user", "content": p["user"].replace("{hyperphrase}", chain)}],
                       max_tokens=min(self.cfg.max_tokens, self.max_tokens, 24 + 14 * n))

    def decode_many(self, hyperphrases: list[str]) -> list[Decoded]:
        requests = [self.request(h) for h in hyperphrases]
        if self.cached is not None:
            answers = self.cached.complete_many(requests)
            return [Decoded(h, _tidy(a.text) if a.text is not None else None, str(a.error) if a.error else None)
                    for h, a in zip(hyperphrases, answers)]
        out = []
        for h, result in zip(hyperphrases, self.backend.complete_many(requests)):
            ok = not isinstance(result, Exception)
            out.append(Decoded(h, _tidy(result.text) if ok else None, None if ok else str(result)))
        return out


def _tidy(text: str) -> str:
    text = text.strip()
    for lead in ("Текст:", "Text:"):
        if text.startswith(lead):
            text = text[len(lead):].strip()
    return text


def adapter_folder(store, adapter: str) -> Path:
    """An adapter id of the workspace's registry (or a folder path) → its folder."""
    path = Path(adapter).expanduser()
    if not (path / "adapter_config.json").is_file() and store is not None:
        path = store.ws.adapter(adapter)
    if not (path / "adapter_config.json").is_file():
        raise HyperError(f"no adapter {adapter!r}" + (f" in {store.workspace / 'adapters'}" if store else ""),
                         "train one with `twinforge hyper bridge`, or see `twinforge adapters`")
    return path


class AdapterDecoder:
    """The bridge adapter on its base, greedy, through the backends' base-with-adapters (transformers). Also
    encodes (it learned both ways)."""

    def __init__(self, folder: Path, max_new_tokens: int = 160):
        self.folder = folder
        self.name = f"adapter:{folder.name}"
        self.max_new_tokens = max_new_tokens
        self.backend = AdaptedBackend(None, [folder])  # None: the base the adapter records
        self.backend.loaded()  # a broken adapter fails here, not on the first phrase

    def generate(self, user: str, max_new_tokens: int) -> str:
        request = Request([{"role": "user", "content": user}], max_tokens=max_new_tokens)
        return _cut_turn(self.backend.complete(request).text)

    def decode_many(self, hyperphrases: list[str]) -> list[Decoded]:
        out = []
        for h in hyperphrases:
            n = sum(len(s) for s in parse(h))
            text = self.generate(DECODE_PROMPT.format(hyperphrase=h), min(self.max_new_tokens, 24 + 14 * n))
            out.append(Decoded(h, text) if text else Decoded(h, None, "the adapter wrote nothing"))
        return out

    def encode(self, text: str) -> str:
        return self.generate(ENCODE_PROMPT.format(text=text), 64)


_TURN = re.compile(r"\n\s*(?:user|assistant|system|model)\s*:|<end_of_turn>|<start_of_turn>", re.I)


def _cut_turn(text: str) -> str:
    """The answer up to where a base model starts writing the next turn itself."""
    m = _TURN.search(text)
    return (text[: m.start()] if m else text).strip()


def decoder(store, cfg: HyperConfig, backend: BackendConfig | None = None, adapter: str | None = None):
    """The decoder asked for: the adapter when given, else the backend (the recipe's `hyper.backend` by default)."""
    if adapter:
        return AdapterDecoder(adapter_folder(store, adapter), cfg.decode_max_tokens)
    vocabulary = None
    if store is not None and (store.ws.hyper / "tokenizer.json").is_file():
        from .vocab import load_tokenizer

        vocabulary = load_tokenizer(store).vocabulary
    return BackendDecoder(store, backend or cfg.backend, vocabulary, cfg.decode_max_tokens)
