"""`twinforge distill`, `modules`, `failures`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..backends import get_backend
from ..backends.base import BACKENDS
from ..config import load_recipe
from ..distill import export, gold, quality
from ..distill.run import distill as run_distill
from ..distill.run import failures as list_failures
from ..errors import TwinforgeError
from ..store.workspace import Workspace
from . import durations
from .group import Ctx, cli, progress_wanted
from .options import config_option, dry_run_option, json_option


def _ensure_cleaned(store) -> None:
    if not store.has_cleaned():
        raise TwinforgeError(f"nothing cleaned in {store.workspace}",
                             "run `twinforge ingest PATH` and `twinforge clean` first")


@cli.command()
@config_option("distill")
@click.option("--backend", type=click.Choice(list(BACKENDS)), help="Backend to use instead of the recipe's.")
@click.option("--model", help="Model instead of the recipe's (a name for openai, a GGUF path for llamacpp, "
              "a Hugging Face folder for transformers).")
@click.option("--limit", type=click.IntRange(min=1), help="Distill at most this many conversations this run.")
@click.option("--force", is_flag=True, help="Redo conversations already distilled (answers still come from the "
              "call cache).")
@dry_run_option("Render the prompts, print one, estimate tokens and time; write nothing.")
@json_option("Print the report as JSON.")
@click.pass_obj
def distill(obj: Ctx, config: str, backend: str | None, model: str | None, limit: int | None, force: bool,
            dry_run: bool, as_json: bool) -> None:
    """Turn each dialog clean kept into a thinking module: phrase → concepts → meta-move, then axes, inversions,
    hypotheses, transition rules, open questions and verbatim quotes with message ids.

    Modules go to twin.db and to WORKSPACE/modules/<id>.md and <id>.yaml. Every backend call is cached and each
    conversation is committed when done, so a re-run is free and a killed run resumes. Answers that stay
    unusable after repair and one retry are listed by `twinforge failures`.
    """
    cfg = load_recipe(config).distill
    cfg.backend = cfg.backend.overridden(backend, model)
    if limit:
        cfg.limit = limit
    with obj.store(create=False) as store:
        _ensure_cleaned(store)
        report = run_distill(store, cfg, progress=progress_wanted(), dry_run=dry_run, force=force)
        workspace = store.workspace
    if as_json:
        click.echo(json.dumps(report.as_dict() | {"module_ids": report.modules}, ensure_ascii=False, indent=2))
        return
    r = report
    who = f"{r.backend}" + (f" ({r.model})" if r.model and r.model != r.backend else "")
    click.echo(f"dialogs: {r.eligible} kept by clean, {r.done_before} distilled before, {r.pending} to do"
               f" — backend {who}, prompt {r.prompt_version}")
    if dry_run:
        if r.sample:
            click.echo("\n--- one rendered request ---")
            for m in r.sample:
                click.echo(f"[{m['role']}]\n{m['content']}\n")
        secs = ("instant" if r.seconds == 0 else f"~{durations.rough(r.seconds)}" if r.seconds is not None
                else "unknown")
        click.echo(f"would send {r.chunks} requests: {r.prompt_tokens:,} prompt tokens (Qwen), up to"
                   f" ~{r.output_tokens:,} answer tokens; time {secs}"
                   + (f" (at {r.speed_basis})" if r.speed_basis else ""))
        room = cfg.backend.context - cfg.backend.max_tokens
        if r.backend == "llamacpp" and r.longest_request > room:
            click.echo(f"warning: the longest request has {r.longest_request:,} prompt tokens, more than the "
                       f"{room:,} that backend.context ({cfg.backend.context}) leaves beside max_tokens"
                       f" ({cfg.backend.max_tokens}): lower distill.chunk_chars or raise backend.context")
        click.echo("dry run: nothing was written")
        return
    click.echo(f"modules written: {r.distilled}" + (f" ({r.papers} paper digests)" if r.papers else "")
               + f"; failed: {r.failed}; chunks: {r.chunks}; backend calls: {r.calls},"
               f" cache hits: {r.cache_hits}, retries: {r.retries}; quotes dropped (not verbatim): {r.quotes_dropped}"
               + (f"; stale modules removed: {r.removed}" if r.removed else ""))
    if r.meta_moves_mapped or r.meta_moves_rejected:
        click.echo(f"meta-moves outside the taxonomy: {r.meta_moves_mapped} mapped to an entry,"
                   f" {r.meta_moves_rejected} rejected and chosen by rules (the backend's word is kept as"
                   " meta_move_raw)")
    for line in summary_lines(r.quality, cfg.quality_threshold):
        click.echo(line)
    for mid in r.edits_kept:
        click.echo(f"kept your edit: modules/{mid}.yaml (the module in the store is the new distillation; delete "
                   "the file to get it regenerated)")
    click.echo(f"files: {Workspace(workspace).modules}  (next: twinforge modules"
               + (", twinforge failures" if r.failed or r.chunk_failures else "") + ")")


@cli.group(invoke_without_command=True)
@json_option("One JSON object per line.")
@click.pass_context
def modules(ctx: click.Context, as_json: bool) -> None:
    """The thinking modules distilled so far: id, title, language, phrase, meta-move, conversation, and the
    quality score (`twinforge modules score`)."""
    if ctx.invoked_subcommand is not None:
        return
    obj: Ctx = ctx.obj
    with obj.store(create=False) as store:
        rows = export.listing(store)
        scores = store.module_scores()
        folder = store.ws.modules
    for m in rows:
        s = scores.get(m["id"])
        if as_json:
            extra = {"score": s["score"], "flagged": s["flagged"], "reasons": s["reasons"]} if s else {}
            click.echo(json.dumps(m | extra, ensure_ascii=False))
        else:
            mark = (f" score {s['score']:.2f}" + (" FLAGGED" if s["flagged"] else "")) if s else ""
            click.echo(f"{m['id']}  [{m['language']}] {m['title']}{mark}\n    {m['meta_move']}: {m['phrase']}")
    if not as_json:
        click.echo(f"{len(rows)} modules" + (f" in {folder}" if rows else " (run `twinforge distill`)"))


@modules.command()
@config_option(help="Recipe whose `distill:` section to use (threshold, backend, chunking).")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Flag modules scoring below this instead of the "
              "recipe's distill.quality_threshold (saved: expand and rejects use the last scoring).")
@click.option("--gold", "gold_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Score against a labelled set (e.g. tests/data/modules): its dialogs are distilled with the "
              "backend (answers cached in the workspace) and compared with the labels.")
@click.option("--split", type=click.Choice(["heldout", "tuning", "all"]), default="all", show_default=True,
              help="With --gold: which part of the labelled set.")
@click.option("--backend", type=click.Choice(list(BACKENDS)), help="With --gold: backend instead of the recipe's.")
@click.option("--model", help="With --gold: model instead of the recipe's.")
@click.option("--limit", type=click.IntRange(min=1), help="With --gold: at most this many labelled dialogs.")
@json_option("Print the scores as JSON.")
@click.pass_obj
def score(obj: Ctx, config: str, threshold: float | None, gold_dir: Path | None, split: str, backend: str | None,
          model: str | None, limit: int | None, as_json: bool) -> None:
    """Score the modules without a model: per module and overall.

    Grounding: the phrase, every quote and every concept traced to the person's own messages (verbatim, or by
    lemma; a phrase or quote of the assistant's is a defect). Completeness: the share of the fields the dialog
    supports that the module fills. Degeneracy: concepts that are function words or forms of address, near
    copies of another module, one meta-move for every module. Score = grounding · (0.5 + 0.5 · completeness) ·
    (1 − degeneracy). A module below the threshold, or with a phrase or quote that is not the person's, is
    flagged: `twinforge rejects` lists it and expand leaves it out (expand.skip_flagged).

    With --gold DIR: the labelled dialogs are distilled by the backend (no store needed; re-runs are answered by
    the workspace's call cache) and scored against their labels: concept precision and recall by lemma,
    meta-move accuracy, axis recall (both poles), inversion, hypothesis and transition-rule recall, per split.
    Figures are reported on `heldout`; `tuning` is for tuning.
    """
    cfg = load_recipe(config).distill
    threshold = cfg.quality_threshold if threshold is None else threshold
    if gold_dir is not None:
        _score_gold(obj, cfg, gold_dir, split, backend, model, limit, threshold, as_json)
        return
    with obj.store(create=False) as store:
        if not store.has_modules("dialog"):
            raise TwinforgeError(f"no modules in {store.workspace}", "run `twinforge distill` first")
        scores = quality.score_store(store, threshold)
        titles = {m["id"]: m["title"] for m in export.listing(store)}
    summary = quality.summary(scores)
    if as_json:
        click.echo(json.dumps({"threshold": threshold, "overall": summary,
                               "modules": [s.as_dict() | {"title": titles.get(s.module_id, "")} for s in scores]},
                              ensure_ascii=False, indent=2))
        return
    click.echo(f"{'module':<20} {'score':>5} {'ground':>6} {'compl':>5} {'degen':>5}  {'meta-move':<19} title")
    for s in scores:
        flag = "  FLAGGED: " + "; ".join(s.reasons) if s.flagged else ""
        click.echo(f"{s.module_id:<20} {s.score:>5.2f} {s.grounding:>6.2f} {s.completeness:>5.2f} "
                   f"{s.degeneracy:>5.2f}  {s.meta_move:<19} {titles.get(s.module_id, '')[:40]}{flag}")
    click.echo("")
    for line in summary_lines(summary, threshold):
        click.echo(line)


def summary_lines(q: dict, threshold: float) -> list[str]:
    """The quality summary `distill` and `modules score` print (and the warning lines)."""
    if not q.get("modules"):
        return ["quality: no dialog modules to score"]
    grounded = "-" if q["concepts_grounded"] is None else f"{q['concepts_grounded']:.0%}"
    fw = "-" if q["function_word_concepts"] is None else f"{q['function_word_concepts']:.1%}"
    lines = [
        f"quality: {q['modules']} modules, mean score {q['score']:.2f} (grounding {q['grounding']:.2f}, "
        f"completeness {q['completeness']:.2f}, degeneracy {q['degeneracy']:.2f}); flagged {q['flagged']}"
        f" (below {threshold:.2f}, or words that are not the person's)",
        f"  phrases not the person's: {q['phrases_not_own']} ({q['phrases_from_assistant']} the assistant's); "
        f"quotes not verbatim theirs: {q['quotes_not_own']} of {q['quotes']}; concepts grounded: {grounded}, "
        f"function words or forms of address: {fw}",
        "  meta-moves: " + ", ".join(f"{k} {v}" for k, v in q["meta_moves"].items())
        + (f"; near copies: {q['near_copies']}" if q["near_copies"] else ""),
    ]
    if q["meta_move_collapse"]:
        lines.append(f"warning: {q['top_meta_move_share']:.0%} of the modules have one meta-move "
                     f"({q['top_meta_move']}): the meta-move layer says nothing")
    if q["flagged"]:
        lines.append(f"warning: {q['flagged']} modules flagged — `twinforge rejects --reason module-flagged` lists "
                     "them with the reason; expand leaves them out (expand.skip_flagged)")
    return lines


def _score_gold(obj: Ctx, cfg, gold_dir: Path, split: str, backend: str | None, model: str | None,
                limit: int | None, threshold: float, as_json: bool) -> None:
    dialogs = [g for g in gold.load_gold(gold_dir) if split == "all" or g.split == split]
    if limit:
        dialogs = dialogs[:limit]
    if not dialogs:
        raise TwinforgeError(f"no {split} dialogs in {gold_dir}", "pick another --split")
    cfg.backend = cfg.backend.overridden(backend, model)
    with obj.store(create=True) as store:  # the workspace only holds the call cache here
        result = gold.evaluate(store, dialogs, cfg, get_backend(cfg.backend), threshold)
    if as_json:
        click.echo(json.dumps(result | {"threshold": threshold}, ensure_ascii=False, indent=2))
        return
    who = result["backend"] + (f" ({result['model']})" if result["model"] != result["backend"] else "")
    click.echo(f"labelled set {gold_dir}: {len(dialogs)} dialogs — backend {who}, prompt {result['prompt_version']};"
               f" backend calls {result['calls']}, cache hits {result['cache_hits']}")
    for name, f in result["splits"].items():
        q = f["quality"]
        note = " (the reported figures)" if name == "heldout" else " (for tuning only)"
        click.echo(f"\n{name}{note}: {f['dialogs']} dialogs, {f['failed']} failed")
        click.echo(f"  concepts (lemma): precision {_pct(f['concept_precision'])}, recall "
                   f"{_pct(f['concept_recall'])}{_target(f['concept_recall'], gold.TARGETS['concept_recall'])}")
        click.echo(f"  meta-move accuracy {_pct(f['meta_move_accuracy'])}"
                   f"{_target(f['meta_move_accuracy'], gold.TARGETS['meta_move_accuracy'])}")
        click.echo(f"  axis recall {_pct(f['axis_recall'])} of {f['axes']}"
                   f"{_target(f['axis_recall'], gold.TARGETS['axis_recall'])}; inversions {_pct(f['inversion_recall'])}"
                   f" of {f['inversions']}; hypotheses {_pct(f['hypothesis_recall'])} of {f['hypotheses']};"
                   f" transition rules {_pct(f['transition_rule_recall'])} of {f['transition_rules']}")
        if q["modules"]:
            bad = q["phrases_not_own"] + q["quotes_not_own"]
            fw = q["function_word_concepts"] or 0.0
            click.echo(f"  phrases or quotes not the person's: {bad} (target 0); function-word concepts "
                       f"{fw:.1%} (target ≤ {gold.MAX_FUNCTION_WORD_CONCEPTS:.0%}); mean score {q['score']:.2f},"
                       f" flagged {q['flagged']}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _target(x: float | None, target: float) -> str:
    return "" if x is None else f" (target ≥ {target:.1f}: {'met' if x >= target else 'not met'})"


@cli.command()
@json_option("One JSON object per line, with the raw answer.")
@click.pass_obj
def failures(obj: Ctx, as_json: bool) -> None:
    """Model answers distill could not use even after repair and a retry, with the error and the raw text."""
    with obj.store(create=False) as store:
        rows = list_failures(store)
    for f in rows:
        if as_json:
            click.echo(json.dumps(f, ensure_ascii=False))
        else:
            raw = " ".join(f["raw"].split())
            click.echo(f"{f['conversation_id']} [{(f['title'] or '')[:40]}] chunk {f['chunk']}: {f['error']}\n"
                       f"    raw: {raw[:160] + ('…' if len(raw) > 160 else '') or '(no answer)'}")
    if not as_json:
        click.echo(f"{len(rows)} failed answers" + (" — change the model or prompt and run `twinforge distill`"
                                                    if rows else ""))
