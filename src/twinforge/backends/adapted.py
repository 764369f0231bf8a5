"""A base model with trained adapters attached: the one place that loads "base (+ adapters)" and generates with it,
for `ask --adapter`, `serve` (`twin+<adapter>`), `eval` and `hyper decode --adapter`. Two engines:

- `AdaptedBackend` (transformers): the base through `models.base.load_base`, adapters through
  `models.stack.load_with_adapters` (one: a plain PeftModel; several: a weighted combination). It also hands out
  the loaded model and tokenizer, for the logits and perplexities eval measures.
- `AdaptedLlamaCpp` (llama.cpp): the base's GGUF with one adapter as a GGUF LoRA (the caller exports it with
  `adapters.gguf_lora`). Faster on a CPU; eval/generate.py has the measurement.

Both render the prompt with `models.chat.prompt_text` and offer `generate(messages, …)`: greedy when `seed` is None,
else sampled with that seed (reproducible), giving the raw decoded answer (special tokens kept, as evidence of
leaks) and its token count. `complete` (and `stream` on transformers) make them backends, so `ask` treats them
like any other. The adapters come from `<ws>/adapters/<id>/` (`adapter_dirs`; twinforge.json names their base).
"""

from __future__ import annotations

import gc
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import TwinforgeError
from ..models.chat import prompt_text
from ..store import Store
from ..store.workspace import ADAPTER_META
from .base import BackendError, Completion, Message, Request, complete_in_order
from .config import BackendConfig

Weighted = tuple[Path, float]  # an adapter folder and the weight it is applied with
LLAMACPP_HINT = "pip install llama-cpp-python (it compiles llama.cpp: a few minutes)"


