"""Fixtures of the eval tests (a pytest plugin loaded by conftest.py).

`seeds_dataset`: the real seeds (5 Russian conversations) through ingest → clean → distill (extractive) → expand →
dataset; `seeds_adapter`: the demo adapter trained on it for a few dozen short CPU steps; `zero_adapter`: a LoRA
whose B matrices are zero (exactly the base), the trap the "adapter actually active" check must catch.
Session-scoped: each is built once per test run (~1–2 min of CPU in all on 2 cores).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# Measured on the seeds (40 training examples of the module views): 12 steps of 2 rows × 128 tokens at lr 5e-4
# (~0.7 epoch) take held-out perplexity from 26.3 to 19.7 and leave the control flat (24.2 → 24.9). More is worse
# on data this small: 20 steps at 1e-3 gave held-out 30.4 (train 1.9: memorised), and training on every view
# (the person's raw turns too) raised held-out perplexity — the failure catalogue's overfitting case.
DEMO = {"max_len": 128, "batch_size": 2, "max_steps": 12, "lr": 5e-4, "save_steps": 1000, "r": 8, "alpha": 16}
DEMO_VIEWS = ["concept", "hypothesis", "inversion", "transition"]
EVAL_RECIPE = """
name: eval-test
eval:
  max_probes: {probes}
  max_new_tokens: {tokens}
  sample_seeds: {seeds}
  ppl_texts: 6
  ppl_max_len: 128
  engine: transformers
"""


@pytest.fixture(scope="session")
def seeds_dataset(tmp_path_factory) -> Path:
    """A workspace holding the seeds' dataset `default` (validation: at least one whole conversation)."""
    from conftest import SEEDS, need_shared

    need_shared()
    from twinforge.clean.run import clean
    from twinforge.config import CleanConfig, DistillConfig, ExpandConfig
    from twinforge.dataset.build import build_dataset
    from twinforge.dataset.config import DatasetConfig
    from twinforge.distill.run import distill
    from twinforge.expand.run import expand
    from twinforge.ingest.entries import Limits
    from twinforge.ingest.run import ingest_paths
    from twinforge.store import Store

    ws = tmp_path_factory.mktemp("evalseeds") / "ws"
    with Store(ws) as store:
        ingest_paths(store, [str(SEEDS)], Limits(100.0, 64 * 1024**3))
        clean(store, CleanConfig())
        distill(store, DistillConfig())  # extractive: no model
        expand(store, ExpandConfig())
        build_dataset(store, DatasetConfig(val_fraction=0.2, formats=["jsonl"], views=DEMO_VIEWS))
    val = (ws / "datasets" / "default" / "val.jsonl").read_text(encoding="utf-8").splitlines()
    assert val, "the seeds' dataset should hold out at least one conversation"
    return ws


@pytest.fixture(scope="session")
def seeds_adapter(seeds_dataset) -> Path:
    """The demo adapter trained on the seeds' train split, registered as `seeds-demo`."""
    from twinforge.adapters import registry
    from twinforge.store import Store
    from twinforge.train.sft import TrainArgs, train_adapter

    ds = seeds_dataset / "datasets" / "default"
    out = seeds_dataset / "adapters" / "seeds-demo"
    train_adapter(TrainArgs(base=None, train_file=ds / "train.jsonl", val_file=ds / "val.jsonl", out_dir=out,
                            dataset="default", name="seeds-demo", kind="full", **DEMO))
    with Store(seeds_dataset) as store:
        registry.register(store, out)
    return out


@pytest.fixture(scope="session")
def zero_adapter(seeds_dataset) -> Path:
    """A freshly initialised LoRA (B = 0) saved as an adapter folder: it changes nothing."""
    from peft import LoraConfig, get_peft_model

    from twinforge.models.base import load_base

    out = seeds_dataset / "adapters" / "zero"
    model, _ = load_base(None)
    get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])).save_pretrained(out)
    (out / "twinforge.json").write_text(json.dumps({"id": "zero", "base": "embedded", "kind": "full"}),
                                        encoding="utf-8")
    return out


def eval_recipe(folder: Path, probes: int = 3, tokens: int = 16, seeds: str = "[1]") -> Path:
    path = folder / f"eval-{probes}-{tokens}.yaml"
    path.write_text(EVAL_RECIPE.format(probes=probes, tokens=tokens, seeds=seeds), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def seeds_eval(seeds_dataset, seeds_adapter, zero_adapter, tmp_path_factory):
    """One `twinforge eval --json` run of base vs the demo adapter vs the zero adapter on the seeds:
    (click result, parsed JSON run). It exits 1 (the zero adapter is inactive) and still saves the run."""
    from click.testing import CliRunner

    from twinforge.cli.main import cli

    recipe = eval_recipe(tmp_path_factory.mktemp("evalrecipe"))
    r = CliRunner().invoke(cli, ["-w", str(seeds_dataset), "eval", "-c", str(recipe), "--adapter", "seeds-demo",
                                 "--adapter", "zero", "--json"])
    start = r.stdout.find("{")
    return r, json.loads(r.stdout[start:]) if start >= 0 else None


def copy_workspace(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
