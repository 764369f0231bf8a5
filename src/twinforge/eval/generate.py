"""Every model answers every probe: greedy (deterministic) and sampled with fixed seeds.

A model is the base, one adapter, or a named stack of adapters (ModelSpec). Two engines:
- transformers: the base through `twinforge.models.base.load_base`, adapters through
  `twinforge.models.stack.load_with_adapters`; it also gives the logits and perplexities the other metrics need;
- llama.cpp: the base's GGUF with the adapter exported as a GGUF LoRA (`twinforge.adapters.gguf_lora`); one adapter
  at most, so stacks always use transformers.
`engine="auto"` takes llama.cpp on a CPU when it can run the model (one adapter at most, a base with a GGUF:
the embedded Gemma 3 270M, a .gguf, or a folder holding one), else transformers. bench/eval.py on the quiet
2-core CPU, embedded base + a LoRA: llama.cpp 1.036 vs transformers 0.445 generations/s (2.33×; 33.2 vs 14.3
tokens/s; load ~3 s each; 1.54× with llama-cpp-python's default of half the cores). Both run the same Q4_K_M
weights (transformers dequantized to fp32), and the GGUF LoRA matches PEFT's logit change at 0.994 correlation
(tests/test_adapters_export.py). On a GPU transformers runs the model in bf16, so auto keeps it there. (A run
under a load of 4-6 had the order reversed: measure on a quiet machine.)
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, TwinforgeError
from .probes import Probe
from .render import prompt_text

ENGINES = ("auto", "transformers", "llamacpp")
GREEDY = "greedy"
# where a base model without a chat template starts writing the next turn itself
_TURN_MARKS = ("\nuser:", "\nUser:", "\nassistant:", "\nsystem:")


class EvalError(TwinforgeError):
    """The evaluation cannot run as asked (a model that does not load, an unknown engine)."""


@dataclass
class ModelSpec:
    name: str  # "base", an adapter id, or a stack name
    kind: str  # base | adapter | stack
    base: str | None = None  # what load_base takes (None: embedded)
    adapters: list[tuple[Path, float]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "base": self.base,
                "adapters": [[str(p), w] for p, w in self.adapters]}


@dataclass
class Generation:
    model: str
    probe_id: str
    mode: str  # "greedy" or "seed-N"
    text: str  # the answer, cut where the model started the next turn itself
    raw: str  # everything decoded, special tokens kept (the failure catalogue looks for leaks here)
    new_tokens: int
    seconds: float
    engine: str

    def as_dict(self) -> dict:
        return asdict(self)


def modes(sample_seeds: list[int]) -> list[tuple[str, int | None]]:
    return [(GREEDY, None), *((f"seed-{s}", s) for s in sample_seeds)]


def cut_turn(text: str) -> str:
    from ..backends.transformers_local import cut_at_next_turn

    return cut_at_next_turn(text, _TURN_MARKS).strip()


# --- transformers ---------------------------------------------------------------------------------------


def load_transformers(spec: ModelSpec, device: str | None = None):
    """(model, tokenizer) in eval mode: the base alone, one adapter, or a stack."""
    try:
        if not spec.adapters:
            from ..models.base import load_base

            model, tok = load_base(spec.base, device=device)
        else:
            model, tok = _load_adapters(spec, device)
    except TwinforgeError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise EvalError(f"cannot load model {spec.name} ({e})",
                        "check the adapter folder and that it was trained on this base") from e
    model.eval()
    return model, tok


def _load_adapters(spec: ModelSpec, device: str | None):
    from ..models.stack import load_with_adapters

    return load_with_adapters(spec.base, spec.adapters, device=device)


class TransformersRunner:
    engine = "transformers"

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer

    def generate(self, probe: Probe, seed: int | None, max_new_tokens: int, temperature: float,
                 top_p: float) -> tuple[str, int]:
        import torch

        tok = self.tokenizer
        prompt = prompt_text(tok, probe.messages)
        x = tok(prompt, return_tensors="pt", add_special_tokens=not getattr(tok, "chat_template", None))
        x = {k: v.to(next(self.model.parameters()).device) for k, v in x.items()}
        kw: dict = {"max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id or tok.eos_token_id,
                    "use_cache": True}  # load_base turns the cache off for training
        if seed is None:
            kw.update(do_sample=False)
        else:
            torch.manual_seed(seed)
            kw.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        with torch.inference_mode():
            out = self.model.generate(**x, **kw)
        new = out[0, x["input_ids"].shape[1]:].tolist()
        while new and new[-1] in {tok.eos_token_id, tok.pad_token_id}:
            new.pop()
        return tok.decode(new, skip_special_tokens=False), len(new)

    def logits(self, text: str):
        import torch

        x = self.tokenizer(text, return_tensors="pt")
        x = {k: v.to(next(self.model.parameters()).device) for k, v in x.items()}
        with torch.inference_mode():
            return self.model(**x).logits[0].float().cpu()

    def close(self) -> None:
        self.model = None
        gc.collect()


# --- llama.cpp ------------------------------------------------------------------------------------------


def llamacpp_available() -> bool:
    try:
        import llama_cpp  # noqa: F401  (optional: pip install llama-cpp-python)
    except ImportError:
        return False
    return True


def can_llamacpp(spec: ModelSpec) -> bool:
    return len(spec.adapters) <= 1 and llamacpp_available()


class LlamaCppRunner:
    engine = "llamacpp"

    def __init__(self, spec: ModelSpec, tokenizer, cache_dir: Path, n_ctx: int = 2048):
        from llama_cpp import Llama

        from ..adapters.gguf_lora import base_gguf, export_gguf_lora
        from ..backends import llama_logs

        llama_logs.quiet()

        self.tokenizer = tokenizer  # renders the prompt exactly as the transformers path does
        kw: dict = {}
        if spec.adapters:
            path, weight = spec.adapters[0]
            lora = cache_dir / f"{path.name}.gguf"
            if not lora.exists():
                cache_dir.mkdir(parents=True, exist_ok=True)
                export_gguf_lora(path, lora)
            kw.update(lora_path=str(lora), lora_scale=float(weight))
        # every core, as the llamacpp backend does (llama-cpp-python's default is half of them)
        self.llm = Llama(model_path=str(base_gguf(spec.base)), n_ctx=n_ctx, n_threads=os.cpu_count(), verbose=False,
                         seed=0, **kw)

    def generate(self, probe: Probe, seed: int | None, max_new_tokens: int, temperature: float,
                 top_p: float) -> tuple[str, int]:
        prompt = prompt_text(self.tokenizer, probe.messages)
        bos = getattr(self.tokenizer, "bos_token", None)
        if bos and prompt.startswith(bos):
            prompt = prompt[len(bos):]  # llama.cpp adds the model's BOS itself; a second one would skew the answer
        kw: dict = {"temperature": 0.0, "top_k": 1} if seed is None else {
            "temperature": temperature, "top_p": top_p, "top_k": 0, "seed": seed}
        self.llm.reset()  # no KV-cache reuse from the previous probe: the same probe gives the same answer
        out = self.llm.create_completion(prompt, max_tokens=max_new_tokens, repeat_penalty=1.0, **kw)
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

    def close(self) -> None:
        self.llm.close() if hasattr(self.llm, "close") else None
        self.llm = None
        gc.collect()


def pick_engine(engine: str, spec: ModelSpec) -> str:
    if engine not in ENGINES:
        raise ConfigError(f"unknown eval engine {engine!r}", f"choose one of: {', '.join(ENGINES)}")
    if engine == "llamacpp" and not can_llamacpp(spec):
        why = "a stack of several adapters" if len(spec.adapters) > 1 else "llama-cpp-python or train.gguf_lora missing"
        raise ConfigError(f"{spec.name}: the llamacpp engine cannot run it ({why})", "use --engine transformers")
    if engine == "auto":
        return "llamacpp" if _llamacpp_is_faster(spec) else "transformers"
    return engine


def _llamacpp_is_faster(spec: ModelSpec) -> bool:
    """What `auto` picks llama.cpp for (see the module's docstring for the measurement)."""
    if not can_llamacpp(spec):
        return False
    from ..adapters.gguf_lora import base_gguf
    from ..models.device import detect

    if detect().is_gpu:
        return False
    try:
        base_gguf(spec.base)  # a folder without a GGUF would need llama.cpp's converter first
    except TwinforgeError:
        return False
    return True


def generate_all(runner, model_name: str, probes: list[Probe], sample_seeds: list[int], max_new_tokens: int,
                 temperature: float, top_p: float, tick=None) -> Iterator[Generation]:
    for probe in probes:
        for mode, seed in modes(sample_seeds):
            t0 = time.perf_counter()
            raw, n = runner.generate(probe, seed, max_new_tokens, temperature, top_p)
            yield Generation(model_name, probe.id, mode, cut_turn(_strip_special(raw, runner.tokenizer)), raw, n,
                             time.perf_counter() - t0, runner.engine)
            if tick:
                tick()


def _strip_special(raw: str, tokenizer) -> str:
    """The answer as a reader sees it: special tokens (kept in `raw` as evidence) dropped."""
    for t in getattr(tokenizer, "all_special_tokens", []) or []:
        if t:
            raw = raw.replace(t, "")
    return raw