def adapter_dirs(store: Store, ids: list[str]) -> tuple[str | None, list[Path]]:
    """(base of the adapters, their folders); a TwinforgeError naming the first unknown id or a base mismatch."""
    dirs, bases = [], set()
    for aid in ids:
        d = store.ws.adapter(aid)
        meta = d / ADAPTER_META
        if not meta.is_file():
            known = sorted(p.name for p in (store.ws.adapters).glob(f"*/{ADAPTER_META}"))
            raise TwinforgeError(f"no adapter {aid!r} in {store.ws.adapters}",
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


def _weighted(adapters: Sequence[Path | Weighted]) -> list[Weighted]:
    return [a if isinstance(a, tuple) else (Path(a), 1.0) for a in adapters]


def _prompt(tokenizer, messages: list[Message], name: str) -> str:
    try:
        return prompt_text(tokenizer, messages)
    except Exception as e:  # templates are Jinja code: a role they reject raises anything
        raise BackendError(f"the chat template of {name} rejected the messages ({e})",
                           "some templates allow no system message, or need user/assistant turns to alternate") from e


class AdaptedBackend:
    """Base + adapters (none: the base alone) through transformers, loaded at the first use."""

    name = "adapter"
    engine = "transformers"

    def __init__(self, base: str | None, adapters: Sequence[Path | Weighted], cfg: BackendConfig | None = None, *,
                 device: str | None = None):
        self.base, self.adapters = base, _weighted(adapters)
        self.cfg = cfg or BackendConfig()
        self.device = device
        self.model = "+".join(p.name for p, _ in self.adapters) or "base"
        self._loaded = None
        self._lock = threading.Lock()  # one model decodes one request at a time
        self._load_lock = threading.Lock()

    @property
    def dirs(self) -> list[Path]:
        return [p for p, _ in self.adapters]

    def loaded(self):
        """(model, tokenizer) in eval mode. `base` None: the base the adapters record (else the embedded one)."""
        with self._load_lock:
            if self._loaded is None:
                if self.adapters:
                    from ..models.stack import load_with_adapters

                    model, tok = load_with_adapters(self.base, self.adapters, device=self.device)
                else:
                    from ..models.base import load_base

                    model, tok = load_base(self.base, device=self.device)
                model.eval()
                self._loaded = model, tok
            return self._loaded

    @property
    def tokenizer(self):
        return self.loaded()[1]

    def _new_tokens(self, messages: list[Message], max_new_tokens: int, seed: int | None, temperature: float,
                    top_p: float) -> tuple[list[int], int]:
        """(the answer's token ids without trailing EOS/padding, the prompt's token count)."""
        import torch

        model, tok = self.loaded()
        x = tok(_prompt(tok, messages, self.model), return_tensors="pt",
                add_special_tokens=not getattr(tok, "chat_template", None))  # a template writes its own BOS
        x = {k: v.to(next(model.parameters()).device) for k, v in x.items()}
        kw: dict = {"max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id or tok.eos_token_id,
                    "use_cache": True}  # load_base turns the cache off for training
        if seed is None:
            kw.update(do_sample=False)
        else:
            kw.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        try:
            with self._lock, torch.inference_mode():
                if seed is not None:
                    torch.manual_seed(seed)  # per call: reproducible whatever ran before
                out = model.generate(**x, **kw)
        except (RuntimeError, ValueError) as e:  # e.g. CUDA out of memory
            raise BackendError(f"transformers failed to generate with {self.model}: {e}") from e
        n = int(x["input_ids"].shape[1])
        new = out[0, n:].tolist()
        while new and new[-1] in {tok.eos_token_id, tok.pad_token_id}:
            new.pop()
        return new, n

    def generate(self, messages: list[Message], *, max_new_tokens: int, seed: int | None = None,
                 temperature: float = 1.0, top_p: float = 1.0) -> tuple[str, int]:
        """(the answer decoded with its special tokens, its token count); greedy when `seed` is None."""
        new, _ = self._new_tokens(messages, max_new_tokens, seed, temperature, top_p)
        return self.tokenizer.decode(new, skip_special_tokens=False), len(new)

    def logits(self, text: str):
        """The logits of every position of `text` (float32, on the CPU)."""
        import torch

        model, tok = self.loaded()
        x = tok(text, return_tensors="pt")
        x = {k: v.to(next(model.parameters()).device) for k, v in x.items()}
        with torch.inference_mode():
            return model(**x).logits[0].float().cpu()

    def complete(self, request: Request) -> Completion:
        """A greedy answer, special tokens dropped."""
        new, n = self._new_tokens(request.messages, request.max_tokens or self.cfg.max_tokens, None, 1.0, 1.0)
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return Completion(text=text.strip(), model=self.model, prompt_tokens=n, completion_tokens=len(new),
                          meta={"backend": self.name, "adapters": [str(d) for d in self.dirs]})

    def stream(self, request: Request) -> Iterator[str]:
        """Greedy answer pieces as they are generated (what `serve` sends token by token)."""
        from .transformers_local import stream_generate

        model, tok = self.loaded()
        yield from stream_generate(model, tok, request.messages, lock=self._lock, name=self.model,
                                   max_new_tokens=request.max_tokens or self.cfg.max_tokens)

    def complete_many(self, requests):
        return complete_in_order(self, requests)

    def close(self) -> None:
        """Let the model go (eval loads one model at a time)."""
        self._loaded = None
        gc.collect()


def llamacpp_available() -> bool:
    try:
        import llama_cpp  # noqa: F401  (optional: pip install llama-cpp-python)
    except ImportError:
        return False
    return True


class AdaptedLlamaCpp:
    """A base's GGUF with at most one GGUF LoRA attached, through llama.cpp. `tokenizer` (the transformers one of
    the same base) renders the prompt exactly as the transformers engine does. The caller exports the adapter
    (`adapters.gguf_lora`, a layer beside this one)."""

    name = "adapter"
    engine = "llamacpp"

    def __init__(self, gguf: Path, tokenizer, lora: Path | None = None, lora_scale: float = 1.0,
                 cfg: BackendConfig | None = None, *, model: str | None = None, n_ctx: int = 2048):
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise BackendError("the llama.cpp engine needs llama-cpp-python, which is not installed",
                               LLAMACPP_HINT) from e
        from . import llama_logs

        llama_logs.quiet()
        self.tokenizer, self.cfg = tokenizer, cfg or BackendConfig()
        self.model = model or (lora.stem if lora else gguf.name)
        kw: dict = {"lora_path": str(lora), "lora_scale": float(lora_scale)} if lora else {}
        # every core, as the llamacpp backend does (llama-cpp-python's default is half of them)
        self.llm = Llama(model_path=str(gguf), n_ctx=n_ctx, n_threads=os.cpu_count(), verbose=False, seed=0, **kw)

    def generate(self, messages: list[Message], *, max_new_tokens: int, seed: int | None = None,
                 temperature: float = 1.0, top_p: float = 1.0) -> tuple[str, int]:
        """(the answer as llama.cpp decodes it, its token count); greedy when `seed` is None."""
        prompt = _prompt(self.tokenizer, messages, self.model)
        bos = getattr(self.tokenizer, "bos_token", None)
        if bos and prompt.startswith(bos):
            prompt = prompt[len(bos):]  # llama.cpp adds the model's BOS itself; a second one would skew the answer
        kw: dict = {"temperature": 0.0, "top_k": 1} if seed is None else {
            "temperature": temperature, "top_p": top_p, "top_k": 0, "seed": seed}
        self.llm.reset()  # no KV-cache reuse from the previous prompt: the same prompt gives the same answer
        try:
            out = self.llm.create_completion(prompt, max_tokens=max_new_tokens, repeat_penalty=1.0, **kw)
        except (ValueError, RuntimeError) as e:  # e.g. the prompt exceeds the context window
            raise BackendError(f"llama.cpp failed with {self.model}: {e}",
                               "send a shorter prompt / smaller max_tokens") from e
        return out["choices"][0]["text"], int(out["usage"]["completion_tokens"])

    def logits(self, text: str):
        """The next-token logits after `text`, as llama.cpp computes them with the GGUF LoRA attached: the
        "adapter active" check on the engine that writes the answers, not only on transformers."""
        import llama_cpp
        import numpy as np
        import torch

        self.llm.reset()
        self.llm.eval(self.llm.tokenize(text.encode("utf-8"), add_bos=True))
        row = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return torch.from_numpy(np.ctypeslib.as_array(row, shape=(self.llm.n_vocab(),)).copy())

    def complete(self, request: Request) -> Completion:
        """A greedy answer."""
        text, n = self.generate(request.messages, max_new_tokens=request.max_tokens or self.cfg.max_tokens)
        return Completion(text=text.strip(), model=self.model, completion_tokens=n,
                          meta={"backend": self.name, "engine": self.engine})

    def complete_many(self, requests):
        return complete_in_order(self, requests)

    def close(self) -> None:
        if self.llm is not None and hasattr(self.llm, "close"):
            self.llm.close()
        self.llm = None
        gc.collect()


def adapted_backend(store: Store, ids: list[str], cfg: BackendConfig) -> AdaptedBackend:
    base, dirs = adapter_dirs(store, ids)
    return AdaptedBackend(base, dirs, cfg)
