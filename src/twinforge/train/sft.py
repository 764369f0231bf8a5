"""Supervised fine-tuning of one LoRA/QLoRA adapter: one function, read top to bottom (after trl's scripts/sft.py).

A plain torch loop rather than a Trainer: it is what lets every step be cheap (packed rows with no padding, logits
only where the loss looks, see loss.py), and what makes checkpoints exact — adapter weights, optimizer,
scheduler, RNG and the step, from which the data position follows, since each step's rows are a pure function of
(seed, step). Re-running with the same out_dir resumes from the last checkpoint; a finished adapter (its
twinforge.json written, always last) is returned as it is.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, InputError
from ..models import layers as layer_spec
from ..models.stack import META
from .data import (
    IGNORE,
    PLAIN_TEMPLATE,
    collate,
    encode,
    file_hash,
    plan_rows,
    read_examples,
)

# peft 0.21 still asks transformers 5 for `is_gradient_checkpointing`, which warns on every run: nothing for a user
warnings.filterwarnings("ignore", message=r".*`is_gradient_checkpointing` is deprecated", category=FutureWarning)



@dataclass
class TrainArgs:
    base: str | None  # None/"embedded", a HF folder, a .gguf, or a recipe name (see base.py)
    train_file: Path
    out_dir: Path  # the adapter folder, WORKSPACE/adapters/<id>/
    val_file: Path | None = None
    r: int = 8
    alpha: float = 16
    dropout: float = 0.05
    target_modules: list[str] | None = None  # None: q/k/v/o projections
    layers: str | None = None  # decoder layers to adapt (models/layers.py: "20-23", "last:3"); None: all
    lr: float = 2e-4
    epochs: float = 1.0
    max_steps: int | None = None  # overrides epochs
    max_len: int = 1024
    batch_size: int = 4  # rows of max_len tokens per optimizer step
    packing: bool = True
    grad_checkpointing: bool | None = None  # None: on for GPU, off for CPU
    qlora: bool = False
    seed: int = 0
    on_top_of: list[Path] = field(default_factory=list)  # adapter folders kept frozen underneath, in order
    init_from: Path | None = None  # an adapter folder (same r/targets) whose weights the new adapter starts from
    save_steps: int = 50
    eval_steps: int | None = None  # None: validation loss at the end only
    val_limit: int = 256  # validation examples used at most
    name: str | None = None
    scene: str | None = None
    kind: str = "full"  # full | scene | batch | bridge
    dataset: str | None = None  # the dataset's name, for the record
    device: str | None = None  # None: auto
    stop_after: int | None = None  # end this run (resumably) after this many steps in all; for time-boxed sessions

    def hyperparameters(self) -> dict:
        keep = ("r", "alpha", "dropout", "target_modules", "lr", "epochs", "max_steps", "max_len", "batch_size",
                "packing", "grad_checkpointing", "qlora", "seed")
        # layers only when set: an all-layer run keeps the run key it had before layers existed (resumes still match)
        return {k: getattr(self, k) for k in keep} | ({"layers": self.layers} if self.layers else {})


@dataclass
class TrainResult:
    adapter_dir: Path
    steps: int
    tokens: int  # real (non-padding) tokens trained on, all runs together
    seconds: float  # training loop time, all runs together
    tokens_per_second: float
    train_loss_first: float | None
    train_loss_last: float | None  # mean of the last 10 steps
    val_loss: float | None
    peak_memory_bytes: int
    resumed_from_step: int | None = None
    finished: bool = True  # False: stopped by stop_after; run again to go on

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def train_adapter(args: TrainArgs, progress: bool = False) -> TrainResult:
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from tqdm import tqdm
    from transformers import get_scheduler

    from ..models.base import describe, load_base
    from ..models.device import detect, peak_memory_bytes

    out = Path(args.out_dir)
    if done := finished_result(out):
        return done

    # 1. Data and base. Reading the data first makes a bad file fail before a slow model load.
    examples = read_examples(args.train_file)
    val_examples = read_examples(args.val_file)[:args.val_limit] if args.val_file else []
    dev = detect(args.device)
    base_info = describe(args.base)
    parents = [_parent_meta(Path(p), base_info["base_hash"]) for p in args.on_top_of]
    n_layers = layer_spec.layer_count(base_info["base_path"])
    layer_ids = layer_spec.indices(args.layers, n_layers)  # a bad spec fails here, before the model loads
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    model, tokenizer = load_base(args.base, device=args.device, qlora=args.qlora)
    encoded, data_stats = encode(tokenizer, examples, args.max_len)
    if not encoded:
        raise InputError(str(args.train_file), f"none of its {len(examples)} examples has an assistant token left "
                         f"within max_len {args.max_len}", "raise max_len or check the dataset")
    val_encoded = encode(tokenizer, val_examples, args.max_len)[0] if val_examples else []
    plan = plan_rows(encoded, args.max_len, args.batch_size, args.packing, args.seed)
    total_steps = args.max_steps or max(1, math.ceil(plan.batches_per_epoch * args.epochs))

    # 2. The adapter: parents loaded frozen underneath (their dropout off), the new one trainable on top.
    targets = args.target_modules or _default_targets(model)
    grad_ckpt = dev.is_gpu if args.grad_checkpointing is None else args.grad_checkpointing
    if args.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=grad_ckpt)
    elif grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora = LoraConfig(r=args.r, lora_alpha=args.alpha, lora_dropout=args.dropout, target_modules=targets,
                      layers_to_transform=layer_ids, bias="none", task_type="CAUSAL_LM")
    if parents:
        model = PeftModel.from_pretrained(model, str(args.on_top_of[0]), adapter_name="parent0")
        for i, p in enumerate(args.on_top_of[1:], 1):
            model.load_adapter(str(p), adapter_name=f"parent{i}")
        model.add_adapter("default", lora)
        model.base_model.set_adapter([f"parent{i}" for i in range(len(parents))] + ["default"])
        _freeze_parents(model)
    else:
        model = get_peft_model(model, lora)
    if args.init_from:  # a chained batch going on with the previous batch's adapter (train/chain.py)
        _init_weights(model, Path(args.init_from))
    trainable = [p for p in model.parameters() if p.requires_grad]

    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.0)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=int(0.03 * total_steps),
                              num_training_steps=total_steps)

    # 3. Resume: the latest complete checkpoint of this same run (same data, base and hyperparameters).
    run_key = {"base_hash": base_info["base_hash"], "dataset_hash": file_hash(args.train_file),
               "parents": [p["id"] for p in parents], **args.hyperparameters(),
               **({"init_from": Path(args.init_from).name} if args.init_from else {})}
    ckpt_dir = out / "checkpoints"
    state = _load_checkpoint(ckpt_dir, run_key, model, optimizer, scheduler)
    start = state["step"]
    history, val_history = state["history"], state["val_history"]
    tokens_done, seconds_done = state["tokens"], state["seconds"]

    def val_loss() -> float | None:
        return eval_loss(model, tokenizer, val_encoded, args.max_len, args.batch_size) if val_encoded else None

    # 4. The loop.
    model.train()
    stop_at = min(total_steps, args.stop_after) if args.stop_after else total_steps
    bar = tqdm(total=total_steps, initial=start, disable=not progress, unit="step", dynamic_ncols=True,
               desc=f"train {out.name}")
    step = start
    t0 = time.perf_counter()
    try:
        while step < stop_at:
            batch = collate(encoded, plan.batch(step), tokenizer.pad_token_id, dev.torch)
            loss = batch_loss(model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens_done += batch["tokens"]
            history.append(loss.item())
            elapsed = seconds_done + time.perf_counter() - t0
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]:.3f}", tok_s=f"{tokens_done / max(elapsed, 1e-9):.0f}")
            if args.eval_steps and step % args.eval_steps == 0 and step < total_steps:
                val_history.append((step, val_loss()))
            if step % args.save_steps == 0 and step < total_steps:
                _save_checkpoint(ckpt_dir, step, run_key, model, optimizer, scheduler, history, val_history,
                                 tokens_done, elapsed)
    except KeyboardInterrupt:
        if step > start:  # keep what this run did; the next run resumes here
            _save_checkpoint(ckpt_dir, step, run_key, model, optimizer, scheduler, history, val_history,
                             tokens_done, seconds_done + time.perf_counter() - t0)
        raise
    finally:
        bar.close()
    seconds = seconds_done + time.perf_counter() - t0
    result = TrainResult(out, step, tokens_done, seconds, tokens_done / max(seconds, 1e-9),
                         history[0] if history else None, _tail_mean(history), None, peak_memory_bytes(dev),
                         start or None, finished=step >= total_steps)
    if not result.finished:
        _save_checkpoint(ckpt_dir, step, run_key, model, optimizer, scheduler, history, val_history,
                         tokens_done, seconds)
        return result

    # 5. The adapter folder: PEFT files, loss curve, then twinforge.json last (it marks the adapter finished).
    result.val_loss = val_loss()
    if result.val_loss is not None:
        val_history.append((step, result.val_loss))
    tmp = out / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), selected_adapters=["default"])
    (tmp / "README.md").unlink(missing_ok=True)  # peft's empty model-card template; twinforge.json says it all
    for f in tmp.iterdir():
        os.replace(f, out / f.name)
    tmp.rmdir()
    _plot(history, val_history, out / "loss.png", out.name)
    meta = {
        "id": out.name, "name": args.name or out.name, "kind": args.kind, "scene": args.scene,
        **base_info, "dataset": args.dataset, "dataset_file": str(args.train_file),
        "dataset_hash": run_key["dataset_hash"], "parents": [p["id"] for p in parents],
        "parent_dirs": [str(Path(p).resolve()) for p in args.on_top_of],
        "init_from": Path(args.init_from).name if args.init_from else None,
        "hyperparameters": {**args.hyperparameters(), "target_modules": targets, "grad_checkpointing": grad_ckpt,
                            "total_steps": total_steps},
        "layers": {"spec": args.layers, "indices": layer_ids, "of": n_layers},
        "trainable_params": sum(p.numel() for p in trainable), "probe": probe_logits(model, tokenizer),
        "chat_template": "plain" if tokenizer.chat_template == PLAIN_TEMPLATE else "model",
        "device": dev.name, "data": {**data_stats, "rows": len(plan.rows), "val_examples": len(val_encoded)},
        "metrics": {k: v for k, v in result.as_dict().items() if k not in ("adapter_dir", "finished")},
        "loss_history": history, "val_history": val_history,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_json(out / META, meta)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return result


def batch_loss(model, batch):
    """Mean loss over the labeled tokens of a collated batch: decoder → output layer only where labels are."""
    from .loss import linear_cross_entropy

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.get_decoder()(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                                use_cache=False).last_hidden_state
    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE
    softcap = getattr(base.config.get_text_config(), "final_logit_softcapping", None)
    return linear_cross_entropy(hidden[:, :-1][keep], base.get_output_embeddings().weight, labels[keep], softcap)


def eval_loss(model, tokenizer, examples, max_len: int = 1024, batch_size: int = 4) -> float:
    """Mean assistant-token loss of a model (base, or with adapters) over examples (dicts or encoded rows)."""
    import torch

    encoded = encode(tokenizer, examples, max_len)[0] if examples and isinstance(examples[0], dict) else examples
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for rows in plan_rows(encoded, max_len, batch_size, True, 0).rows_in_batches():
            batch = collate(encoded, rows, tokenizer.pad_token_id, device)
            n = int((batch["labels"][:, 1:] != IGNORE).sum())
            total += float(batch_loss(model, batch)) * n
            count += n
    model.train(was_training)
    return total / max(count, 1)


PROBE = "user: What is a thinking twin?\n\nassistant:"


def probe_logits(model, tokenizer, k: int = 16) -> dict:
    """The first k next-token logits after a fixed prompt, recorded at save time: reloading the adapter must
    give the same numbers (the test of a faithful save, and a check anyone can repeat)."""
    import torch

    ids = tokenizer(PROBE, return_tensors="pt").input_ids.to(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits[0, -1, :k].float().tolist()
    model.train(was_training)
    return {"prompt": PROBE, "logits": logits}


def _default_targets(model) -> list[str]:
    """q/k/v/o projections where the architecture names them so; else an error listing what there is."""
    import torch

    from ..models.base import DEFAULT_TARGETS

    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    found = [t for t in DEFAULT_TARGETS if t in names]
    if not found:
        raise ConfigError(f"this architecture has none of {', '.join(DEFAULT_TARGETS)}",
                          f"pick target_modules among its linear layers: {', '.join(sorted(names))}")
    return found


def _freeze_parents(model) -> None:
    import torch

    for name, p in model.named_parameters():
        p.requires_grad = "lora_" in name and ".default." in name
    for m in model.modules():
        drop = getattr(m, "lora_dropout", None)
        if isinstance(drop, torch.nn.ModuleDict):
            for key in drop:
                if key != "default":
                    drop[key] = torch.nn.Identity()  # a frozen parent acts as at inference


def _init_weights(model, folder: Path) -> None:
    """Copies a saved adapter's LoRA weights into the new (default) adapter; its shapes must match."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise ConfigError(f"{folder} has no adapter_model.safetensors to start from", "train that batch first")
    try:
        result = set_peft_model_state_dict(model, load_file(str(weights)))
    except RuntimeError as e:  # a size mismatch: another rank or other target modules
        raise ConfigError(f"cannot start from {folder.name}: {str(e).splitlines()[0]}",
                          "keep r and target_modules the same along a chain") from e
    if [k for k in result.unexpected_keys if "lora_" in k]:
        raise ConfigError(f"cannot start from {folder.name}: its modules differ from this adapter's",
                          "keep target_modules the same along a chain")


