"""Chained training (`train --batch-lines N --chain`): batch k is trained after batch k-1, not on the bare base,
so the twin grows scene by scene; the forgetting gate checks each batch against the chain before it.

Two modes (`chain_mode`):
- stack (the default): batch k is a new adapter trained over all earlier accepted batches kept frozen (the
  `on_top_of` machinery; loading the top one brings the stack underneath). On the sample archive it kept more of
  the earlier batches and of general text than continue (README, bench/chain.py);
- continue: batch k's adapter starts from batch k-1's weights and goes on training (a new registry entry; one
  adapter to load, of the same size however long the chain).

Each batch folder keeps train.jsonl (its own examples plus replay, see replay.py) and chain.json: the chain, the
batch it was trained after, the hash of its own examples, the replay counts, and the gate's figures and verdict.
A re-run walks the chain again: a batch whose chain.json holds the same data hash and parent is skipped (a
rejected one stays rejected), an unfinished one resumes from its last step checkpoint (sft.py), so a killed chain
goes on where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..adapters import registry
from ..errors import ConfigError, TwinforgeError
from ..models.stack import META
from .forgetting import GateSets, Meter, batch_probes, change, every, judge
from .replay import mix
from .sft import TrainArgs, TrainResult, finished_result, train_adapter


@dataclass
class ChainRow:
    id: str
    status: str  # ok | flagged | rejected | failed | stopped; `skipped` is `done_before`
    parent: str | None
    examples: dict = field(default_factory=dict)  # own / earlier / general counts
    before: dict = field(default_factory=dict)  # the chain's figures before this batch (its parent's)
    after: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    result: TrainResult | None = None
    error: str | None = None
    done_before: bool = False  # finished by an earlier run: skipped by its data hash

    def as_dict(self) -> dict:
        return {"id": self.id, "status": self.status, "parent": self.parent, "examples": self.examples,
                "before": self.before, "after": self.after, "problems": self.problems, "error": self.error,
                "done_before": self.done_before}


@dataclass
class ChainReport:
    mode: str
    replay: float
    gate: str
    rows: list[ChainRow] = field(default_factory=list)

    @property
    def accepted(self) -> list[str]:
        return [r.id for r in self.rows if r.status in ("ok", "flagged")]

    def table(self) -> str:
        """One row per batch: what it gained (held-out, its own batch) and what it cost (control, earlier)."""
        head = ("batch", "status", "own+replay", "held-out ppl", "own batch ppl", "control ppl", "worst earlier batch")
        lines = [head]
        for r in self.rows:
            ex = r.examples
            worst = _worst_earlier(r)
            lines.append((r.id + (" (done before)" if r.done_before else ""), r.status,
                          f"{ex.get('own', 0)}+{ex.get('earlier', 0) + ex.get('general', 0)}" if ex else "–",
                          change(r.before.get("heldout"), r.after.get("heldout")),
                          change(r.before.get(f"batch:{r.id}"), r.after.get(f"batch:{r.id}")),
                          change(r.before.get("control"), r.after.get("control")), worst))
        widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
        out = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in lines]
        out.insert(1, "  ".join("-" * w for w in widths))
        notes = [f"  {r.id}: {p}" for r in self.rows for p in r.problems] + \
                [f"  {r.id}: {r.error}" for r in self.rows if r.error]
        return "\n".join(out + notes)

    def as_dict(self) -> dict:
        return {"mode": self.mode, "replay": self.replay, "gate": self.gate, "rows": [r.as_dict() for r in self.rows]}


def _worst_earlier(r: ChainRow) -> str:
    earlier = [(k, r.before.get(k), v) for k, v in r.after.items()
               if k.startswith("batch:") and k != f"batch:{r.id}" and v is not None and r.before.get(k)]
    if not earlier:
        return "–"
    k, was, now = max(earlier, key=lambda t: t[2] / t[1])
    return f"{k.partition(':')[2]}: {change(was, now)}"


def examples_hash(rows: list[dict]) -> str:
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def write_examples(path: Path, rows: list[dict]) -> Path:
    """JSONL, atomically; an unchanged file is left alone (keeps a resumed run's dataset hash and checkpoint)."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def train_chain(store, cfg, examples: list[dict], vals: list[dict], common: dict, prefix: str,
                progress: bool = False) -> ChainReport:
    """Trains the batches of `examples` one after another (see the module docstring); `common` = TrainArgs
    fields shared by every batch (stage.py builds it)."""
    root = store.ws.adapters
    n = cfg.batch_lines
    batches = [(f"{prefix}-batch-{i // n + 1:04d}", examples[i:i + n]) for i in range(0, len(examples), n)]
    sets = GateSets(heldout=every(vals, cfg.gate_examples))
    meter = Meter(cfg.base, sets, common["max_len"], common["batch_size"], common.get("device"))
    report = ChainReport(cfg.chain_mode, cfg.replay, cfg.gate)
    own: dict[str, list[dict]] = {}
    for k, (aid, rows) in enumerate(batches, 1):
        own[aid] = rows
        sets.batches[aid] = every(rows, cfg.gate_examples)
        sets.probes[aid] = batch_probes(store, rows, cfg.gate_probes) if cfg.gate != "off" else []
        accepted = report.accepted
        parent = accepted[-1] if accepted else None
        row = _done_before(root / aid, aid, parent, examples_hash(rows))
        if row is None:
            row = _train_batch(store, cfg, common, k, aid, rows, [x for a in accepted for x in own[a]],
                               accepted, meter, progress)
        else:
            registry.register(store, root / aid)
            meter.known[str(root / aid)] = dict(row.after)
        report.rows.append(row)
        if row.status in ("failed", "stopped"):
            break  # the next batch depends on this one: a re-run goes on from here
    return report


