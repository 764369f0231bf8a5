"""`twinforge hyper …`: hyperphrases — encode, decode, the concept vocabulary, hypertrain.jsonl, the bridge
adapter, and the compression/fidelity report."""

from __future__ import annotations

import json
import sys

import click

from ..backends.base import BACKENDS
from ..config import load_recipe
from ..errors import TwinforgeError
from .group import Ctx, cli, progress_wanted
from .options import config_option, json_option

_CONFIG = config_option("hyper")


def _cfg(config: str, join: str | None = None):
    cfg = load_recipe(config).hyper
    return cfg.model_copy(update={"join": join}) if join else cfg


def _workspace_store(obj: Ctx):
    """The workspace's store when there is one (its corpus frequencies and vocabulary sharpen encode/decode)."""
    from ..store.db import DB_NAME, resolve_workspace

    return obj.store(create=False) if (resolve_workspace(obj.workspace) / DB_NAME).exists() else None


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@cli.group()
def hyper() -> None:
    """Hyperphrases: text ↔ dense chains of lemmatized concepts, their corpus, the bridge adapter, and a report
    measuring compression and round-trip meaning."""


@hyper.command()
@click.argument("text")
@click.option("--join", type=click.Choice(["concat", "sep"]), help="concat: concepts written together "
              "(ночьгрудьтьма); sep: joined by the separator (default: the recipe's).")
@_CONFIG
@json_option("Print concepts per scene, language and counts as JSON.")
@click.pass_obj
def encode(obj: Ctx, text: str, join: str | None, config: str, as_json: bool) -> None:
    """Turn TEXT (or - for standard input) into a hyperphrase: per sentence, its most salient concept lemmas in
    order, one line per sentence."""
    from ..hyper.encode import encoder_for

    if text == "-":
        text = sys.stdin.read()
    cfg = _cfg(config, join)
    store = _workspace_store(obj)
    try:
        h = encoder_for(store, cfg).encode(text)
    finally:
        if store is not None:
            store.close()
    if as_json:
        _echo_json(h.as_dict())
    else:
        click.echo(h.text)


@hyper.command()
@click.argument("hyperphrase")
@click.option("--backend", type=click.Choice(list(BACKENDS)), help="Backend to decode with instead of the "
              "recipe's hyper.backend (llamacpp: the embedded model).")
@click.option("--model", help="Model for the backend (a GGUF path for llamacpp, a name for openai).")
@click.option("--adapter", help="Decode with this bridge adapter (id in the workspace, or a folder) instead.")
@_CONFIG
@click.pass_obj
def decode(obj: Ctx, hyperphrase: str, backend: str | None, model: str | None, adapter: str | None,
           config: str) -> None:
    """Expand HYPERPHRASE (or - for standard input) back into text, through a backend or the bridge adapter."""
    from ..hyper.decode import decoder

    if hyperphrase == "-":
        hyperphrase = sys.stdin.read()
    cfg = _cfg(config)
    bcfg = cfg.backend.overridden(backend, model)
    store = _workspace_store(obj)
    try:
        out = decoder(store, cfg, backend=bcfg, adapter=adapter).decode_many([hyperphrase])[0]
    finally:
        if store is not None:
            store.close()
    if out.text is None:
        raise TwinforgeError(f"decoding failed: {out.error}")
    click.echo(out.text)


@hyper.command()
@_CONFIG
@json_option("Print the vocabulary report as JSON.")
@click.pass_obj
def vocab(obj: Ctx, config: str, as_json: bool) -> None:
    """Build the concept vocabulary and tokenizer (one token = one concept lemma) from the training
    conversations: WORKSPACE/hyper/tokenizer.json, idf.json, vocab.json; compare tokens per idea with Qwen's."""
    from ..hyper.vocab import build_vocab

    with obj.store(create=False) as store:
        r = build_vocab(store, _cfg(config), progress=progress_wanted())
    if as_json:
        _echo_json(r.as_dict())
        return
    click.echo(f"concepts: {r.size:,} from {r.train_documents:,} texts ({r.heldout_documents:,} held out) → "
               f"{r.tokenizer}")
    click.echo(f"tokens per idea on {r.sample} texts ({r.ideas:,} ideas): text {r.qwen_tokens_per_idea_text:.2f} "
               f"Qwen, hyperphrase {r.qwen_tokens_per_idea_hyper:.2f} Qwen / {r.concept_tokens_per_idea:.2f} "
               f"concept; one concept lemma takes {r.qwen_tokens_per_concept_word:.2f} Qwen tokens")
    if r.heldout_oov is not None:
        click.echo(f"held-out concepts outside the vocabulary: {r.heldout_oov:.1%}")


