"""`ask --adapter ID`: answer with the base model plus trained LoRA adapter(s), through transformers.

The adapters come from `<ws>/adapters/<id>/` (twinforge.json names their base); `twinforge.models.stack.
load_with_adapters` (the adapter-ops stage) loads one as a plain PeftModel and several as a weighted combination.
The result acts as a backend (`complete`), so `ask` treats it like any other.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import TwinforgeError
from ..store import Store
from ..store.workspace import ADAPTER_META
from .base import Completion, Request, complete_in_order
from .config import BackendConfig


def adapter_dirs(store: Store, ids: list[str]) -> tuple[str | None, list[Path]]:
    """(base of the adapters, their folders); a TwinforgeError naming the first unknown id or a base mismatch."""
    dirs, bases = [], set()
    for aid in ids:
        d = store.ws.adapter(aid)
        meta = d / ADAPTER_META
        if not meta.is_file():
            known = sorted(p.name for p in (store.ws.adapters).glob(f"*/{ADAPTER_META}"))
            raise TwinforgeError(f"no adapter {aid!r} in {store.workspace / 'adapters'}",
                                 f"known: {', '.join(known)}" if known else "train one with `twinforge train`")
        try:
            bases.add(json.loads(meta.read_text(encoding="utf-8")).get("base"))
        except (OSError, ValueError) as e:
            raise TwinforgeError(f"{meta} is unreadable ({e})", "retrain or remove that adapter") from e
        dirs.append(d)
    if len(bases) > 1:
        raise TwinforgeError(f"adapters {', '.join(ids)} were trained on different bases "
                             f"({', '.join(map(str, bases))})",
                             "stack adapters of one base only")
    return next(iter(bases)), dirs


class AdaptedBackend:
    """Base + adapters, generating with the tokenizer's chat template (or plain role lines)."""

    name = "adapter"

    def __init__(self, base: str | None, dirs: list[Path], cfg: BackendConfig):
        self.base, self.dirs, self.cfg = base, dirs, cfg
        self.model = "+".join(d.name for d in dirs)
        self._loaded = None
        self._lock = threading.Lock()

    def _load(self):
        if self._loaded is None:
            from ..models.stack import load_with_adapters

            self._loaded = load_with_adapters(self.base, [(d, 1.0) for d in self.dirs])
        return self._loaded

    def complete(self, request: Request) -> Completion:
        import torch

        from ..backends.transformers_local import cut_at_next_turn, encode_chat

        model, tok = self._load()
        inputs, templated = encode_chat(tok, request.messages)
        device = next(model.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        n = int(inputs["input_ids"].shape[1])
        with self._lock, torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=request.max_tokens or self.cfg.max_tokens,
                                 do_sample=False, pad_token_id=tok.pad_token_id or tok.eos_token_id)
        text = tok.decode(out[0][n:], skip_special_tokens=True)
        if not templated:
            text = cut_at_next_turn(text)
        return Completion(text=text.strip(), model=self.model, prompt_tokens=n, completion_tokens=len(out[0]) - n,
                          meta={"backend": self.name, "adapters": [str(d) for d in self.dirs]})

    def stream(self, request: Request) -> Iterator[str]:
        """Greedy answer pieces as they are generated (what `serve` sends token by token)."""
        from ..backends.transformers_local import stream_generate

        model, tok = self._load()
        yield from stream_generate(model, tok, request.messages, lock=self._lock, name=self.model,
                                   max_new_tokens=request.max_tokens or self.cfg.max_tokens)

    def complete_many(self, requests):
        return complete_in_order(self, requests)


def adapted_backend(store: Store, ids: list[str], cfg: BackendConfig) -> AdaptedBackend:
    base, dirs = adapter_dirs(store, ids)
    return AdaptedBackend(base, dirs, cfg)