def _done_before(out: Path, aid: str, parent: str | None, data_hash: str) -> ChainRow | None:
    """The row of a batch an earlier run finished and judged; None when it still has to be (re)done."""
    rec = registry.read_chain(out)
    if not ((out / META).is_file() and rec.get("status")):
        return None  # not trained, or trained but killed before the gate: finish it now
    if rec.get("data_hash") != data_hash or rec.get("parent") != parent:
        what = "other examples" if rec.get("data_hash") != data_hash else f"another parent ({rec.get('parent')})"
        raise ConfigError(f"adapter {aid} holds a chained batch trained on {what}",
                          "the dataset or the chain changed: give another --name, or `twinforge adapters remove` "
                          "the chain's batches from this one on")
    gate = rec.get("gate") or {}
    return ChainRow(aid, rec["status"], parent, rec.get("examples", {}), gate.get("before", {}),
                    gate.get("after", {}), gate.get("problems", []), finished_result(out), done_before=True)


def _train_batch(store, cfg, common: dict, k: int, aid: str, rows: list[dict], earlier: list[dict],
                 accepted: list[str], meter: Meter, progress: bool) -> ChainRow:
    root = store.ws.adapters
    out = root / aid
    parent = accepted[-1] if accepted else None
    mixed, counts = mix(rows, earlier, cfg.replay, cfg.seed, k)
    args = TrainArgs(train_file=write_examples(out / "train.jsonl", mixed), out_dir=out, name=aid, kind="batch",
                     **{**common, "on_top_of": [root / a for a in accepted] if cfg.chain_mode == "stack" else [],
                        "init_from": root / parent if cfg.chain_mode == "continue" and parent else None})
    try:
        result = train_adapter(args, progress=progress)
    except TwinforgeError as e:
        return ChainRow(aid, "failed", parent, counts, error=str(e))
    if not result.finished:
        return ChainRow(aid, "stopped", parent, counts, result=result)
    before, after, problems = {}, {}, []
    if cfg.gate != "off":
        keys = meter.keys([*accepted, aid])
        before = meter.figures(root / parent if parent else None, keys)
        after = meter.figures(out, keys)
        problems = judge(before, after, aid, cfg.gate_tolerance)
    status = ("rejected" if cfg.gate == "strict" else "flagged") if problems else "ok"
    rec = {"chain": aid.rsplit("-batch-", 1)[0], "mode": cfg.chain_mode, "parent": parent,
           "data_hash": examples_hash(rows), "examples": counts, "replay": cfg.replay, "status": status,
           "gate": {"tolerance": cfg.gate_tolerance, "before": before, "after": after, "problems": problems}}
    tmp = out / f".{registry.CHAIN}.tmp"
    tmp.write_text(json.dumps(rec, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, out / registry.CHAIN)
    registry.register(store, out)
    return ChainRow(aid, status, parent, counts, before, after, problems, result)
