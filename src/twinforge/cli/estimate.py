"""`twinforge estimate`: how long fine-tuning (or pretraining) takes, how much memory, whether it fits."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import click

from ..errors import ConfigError
from ..store import Workspace, resolve_workspace
from .group import Ctx, cli, progress_wanted
from .options import json_option


@cli.command()
@click.option("--pretrain", is_flag=True, help="Estimate pretraining a model from scratch on a corpus instead.")
@click.option("--lines", help="Fine-tune: training examples, comma-separated [default: 100k,1M,3M, or the "
              "--dataset's size].")
@click.option("--dataset", help="Fine-tune: a dataset in WORKSPACE/datasets/NAME: its examples are the lines and "
              "tokens per line are measured on it [default for tokens: the `default` dataset when there is one].")
@click.option("--model", help="A named model (qwen3-0.6b … qwen3-32b, qwen3-30b-a3b, llama3-70b, demo), a "
              "parameter count (8e9, 70b) or a Hugging Face folder [default: qwen3-8b; 70b with --pretrain].")
@click.option("--method", default="lora,qlora", show_default=True, help="Fine-tune: lora, qlora, or both.")
@click.option("--gpu", help="Hardware, comma-separated: rx7900xt, rtx4090, a100-40, a100-80, h100, 8xh100, ryzen9 "
              "(the home CPU), this (calibrated) [default: rx7900xt; h100 with --pretrain].")
@click.option("--calibrate", is_flag=True, help="Measure this machine first with a short real training run of the "
              "demo model (about a minute), cached in WORKSPACE/estimate/calibration.json; adds `this` to --gpu.")
@click.option("--epochs", type=float, default=1.0, show_default=True, help="Passes over the data.")
@click.option("--seq-len", type=int, help="Tokens per packed sequence [default: the model's recipe or 2048; "
              "4096 with --pretrain].")
@click.option("--rank", type=int, help="Fine-tune: LoRA rank [default: the model's recipe, else 8].")
@click.option("--targets", type=click.Choice(["attn", "all"]), help="Fine-tune: LoRA on q/k/v/o (attn) or every "
              "linear map (all) [default: the model's recipe, else attn].")
@click.option("--grad-checkpointing/--no-grad-checkpointing", default=None,
              help="Fine-tune: recompute activations in the backward pass (less memory, +~50% compute) "
              "[default: as the trainer does: on for GPUs, off on a CPU].")
@click.option("--batch-size", type=int, default=4, show_default=True,
              help="Fine-tune: packed rows of --seq-len tokens per optimizer step (as `twinforge train`).")
@click.option("--tokens-per-line", type=float, help="Fine-tune: tokens per example instead of measuring them.")
@click.option("--corpus", help="Pretrain: corpus size in bytes of text, e.g. 1TB, 500GB.")
@click.option("--sample", type=click.Path(path_type=Path), help="Pretrain: a file or folder of the corpus to "
              "measure tokens per byte on [default: the workspace's hyperphrases, else its cleaned text].")
@click.option("--tokens", "corpus_tokens", help="Pretrain: corpus size in tokens instead (e.g. 2T).")
@click.option("--gpus", type=int, help="Pretrain: number of GPUs [default: the profile's].")
@click.option("--mfu", type=float, help="Pretrain: model FLOPs utilization [default: the profile's].")
@click.option("--parallel", default="zero3", show_default=True, help="Pretrain: zero1, zero2, zero3/fsdp, ddp, or "
              "tensor×pipeline degrees such as tp8-pp4 (optionally -zero1).")
@click.option("--micro-batch", type=int, default=1, show_default=True, help="Pretrain: sequences per GPU per step.")
@click.option("--recompute", type=click.Choice(["auto", "none", "full"]), default="auto", show_default=True,
              help="Pretrain: activation recomputation (auto: only when activations would not fit).")
@json_option("Print the estimate as JSON.")
@click.pass_obj
def estimate(obj: Ctx, pretrain: bool, lines: str | None, dataset: str | None, model: str | None, method: str,
             gpu: str | None, calibrate: bool, epochs: float, seq_len: int | None, rank: int | None,
             targets: str | None, grad_checkpointing: bool | None, batch_size: int, tokens_per_line: float | None,
             corpus: str | None,
             sample: Path | None, corpus_tokens: str | None, gpus: int | None, mfu: float | None, parallel: str,
             micro_batch: int, recompute: str, as_json: bool) -> None:
    """How long training takes, how much memory it needs and whether it fits, with every assumption printed beside
    the figure it produces.

    Fine-tuning (default): LoRA/QLoRA time from FLOPs (≈4·N per token: forward + backward through the
    activations, no weight gradients; +2·N with gradient checkpointing) at a profile's peak × MFU, or at this
    machine's measured speed (--calibrate, then --gpu this). Memory: weights, LoRA with Adam, activations,
    logits.

    --pretrain: corpus tokens (bytes × tokens per byte measured on a sample), 6·N·D FLOPs, the compute-optimal
    20·N tokens, GPU-hours and days on --gpus GPUs at --mfu, and memory per GPU for --parallel.
    """
    workspace = resolve_workspace(obj.workspace)
    if pretrain:
        _pretrain(workspace, model or "70b", gpu or "h100", gpus, mfu, parallel, corpus, sample, corpus_tokens,
                  epochs, seq_len or 4096, micro_batch, recompute, as_json)
        return
    for flag, value in (("--corpus", corpus), ("--sample", sample), ("--tokens", corpus_tokens), ("--gpus", gpus),
                        ("--mfu", mfu)):
        if value is not None:
            raise ConfigError(f"{flag} is a --pretrain option", "add --pretrain, or drop it")
    _finetune(workspace, lines, dataset, model or "qwen3-8b", method, gpu or "rx7900xt", calibrate, epochs, seq_len,
              rank, targets, grad_checkpointing, batch_size, tokens_per_line, as_json)


def _finetune(workspace: Path, lines: str | None, dataset: str | None, model: str, method: str, gpu: str,
              calibrate: bool, epochs: float, seq_len: int | None, rank: int | None, targets: str | None,
              checkpointing: bool | None, batch_size: int, tokens_per_line: float | None, as_json: bool) -> None:
    from ..estimate import calibrate as cal_mod
    from ..estimate.finetune import estimate_finetune, fmt_count, parse_lines, recipe_defaults, throughput
    from ..estimate.finetune import tokens_per_line as measure
    from ..estimate.shapes import shape

    s = shape(model)
    rank, targets, seq_len = recipe_defaults(s, rank, targets, seq_len)
    methods = [m.strip().lower() for m in method.split(",") if m.strip()]
    for m in methods:
        if m not in ("lora", "qlora"):
            raise ConfigError(f"unknown method {m!r}", "use lora, qlora or lora,qlora")
    gpus_ = [g.strip().lower() for g in gpu.split(",") if g.strip()]
    cal = None
    if calibrate:
        cal = cal_mod.calibrate(workspace, progress=progress_wanted())
        if "this" not in gpus_:
            gpus_.append("this")
    train_file = Workspace(workspace).dataset(dataset or "default") / "train.jsonl"
    if dataset and not train_file.is_file():
        raise ConfigError(f"no dataset {dataset!r} in {Workspace(workspace).datasets}",
                          "build it with `twinforge dataset`, or pass --lines")
    tokens = measure(s, train_file if train_file.is_file() else None, tokens_per_line)
    counts = parse_lines(lines) if lines else ([tokens.lines] if dataset and tokens.lines else
                                              [100_000, 1_000_000, 3_000_000])
    rows, skipped = [], []
    for g in gpus_:
        hw = throughput(g, workspace)
        for m in methods:
            if m == "qlora" and not hw.qlora:
                skipped.append(f"qlora on {hw.name}: bitsandbytes is not installed here")
                continue
            for n in counts:
                rows.append(estimate_finetune(s, lines=n, tokens=tokens, hw=hw, method=m, epochs=epochs,
                                              seq_len=seq_len, checkpointing=checkpointing, rank=rank,
                                              targets=targets, batch_rows=batch_size))
    if not rows:
        raise ConfigError("nothing to estimate: " + "; ".join(skipped), "use --method lora")
    if as_json:
        out = {"model": s.as_dict(), "calibration": cal.as_dict() if cal else None,
               "estimates": [r.as_dict() for r in rows], "skipped": skipped}
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if cal:
        steps, tokens, secs = (cal.run[k][1] for k in ("steps", "tokens", "seconds"))
        click.echo(f"calibrated this machine: {cal.tokens_per_second:.1f} tokens/s training {cal.model['name']} "
                   f"({steps} steps, {tokens:,} tokens in {secs:.1f} s, + {cal.startup_seconds:.1f} s start-up) = "
                   f"{cal.flops_per_second / 1e9:.3g} GFLOP/s; saved to "
                   f"{cal_mod.calibration_path(workspace)}\n")
    click.echo(f"fine-tuning {s.name}: {s.total_params / 1e9:.3g}B parameters ({s.source}); LoRA r={rank} on "
               f"{'every linear map' if targets == 'all' else 'q/k/v/o'}; {epochs:g} epoch(s); {batch_size} packed "
               f"rows of {seq_len} tokens per step; gradient checkpointing "
               + ("on for GPUs, off on CPUs (as the trainer does)" if checkpointing is None
                  else "on" if checkpointing else "off"))
    click.echo(f"tokens per example: {rows[0].time_figures[1].shown} — {rows[0].time_figures[1].basis}\n")
    table = [("examples", "tokens", "method", "hardware", "time", "memory", "fits")]  # one row per estimate
    for r in rows:
        table.append((fmt_count(r.lines), fmt_count(r.tokens), r.method, r.hardware_key,
                      _fig(r.time_figures, "time"),
                      _fig(r.memory_figures, "total per device"),
                      "yes" if r.fits else f"NO (> {r.memory_limit_bytes / 1e9:.1f} GB)"))
    _table(table)
    seen = set()
    for r in rows:
        key = (r.method, r.hardware)
        if key in seen:
            continue
        seen.add(key)
        click.echo(f"\n{r.method} on {r.hardware}, {fmt_count(r.lines)} examples — how the figures are made:")
        _figures([f for f in r.time_figures if f.what not in ("examples", "tokens per example")] + r.memory_figures)
    for note in skipped:
        click.echo(f"\nskipped: {note}")


def _pretrain(workspace: Path, model: str, gpu: str, gpus: int | None, mfu: float | None, parallel: str,
              corpus: str | None, sample: Path | None, corpus_tokens: str | None, epochs: float, seq_len: int,
              micro_batch: int, recompute: str, as_json: bool) -> None:
    from ..estimate.pretrain import (
        estimate_pretrain,
        measure_tokens_per_byte,
        parse_size,
        sample_texts,
        workspace_texts,
    )
    from ..estimate.shapes import parse_count

    if "," in gpu:
        raise ConfigError("--pretrain takes one --gpu kind", "run once per kind")
    ratio = None
    size = None
    n_tokens = None
    if corpus_tokens:
        n_tokens = parse_count(corpus_tokens, "token count")
    elif corpus:
        size = parse_size(corpus)
        if sample is not None:
            ratio = measure_tokens_per_byte(sample_texts(sample), str(sample))
        else:
            texts, where = workspace_texts(workspace)
            ratio = measure_tokens_per_byte(texts, where)
    else:
        raise ConfigError("--pretrain needs the corpus size", "pass --corpus 1TB (and --sample PATH) or --tokens 2T")
    est = estimate_pretrain(model=model, gpu=gpu, gpus=gpus, mfu=mfu, parallel=parallel, corpus_bytes=size,
                            tokens_per_byte=ratio, corpus_tokens=n_tokens, epochs=epochs, seq_len=seq_len,
                            micro_batch=micro_batch, recompute=recompute)
    if as_json:
        click.echo(json.dumps(est.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"pretraining {est.model} ({est.params / 1e9:.4g}B) on {est.gpus:,} × {est.hardware} at MFU "
               f"{est.mfu:g}\n")
    _figures(est.figures)
    click.echo(f"\nmemory per GPU ({est.parallel}, seq {seq_len}, micro-batch {micro_batch}"
               f"{', full recompute' if est.recompute else ''}): {'fits' if est.fits else 'DOES NOT FIT'}")
    _figures(est.memory_figures)
    click.echo("\nwhat the arithmetic supports:")
    width = max(60, min(120, shutil.get_terminal_size((110, 20)).columns))
    for line in est.verdict:
        click.echo(textwrap.fill(line, width, initial_indent="  - ", subsequent_indent="    "))


def _fig(figs, what: str) -> str:
    return next(f.shown for f in figs if f.what == what)


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def _figures(figs) -> None:
    """what | value | basis, the basis wrapped beside the value."""
    w1 = max(len(f.what) for f in figs)
    w2 = max(len(f.shown) for f in figs)
    width = max(60, min(140, shutil.get_terminal_size((120, 20)).columns))
    room = max(30, width - w1 - w2 - 6)
    for f in figs:
        lines = textwrap.wrap(f.basis, room) or [""]
        click.echo(f"  {f.what.ljust(w1)}  {f.shown.rjust(w2)}  {lines[0]}")
        for more in lines[1:]:
            click.echo(" " * (w1 + w2 + 6) + more)