def _parent_meta(folder: Path, base_hash: str) -> dict:
    meta_file = folder / META
    if not meta_file.is_file():
        raise ConfigError(f"{folder} is not a finished twinforge adapter (no {META})",
                          "pick one from `twinforge adapters`")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if meta.get("base_hash") != base_hash:
        raise ConfigError(f"adapter {meta.get('id')} was trained on another base ({meta.get('base')}, "
                          f"hash {meta.get('base_hash')})", "train on top of it with the same --base")
    return meta


def _tail_mean(history: list[float], n: int = 10) -> float | None:
    tail = history[-n:]
    return sum(tail) / len(tail) if tail else None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def finished_result(out: Path) -> TrainResult | None:
    """The result recorded in a finished adapter folder; None when it is not finished."""
    if not (out / META).is_file():
        return None
    m = json.loads((out / META).read_text(encoding="utf-8"))["metrics"]
    return TrainResult(out, m["steps"], m["tokens"], m["seconds"], m["tokens_per_second"], m["train_loss_first"],
                       m["train_loss_last"], m["val_loss"], m["peak_memory_bytes"], m.get("resumed_from_step"))


# --- checkpoints ------------------------------------------------------------------------------------------

def _save_checkpoint(ckpt_dir: Path, step: int, run_key: dict, model, optimizer, scheduler, history, val_history,
                     tokens: int, seconds: float, keep: int = 2) -> None:
    """checkpoints/step-NNNNNNNN/: trainable weights, optimizer, scheduler, RNG, state.json (written last, into
    a temp folder renamed into place, so a kill mid-save leaves the previous checkpoint as the latest)."""
    import torch
    from safetensors.torch import save_file

    final = ckpt_dir / f"step-{step:08d}"
    tmp = ckpt_dir / f".step-{step:08d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad},
              str(tmp / "trainable.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, tmp / "rng.pt")
    _write_json(tmp / "state.json", {"step": step, "run": run_key, "history": history, "val_history": val_history,
                                     "tokens": tokens, "seconds": seconds})
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(ckpt_dir.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(ckpt_dir: Path, run_key: dict, model, optimizer, scheduler) -> dict:
    import torch
    from safetensors.torch import load_file

    fresh = {"step": 0, "history": [], "val_history": [], "tokens": 0, "seconds": 0.0}
    done = sorted(d for d in ckpt_dir.glob("step-*") if (d / "state.json").is_file())
    if not done:
        return fresh
    latest = done[-1]
    state = json.loads((latest / "state.json").read_text(encoding="utf-8"))
    if state["run"] != json.loads(json.dumps(run_key, default=str)):
        changed = sorted(k for k in run_key if state["run"].get(k) != json.loads(json.dumps(run_key[k], default=str)))
        raise ConfigError(f"{ckpt_dir.parent} holds an unfinished run with other settings or data "
                          f"(changed: {', '.join(changed)})",
                          f"run it again unchanged to resume, give another --name, or delete {ckpt_dir}")
    weights = load_file(str(latest / "trainable.safetensors"))
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    optimizer.load_state_dict(torch.load(latest / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(latest / "scheduler.pt", weights_only=False))
    rng = torch.load(latest / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return state


def _plot(history: list[float], val_history: list, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(range(1, len(history) + 1), history, lw=1, alpha=0.5, label="train (per step)")
    if len(history) >= 10:
        w = max(2, len(history) // 20)
        smooth = [sum(history[max(0, i - w + 1):i + 1]) / len(history[max(0, i - w + 1):i + 1])
                  for i in range(len(history))]
        ax.plot(range(1, len(history) + 1), smooth, lw=2, label=f"train (mean of {w})")
    pts = [(s, v) for s, v in val_history if v is not None]
    if pts:
        ax.plot([s for s, _ in pts], [v for _, v in pts], "o-", label="validation")
    ax.set(xlabel="step", ylabel="loss (assistant tokens)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