@hyper.command()
@_CONFIG
@json_option("Print the dataset report as JSON.")
@click.pass_obj
def dataset(obj: Ctx, config: str, as_json: bool) -> None:
    """Write WORKSPACE/hyper/hypertrain.jsonl (+ train.jsonl, val.jsonl): text → hyperphrase and hyperphrase →
    text pairs, one scene each, from the kept dialog and the modules, split by conversation."""
    from ..hyper.dataset import build_hypertrain

    with obj.store(create=False) as store:
        r = build_hypertrain(store, _cfg(config), progress=progress_wanted())
    if as_json:
        _echo_json(r.as_dict())
        return
    click.echo(f"scenes: {r.scenes:,} from {r.conversations} conversations ({r.val_conversations} held out); "
               f"examples: {r.train_examples:,} train, {r.val_examples:,} val; skipped: {r.skipped_short:,} "
               f"short or not prose, {r.skipped_few_concepts:,} with under two concepts")
    click.echo(f"characters: {r.chars_text:,} of text → {r.chars_hyper:,} of hyperphrase; files: {r.folder}")


@hyper.command()
@click.option("--max-steps", type=click.IntRange(min=1), help="Training steps (default: the recipe's "
              "hyper.bridge_steps).")
@click.option("--base", help="Base model (default: the recipe's hyper.bridge_base, else the embedded Gemma 3 270M).")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True, help="Rows per step.")
@_CONFIG
@json_option("Print the training result as JSON.")
@click.pass_obj
def bridge(obj: Ctx, max_steps: int | None, base: str | None, batch_size: int, config: str, as_json: bool) -> None:
    """Train the HyperBridge adapter (text ↔ hyperphrase, both directions) on hypertrain.jsonl and register it;
    a re-run with the same pairs resumes or returns the finished adapter."""
    from ..hyper.bridge import train_bridge

    with obj.store(create=False) as store:
        r = train_bridge(store, _cfg(config), max_steps=max_steps, base=base, batch_size=batch_size,
                         progress=progress_wanted())
    if as_json:
        _echo_json(r.as_dict())
        return
    loss = (f"loss {r.train_loss_first:.3f} → {r.train_loss_last:.3f}" if r.train_loss_first is not None else "")
    val = f", val {r.val_loss:.3f}" if r.val_loss is not None else ""
    click.echo(f"adapter {r.adapter_id}: {r.steps} steps in {r.seconds:.0f} s, {loss}{val}"
               + ("" if r.finished else " (stopped early: run again to go on)")
               + (", registered" if r.registered else ""))
    click.echo(f"folder: {r.adapter_dir}  (next: twinforge hyper report)")


@hyper.command()
@click.option("--backend", type=click.Choice(list(BACKENDS)), help="Plain backend to decode with instead of the "
              "recipe's hyper.backend.")
@click.option("--model", help="Model for that backend.")
@click.option("--adapter", help="Bridge adapter to measure (default: the one `hyper bridge` trained last, if any).")
@click.option("--no-backend", is_flag=True, help="Measure only the bridge adapter.")
@click.option("--no-bridge", is_flag=True, help="Measure only the backend, even where a bridge was trained.")
@click.option("--limit", type=click.IntRange(min=1), help="Held-out scenes to decode (default: hyper.report_limit).")
@_CONFIG
@json_option("Print the whole report as JSON.")
@click.pass_obj
def report(obj: Ctx, backend: str | None, model: str | None, adapter: str | None, no_backend: bool,
           no_bridge: bool, limit: int | None, config: str, as_json: bool) -> None:
    """Measure hyperphrases on held-out text: compression (characters, Qwen and concept tokens), round-trip
    fidelity (embedding cosine of decode(encode(x)) to x) and concept recall, for the backend and the bridge;
    ends with one sentence on whether 5–30× compression at preserved meaning holds. Writes
    WORKSPACE/reports/hyper.md, .html and .json."""
    from ..hyper.report import build_report

    cfg = _cfg(config)
    bcfg = cfg.backend.overridden(backend, model)
    with obj.store(create=False) as store:
        r = build_report(store, cfg, backend=bcfg, adapter=adapter, limit=limit, use_backend=not no_backend,
                         use_bridge=not no_bridge, progress=progress_wanted())
    if as_json:
        _echo_json(r.as_dict())
        return
    c = r.compression
    click.echo(f"held-out scenes: {r.scenes}; compression (original ÷ hyperphrase): characters {c['chars']}, "
               f"Qwen tokens {c['qwen_tokens']}, Qwen ÷ concept tokens {c['concept_tokens']}")
    for d in r.decoders:
        click.echo(f"{d.name}: fidelity {d.fidelity_mean:.3f} (median {d.fidelity_median:.3f}), concept recall "
                   f"{d.recall_mean:.1%}, preserved {d.preserved}/{d.scenes} at cosine ≥ {r.threshold:.2f}"
                   + (f", {d.failed} failed" if d.failed else ""))
    click.echo(r.verdict)
    click.echo(f"files: {r.files.get('markdown')}, {r.files.get('html')}")
