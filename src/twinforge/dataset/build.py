"""Build `<workspace>/datasets/<name>/` from the `examples` table that `twinforge expand` writes.

The folder is assembled in a temporary sibling and swapped in whole, so an interrupted build leaves the previous
dataset intact. Its inputs (examples, config, system prompt, tokenizer, this code's version) hash to a signature
kept in the `datasets` table: an unchanged signature with unchanged files is a no-op, and a rebuild from the same
inputs writes the same bytes, so the dataset hash an adapter records stays meaningful.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..errors import ConfigError, TwinforgeError
from ..expand import volume
from ..expand.config import GENERATED_VIEWS
from ..expand.views import VIEWS
from ..store import Store
from ..store.db import now_iso
from . import alpaca, card, hf, jsonl, sharegpt, stats
from .config import DatasetConfig
from .split import split_conversations

VERSION = 2  # bump when what a build writes changes for the same inputs
SPLIT_FILES = ("train.jsonl", "val.jsonl")


@dataclass
class DatasetReport:
    name: str
    path: Path
    hash: str
    signature: str
    unchanged: bool
    stats: dict
    problems: list[str] = field(default_factory=list)  # split adjustments, dropped duplicates, malformed rows

    @property
    def train_examples(self) -> int:
        return self.stats["splits"]["train"]["examples"]

    @property
    def val_examples(self) -> int:
        return self.stats["splits"]["val"]["examples"]

    def as_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "hash": self.hash, "unchanged": self.unchanged,
                "problems": self.problems, **self.stats}


def content_hash(folder: Path) -> str:
    """sha256 of train.jsonl and val.jsonl: what the training data is, whatever else the folder holds."""
    h = hashlib.sha256()
    for f in SPLIT_FILES:
        h.update(f.encode() + b"\0")
        h.update((folder / f).read_bytes())
    return h.hexdigest()


def system_prompt(store: Store, cfg: DatasetConfig) -> str | None:
    if cfg.system_prompt is not None:
        return cfg.system_prompt.strip() or None
    if cfg.system_prompt_file:
        path = Path(cfg.system_prompt_file).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read the system prompt file {path}: {getattr(e, 'strerror', None) or e}",
                              "give a UTF-8 text file") from e
    if cfg.use_persona:
        from ..store import persona_card as persona

        text = persona.system_prompt(store)
        if not text:
            raise TwinforgeError(f"no persona card in {store.workspace}", "run `twinforge persona` first")
        return text.strip()
    return None


def _check_views(cfg: DatasetConfig) -> None:
    known = [*VIEWS, *GENERATED_VIEWS]  # the template views and the model-written ones
    for key, names in (("views", cfg.views or []), ("mix", list(cfg.mix))):
        unknown = [v for v in names if v not in known]
        if unknown:
            raise ConfigError(f"unknown view(s) in dataset.{key}: {', '.join(unknown)}",
                              f"available: {', '.join(known)}")


def _load(store: Store, cfg: DatasetConfig) -> list[dict]:
    has = store.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'examples'").fetchone()
    rows = store.db.execute(
        "SELECT e.id, e.module_id, e.view, e.messages, m.conversation_id FROM examples e"
        " JOIN modules m ON m.id = e.module_id ORDER BY e.module_id, e.view, e.position").fetchall() if has else []
    if not rows:
        raise TwinforgeError(f"no training examples in {store.workspace}", "run `twinforge expand` first")
    wanted = set(cfg.views) if cfg.views else None
    return [{"messages": orjson.loads(r["messages"]),
             "meta": {"example_id": r["id"], "module_id": r["module_id"], "conversation_id": r["conversation_id"],
                      "view": r["view"]}}
            for r in rows if wanted is None or r["view"] in wanted]


def _well_formed(messages: list[dict]) -> bool:
    """user, assistant, user, …, assistant, every content a non-empty string: what every exporter can carry."""
    roles = [m.get("role") for m in messages]
    return (len(roles) >= 2 and len(roles) % 2 == 0
            and all(r == ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(roles))
            and all(isinstance(m.get("content"), str) and m["content"].strip() for m in messages))


def _prepare(examples: list[dict], cfg: DatasetConfig, system: str | None, problems: list[str]) -> list[dict]:
    seen: set[bytes] = set()
    out, malformed, duplicates = [], 0, 0
    for e in examples:
        msgs = [{"role": m.get("role"), "content": m.get("content")} for m in e["messages"]]
        if not _well_formed(msgs):
            malformed += 1
            continue
        key = hashlib.sha1(orjson.dumps(msgs)).digest()
        if cfg.dedupe and key in seen:
            duplicates += 1
            continue
        seen.add(key)
        out.append({"messages": ([{"role": "system", "content": system}] if system else []) + msgs,
                    "meta": e["meta"]})
    if malformed:
        problems.append(f"{malformed} example(s) skipped: roles not user/assistant alternating, or empty text")
    if duplicates:
        problems.append(f"{duplicates} exact duplicate example(s) dropped")
    return out


def mix(examples: list[dict], cfg: DatasetConfig, problems: list[str]) -> list[dict]:
    """The views named in cfg.mix sampled down to their weights' proportions, as many as that allows: the view
    with the fewest examples for its weight is kept whole, the others cut. Which examples stay is decided by a
    hash of the split seed and the example id, so a rebuild keeps the same ones and a grown archive mostly too."""
    if not cfg.mix:
        return examples
    have: dict[str, int] = {}
    for e in examples:
        have[e["meta"]["view"]] = have.get(e["meta"]["view"], 0) + 1
    weighted = {v: w for v, w in cfg.mix.items() if w > 0 and have.get(v)}
    scale = min((have[v] / w for v, w in weighted.items()), default=0.0)
    keep = {v: int(scale * w + 1e-9) for v, w in weighted.items()}
    chosen: set[str] = set()
    for v, k in keep.items():
        ids = [e["meta"]["example_id"] for e in examples if e["meta"]["view"] == v]
        chosen.update(sorted(ids, key=lambda i: hashlib.sha1(f"{cfg.split_seed}\0{i}".encode()).digest())[:k])
    out = [e for e in examples if e["meta"]["view"] not in cfg.mix or e["meta"]["example_id"] in chosen]
    cut = {v: (keep.get(v, 0), have[v]) for v in cfg.mix if have.get(v) and keep.get(v, 0) < have[v]}
    if cut:
        problems.append("mix: " + ", ".join(f"{v} {k:,} of {n:,}" for v, (k, n) in cut.items()) + " kept")
    return out


def _signature(examples: list[dict], cfg: DatasetConfig, system: str | None, name: str) -> str:
    h = hashlib.sha256()
    h.update(orjson.dumps({"version": VERSION, "name": name, "config": cfg.model_dump(mode="json"),
                           "system": system}, option=orjson.OPT_SORT_KEYS))
    if cfg.tokenizer:  # a changed tokenizer changes the stats
        folder = Path(cfg.tokenizer).expanduser()
        for f in sorted(folder.glob("tokenizer*")):
            h.update(f.name.encode() + f.read_bytes())
    for e in examples:
        h.update(orjson.dumps(e))
    return h.hexdigest()


def build_dataset(store: Store, cfg: DatasetConfig | None = None, name: str = "default",
                  progress: bool = False) -> DatasetReport:
    """Write train/val JSONL (split by conversation), the exporters' folders, stats, histogram and card."""
    cfg = cfg or DatasetConfig()
    folder = store.ws.dataset(name)
    _check_views(cfg)
    system = system_prompt(store, cfg)
    problems: list[str] = []
    examples = mix(_prepare(_load(store, cfg), cfg, system, problems), cfg, problems)
    if not examples:
        where = f" in views {', '.join(cfg.views)}" if cfg.views else ""
        raise TwinforgeError(f"no examples left for the dataset{where}",
                             "check dataset.views, or run `twinforge expand`")
    signature = _signature(examples, cfg, system, name)
    done = store.db.execute("SELECT hash, stats FROM datasets WHERE name = ? AND signature = ?",
                            (name, signature)).fetchone()
    if done and all((folder / f).is_file() for f in SPLIT_FILES) and content_hash(folder) == done["hash"]:
        return DatasetReport(name, folder, done["hash"], signature, True, orjson.loads(done["stats"]),
                             [f"unchanged since the last build ({len(examples)} examples)"])
    tok = stats.tokenizer(cfg.tokenizer)
    run_id = store.start_run("dataset", {"name": name, **cfg.model_dump(mode="json")})
    try:
        report = _write(store, cfg, name, folder, examples, system, signature, tok, problems, progress)
    except BaseException as e:
        store.finish_run(run_id, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e))
        raise
    with store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO datasets (name, path, hash, signature, config, stats, train_examples,"
                   " val_examples, created_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (name, str(folder), report.hash, signature, cfg.model_dump_json(),
                    orjson.dumps(report.stats).decode(), report.train_examples, report.val_examples, now_iso(),
                    run_id))
    store.finish_run(run_id, "ok", {"name": name, "hash": report.hash, "examples": report.stats["total"]["examples"]})
    return report


