"""Every model answers every probe: greedy (deterministic) and sampled with fixed seeds.

A model is the base, one adapter, or a named stack of adapters (ModelSpec). It generates through the backends
layer's base-with-adapters (`twinforge.backends.adapted`), on one of two engines:
- transformers (`AdaptedBackend`): it also gives the logits and perplexities the other metrics need;
- llama.cpp (`AdaptedLlamaCpp`): the base's GGUF with the adapter exported as a GGUF LoRA; one adapter at most, so
  stacks always use transformers.
`engine="auto"` takes llama.cpp on a CPU when it can run the model (one adapter at most, a base with a GGUF:
the embedded Gemma 3 270M, a .gguf, or a folder holding one), else transformers. bench/eval.py on the quiet
2-core CPU, embedded base + a LoRA: llama.cpp 1.036 vs transformers 0.445 generations/s (2.33×; 33.2 vs 14.3
tokens/s; load ~3 s each; 1.54× with llama-cpp-python's default of half the cores). Both run the same Q4_K_M
weights (transformers dequantized to fp32), and the GGUF LoRA matches PEFT's logit change at 0.994 correlation
(tests/test_adapters_export.py). On a GPU transformers runs the model in bf16, so auto keeps it there. (A run
under a load of 4-6 had the order reversed: measure on a quiet machine.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..backends.adapted import AdaptedBackend, AdaptedLlamaCpp, llamacpp_available
from ..errors import ConfigError, TwinforgeError
from .probes import Probe

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


def can_llamacpp(spec: ModelSpec) -> bool:
    return len(spec.adapters) <= 1 and llamacpp_available()


def open_model(spec: ModelSpec, device: str | None = None) -> AdaptedBackend:
    """The model through transformers, loaded: the base alone, one adapter, or a stack (it gives the logits and
    perplexities whichever engine writes the answers)."""
    model = AdaptedBackend(spec.base, spec.adapters, device=device)
    try:
        model.loaded()
    except TwinforgeError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise EvalError(f"cannot load model {spec.name} ({e})",
                        "check the adapter folder and that it was trained on this base") from e
    return model


def open_llamacpp(spec: ModelSpec, tokenizer, lora_cache: Path) -> AdaptedLlamaCpp:
    """The model through llama.cpp: the base's GGUF and its one adapter exported once as a GGUF LoRA into
    `lora_cache`."""
    from ..adapters.gguf_lora import base_gguf, export_gguf_lora

    if len(spec.adapters) > 1:
        raise EvalError(f"{spec.name}: llama.cpp runs one adapter at a time here", "use --engine transformers")
    lora, weight = None, 1.0
    if spec.adapters:
        path, weight = spec.adapters[0]
        lora = lora_cache / f"{path.name}.gguf"
        if not lora.exists():
            lora_cache.mkdir(parents=True, exist_ok=True)
            export_gguf_lora(path, lora)
    return AdaptedLlamaCpp(base_gguf(spec.base), tokenizer, lora, weight, model=spec.name)


def pick_engine(engine: str, spec: ModelSpec) -> str:
    if engine not in ENGINES:
        raise ConfigError(f"unknown eval engine {engine!r}", f"choose one of: {', '.join(ENGINES)}")
    if engine == "llamacpp" and not can_llamacpp(spec):
        why = "a stack of several adapters" if len(spec.adapters) > 1 else "llama-cpp-python missing"
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


def generate_all(runner: AdaptedBackend | AdaptedLlamaCpp, model_name: str, probes: list[Probe],
                 sample_seeds: list[int], max_new_tokens: int, temperature: float, top_p: float,
                 tick=None) -> Iterator[Generation]:
    for probe in probes:
        for mode, seed in modes(sample_seeds):
            t0 = time.perf_counter()
            raw, n = runner.generate(probe.messages, max_new_tokens=max_new_tokens, seed=seed,
                                     temperature=temperature, top_p=top_p)
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
