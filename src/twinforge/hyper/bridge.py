"""HyperBridge: one LoRA adapter that translates both ways (`hyper-encode:` text → hyperphrase, `hyper-decode:`
hyperphrase → text), trained on `<ws>/hyper/train.jsonl` through the train stage (`kind="bridge"`) and
registered in the adapter registry, so `twinforge eval` and `hyper report` can run it.

The adapter id is `bridge-` + a hash of what it is trained from (data, base, steps, length): the same inputs
resume or return the finished adapter; new pairs give a new one. `<ws>/hyper/bridge.json` names the latest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import HyperConfig
from .encode import HyperError, hyper_dir


@dataclass
class BridgeResult:
    adapter_id: str
    adapter_dir: str
    steps: int
    train_loss_first: float | None
    train_loss_last: float | None
    val_loss: float | None
    seconds: float
    registered: bool
    finished: bool

    def as_dict(self) -> dict:
        return asdict(self)


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def train_bridge(store, cfg: HyperConfig, *, max_steps: int | None = None, base: str | None = None,
                 batch_size: int = 4, progress: bool = False) -> BridgeResult:
    from ..train.sft import TrainArgs, train_adapter

    folder = store.ws.hyper
    train_file, val_file = folder / "train.jsonl", folder / "val.jsonl"
    if not (folder / "hypertrain.jsonl").is_file():
        from .dataset import build_hypertrain

        build_hypertrain(store, cfg, progress=progress)
    if not train_file.stat().st_size:
        raise HyperError(f"{train_file} is empty", "the corpus has no training conversations; lower "
                         "hyper.val_fraction or add conversations")
    steps = max_steps or cfg.bridge_steps
    base = base if base is not None else cfg.bridge_base
    key = json.dumps([_file_hash(train_file), base or "embedded", steps, cfg.bridge_max_len, batch_size])
    adapter_id = "bridge-" + hashlib.sha256(key.encode()).hexdigest()[:10]
    out = store.ws.adapter(adapter_id)
    out.mkdir(parents=True, exist_ok=True)
    args = TrainArgs(base=base, train_file=train_file, val_file=val_file if val_file.stat().st_size else None,
                     out_dir=out, max_steps=steps, max_len=cfg.bridge_max_len, batch_size=batch_size,
                     seed=cfg.seed, name="hyperbridge", kind="bridge", dataset="hypertrain",
                     save_steps=max(10, steps // 4))
    r = train_adapter(args, progress=progress)
    registered = False
    if r.finished:
        registered = _register(store, out)
        record = hyper_dir(store) / "bridge.json"
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps({"adapter_id": adapter_id, "adapter_dir": str(out), "steps": r.steps},
                                  ensure_ascii=False), encoding="utf-8")
        tmp.replace(record)
    return BridgeResult(adapter_id, str(out), r.steps, r.train_loss_first, r.train_loss_last, r.val_loss,
                        round(r.seconds, 1), registered, r.finished)


def _register(store, adapter_dir: Path) -> bool:
    """Into the adapter registry, so `adapters` lists the bridge like any other adapter."""
    from ..adapters import registry

    registry.register(store, adapter_dir)
    return True