def _write(store: Store, cfg: DatasetConfig, name: str, folder: Path, examples: list[dict], system: str | None,
           signature: str, tok: stats.Tokenizer, problems: list[str], progress: bool) -> DatasetReport:
    split = split_conversations([e["meta"]["conversation_id"] for e in examples], cfg.val_fraction, cfg.split_seed)
    if split.adjusted:
        problems.append(split.adjusted)
    side = split.side()
    splits = {"train": [e for e in examples if side[e["meta"]["conversation_id"]] == "train"],
              "val": [e for e in examples if side[e["meta"]["conversation_id"]] == "val"]}
    tmp = folder.parent / f".{name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for split_name, rows in splits.items():
            jsonl.write(tmp / f"{split_name}.jsonl", rows)
        # the stats describe the files as written, so read them back rather than trusting the lists
        written = {s: list(jsonl.read(tmp / f"{s}.jsonl")) for s in splits}
        st, lengths = stats.compute(written, tok)
        _add_unique(st, store, written)
        st["val_fraction"] = cfg.val_fraction
        st["system_prompt_chars"] = len(system) if system else 0
        st["hash"] = content_hash(tmp)
        (tmp / "stats.json").write_bytes(orjson.dumps(st, option=orjson.OPT_INDENT_2) + b"\n")
        stats.histogram(tmp / "lengths.png", lengths, cfg.histogram_bins, f"{name}: tokens per example ({tok.name})")
        if "sharegpt" in cfg.formats:
            sharegpt.export(tmp / "sharegpt", written, name)
        if "alpaca" in cfg.formats:
            alpaca.export(tmp / "alpaca", written, name)
        languages = sorted({r[0][:2] for r in store.db.execute(
            "SELECT DISTINCT language FROM examples WHERE language IS NOT NULL AND language != ''")})
        readme = card.render(name, st, languages, system, cfg.val_fraction, cfg.formats, signature)
        (tmp / "README.md").write_text(readme, encoding="utf-8")
        if "hf" in cfg.formats:
            hf.export(tmp / "hf", written, progress)
            (tmp / "hf" / "README.md").write_text(readme, encoding="utf-8")
        _swap(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return DatasetReport(name, folder, st["hash"], signature, False, st, problems)


def _add_unique(st: dict, store: Store, written: dict[str, list[dict]]) -> None:
    """Unique pages (expand/volume.py's one definition) in total and beside each view's pages."""
    u = volume.unique_of(store.db, [e for rows in written.values() for e in rows])
    st["total"] |= {"pages_in": u["pages_in"], "unique_pages": u["unique_pages"], "unique_ratio": u["unique_ratio"]}
    for v, b in st["views"].items():
        b["unique_pages"] = u["views"].get(v)
    st["unique_definition"] = u["definition"]


def _swap(tmp: Path, folder: Path) -> None:
    """Replace the folder with the freshly built one (two renames; the old copy is removed last)."""
    old = folder.parent / f".{folder.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
