"""The recipe's `hyper` stage: vocabulary → hypertrain.jsonl → (the bridge adapter, when `hyper.bridge`) → report.

Each step is idempotent: the vocabulary and pairs are rebuilt deterministically, the bridge returns its finished
adapter for the same pairs, and decoded answers come from the store's call cache on a re-run.
"""

from __future__ import annotations

from ..errors import TwinforgeError
from ..stage import StageResult
from .bridge import train_bridge
from .dataset import build_hypertrain
from .report import build_report
from .vocab import build_vocab


def run_stage(store, cfg, progress: bool = False) -> StageResult:
    v = build_vocab(store, cfg, progress=progress)
    d = build_hypertrain(store, cfg, progress=progress)
    summary: dict = {"concepts": v.size, "scenes": d.scenes, "examples": d.examples}
    if cfg.bridge:
        b = train_bridge(store, cfg, progress=progress)
        summary["bridge"] = b.adapter_id
    try:
        r = build_report(store, cfg, progress=progress)
    except TwinforgeError as e:  # no held-out scenes, or a backend that cannot load: the pairs stand, the report not
        return StageResult("hyper", summary, [f"report: {e}"])
    summary.update({"compression (Qwen ÷ concept tokens)": r.compression["concept_tokens"].total,
                    "compression (characters)": r.compression["chars"].total})
    for dec in r.decoders:
        summary[f"fidelity {dec.name}"] = dec.fidelity_mean
        summary[f"preserved {dec.name}"] = f"{dec.preserved}/{dec.scenes}"
    summary["verdict"] = r.verdict
    return StageResult("hyper", summary)
