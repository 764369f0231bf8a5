""""Is the adapter actually active?" A LoRA whose B matrices are still zero, an adapter that failed to attach
(wrong target module names, a stack that silently dropped it) or a scale of 0 gives exactly the base's outputs —
and a fine-tune that changed nothing would pass for a cautious success. Other tools have shipped this trap, so
every evaluated adapter and stack is checked two ways:

- logits: on a fixed input the model's logits must differ from the base's by more than `ATOL` — identical logits
  mean the adapter is not there at all: a loud failure (the CLI exits non-zero). This is checked on every engine
  that ran the model: transformers (where it is trained) and llama.cpp with the GGUF LoRA (which writes the
  answers on a CPU), so an adapter lost in the GGUF export fails too;
- outputs: at least one greedy answer should differ from the base's; when none does while the logits moved, the
  adapter is present but too weak to change a single answer, flagged as `no-visible-effect` in the catalogue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import TwinforgeError

ATOL = 1e-6  # fp32 noise between two loads of the same weights is 0 on one device; any real LoRA moves far more
PROBE_TEXT = "user: Explain the idea in your own words.\n\nassistant: The idea is"


class AdapterInactiveError(TwinforgeError):
    """An adapter or stack gave exactly the base's logits or outputs."""


@dataclass
class ActiveCheck:
    model: str
    max_logit_diff: float  # the smallest over the engines compared: the adapter must move each of them
    outputs_differ: int  # greedy answers that differ from the base's
    outputs_compared: int
    per_engine: dict = field(default_factory=dict)  # engine → max |logit − base logit|

    @property
    def active(self) -> bool:
        return self.max_logit_diff > ATOL

    @property
    def visible(self) -> bool:
        return self.outputs_differ > 0 or self.outputs_compared == 0

    @property
    def evidence(self) -> str:
        engines = ", ".join(f"{e} {d:.3g}" for e, d in self.per_engine.items())
        return (f"max |logit − base logit| = {self.max_logit_diff:.3g} ({engines}; threshold {ATOL:g}); "
                f"{self.outputs_differ}/{self.outputs_compared} greedy answers differ from the base's")

    def as_dict(self) -> dict:
        return asdict(self) | {"active": self.active, "visible": self.visible}


def max_logit_diff(logits, base_logits) -> float:
    if logits.shape != base_logits.shape:
        return float("inf")  # another vocabulary or tokenization: certainly not the base
    return float((logits - base_logits).abs().max())


def check(model: str, logits, base_logits, greedy: dict[str, str], base_greedy: dict[str, str]) -> ActiveCheck:
    """`logits` and `base_logits`: one tensor, or {engine: tensor}; engines both ran are compared."""
    mine = logits if isinstance(logits, dict) else {"transformers": logits}
    base = base_logits if isinstance(base_logits, dict) else {"transformers": base_logits}
    per_engine = {e: max_logit_diff(mine[e], base[e]) for e in mine if e in base}
    shared = [p for p in greedy if p in base_greedy]
    return ActiveCheck(model, min(per_engine.values()), sum(greedy[p] != base_greedy[p] for p in shared),
                       len(shared), per_engine)


def require_active(checks: list[ActiveCheck]) -> None:
    dead = [c for c in checks if not c.active]
    if dead:
        raise AdapterInactiveError(
            "INACTIVE: " + "; ".join(f"{c.model} behaves exactly like the base ({c.evidence})" for c in dead),
            "the adapter did not attach or learned nothing: check target_modules, the scale/weight, and that "
            "training ran (twinforge adapters show ID)")
