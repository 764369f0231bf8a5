"""`hypertrain.jsonl`: text → hyperphrase and hyperphrase → text pairs, one scene each, from the kept dialog and
the modules; split into train and val by conversation (held-out conversations are what the report measures on).

Files in `<ws>/hyper/`: `hypertrain.jsonl` (every example, `meta.split` says which side), `train.jsonl` and
`val.jsonl` (the same examples split, the shape the train stage reads), `stats.json`. Each line:
`{"messages": [{"role": "user", ...}, {"role": "assistant", ...}], "meta": {"example_id", "module_id",
"conversation_id", "message_id", "view": "hyper-encode" | "hyper-decode", "language", "split", "text",
"hyperphrase"}}`. Rebuilt whole on every run (deterministic, seconds), written to temp files then renamed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from .config import HyperConfig
from .corpus import documents, split
from .encode import HyperError, encoder_for, hyper_dir, split_scenes

# The bridge's two tasks. Short, fixed and language-neutral: a 270M model learns them from the pairs alone.
ENCODE_PROMPT = "hyper-encode:\n{text}"
DECODE_PROMPT = "hyper-decode:\n{hyperphrase}"
_LETTER = re.compile(r"[^\W\d_]")


@dataclass
class Scene:
    text: str
    hyperphrase: str
    concepts: list[str]
    language: str
    conversation_id: str
    message_id: str | None
    module_id: str | None
    split: str


@dataclass
class HyperDatasetReport:
    folder: str
    scenes: int
    examples: int
    train_examples: int
    val_examples: int
    conversations: int
    val_conversations: int
    skipped_short: int
    skipped_few_concepts: int
    chars_text: int
    chars_hyper: int

    def as_dict(self) -> dict:
        return asdict(self)


def _prose(text: str) -> bool:
    """Mostly letters: skips tables, formulas and leftovers of code."""
    if text.count("|") >= 2:  # a table row
        return False
    return len(_LETTER.findall(text)) >= 0.6 * len(text.replace(" ", ""))


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "), head.rfind("\n"))
    return head[: end + 1].strip() if end > limit // 3 else head.rsplit(" ", 1)[0]


def scenes(store, cfg: HyperConfig, progress: bool = False) -> tuple[list[Scene], dict]:
    """Every usable scene of the corpus with its hyperphrase, and counts of what was skipped."""
    docs = list(documents(store, cfg.modules))
    val = split({d.conversation_id for d in docs}, cfg.val_fraction, cfg.seed)
    enc = encoder_for(store, cfg)
    out: list[Scene] = []
    skipped = {"short": 0, "few_concepts": 0}
    seen: set[str] = set()
    for d in tqdm(docs, desc="scenes", unit="text", disable=not progress):
        # modules' sentences are scenes already; messages are split by the configured unit
        parts = [d.text.strip()] if d.module_id else split_scenes(d.text, cfg.scene)
        for part in parts:
            text = _cut(part, cfg.max_scene_chars)
            if len(text) < cfg.min_scene_chars or not _prose(text) or text in seen:
                skipped["short"] += 1
                continue
            seen.add(text)
            h = enc.encode(text, d.language if d.language in ("ru", "en") else None)
            if len(h.concepts) < 2:  # one word is not a scene worth a pair
                skipped["few_concepts"] += 1
                continue
            out.append(Scene(text, h.text, h.concepts, h.language, d.conversation_id, d.message_id, d.module_id,
                             "val" if d.conversation_id in val else "train"))
    if len(out) > cfg.max_pairs:  # keep a fixed, seed-chosen subset, in corpus order
        rank = sorted(range(len(out)), key=lambda i: _hash(f"{cfg.seed}:{out[i].text}"))[: cfg.max_pairs]
        out = [out[i] for i in sorted(rank)]
    return out, skipped


def _hash(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8", "surrogatepass")).hexdigest()


def examples(scene: Scene) -> list[dict]:
    meta = {"module_id": scene.module_id, "conversation_id": scene.conversation_id, "message_id": scene.message_id,
            "language": scene.language, "split": scene.split, "text": scene.text, "hyperphrase": scene.hyperphrase}
    enc = {"messages": [{"role": "user", "content": ENCODE_PROMPT.format(text=scene.text)},
                        {"role": "assistant", "content": scene.hyperphrase}],
           "meta": {"example_id": "he-" + _hash("enc\0" + scene.text)[:16], "view": "hyper-encode", **meta}}
    dec = {"messages": [{"role": "user", "content": DECODE_PROMPT.format(hyperphrase=scene.hyperphrase)},
                        {"role": "assistant", "content": scene.text}],
           "meta": {"example_id": "hd-" + _hash("dec\0" + scene.text)[:16], "view": "hyper-decode", **meta}}
    return [enc, dec]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)


def build_hypertrain(store, cfg: HyperConfig, progress: bool = False) -> HyperDatasetReport:
    if not (store.ws.hyper / "idf.json").is_file():
        from .vocab import build_vocab

        build_vocab(store, cfg, progress=progress)  # salience ranks by the corpus frequencies
    found, skipped = scenes(store, cfg, progress)
    if not found:
        raise HyperError(f"no scene in {store.workspace} is long enough for a pair",
                         f"lower hyper.min_scene_chars ({cfg.min_scene_chars}) or check what clean kept")
    rows = [e for s in found for e in examples(s)]
    folder = hyper_dir(store)
    train = [r for r in rows if r["meta"]["split"] == "train"]
    val = [r for r in rows if r["meta"]["split"] == "val"]
    _write_jsonl(folder / "train.jsonl", train)
    _write_jsonl(folder / "val.jsonl", val)
    _write_jsonl(folder / "hypertrain.jsonl", rows)  # last: its presence means the set is complete
    report = HyperDatasetReport(
        folder=str(folder), scenes=len(found), examples=len(rows), train_examples=len(train),
        val_examples=len(val), conversations=len({s.conversation_id for s in found}),
        val_conversations=len({s.conversation_id for s in found if s.split == "val"}),
        skipped_short=skipped["short"], skipped_few_concepts=skipped["few_concepts"],
        chars_text=sum(len(s.text) for s in found), chars_hyper=sum(len(s.hyperphrase) for s in found))
    (folder / "stats.json").write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def heldout(store, limit: int | None = None) -> list[dict]:
    """The held-out scenes (val conversations), as {text, hyperphrase, language, conversation_id, …}."""
    path = store.ws.hyper / "hypertrain.jsonl"
    if not path.is_file():
        raise HyperError(f"no {path}", "run `twinforge hyper dataset` first")
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["meta"]["view"] == "hyper-encode" and r["meta"]["split"] == "val":
                out.append(r["meta"])
    if not out:
        raise HyperError(f"{path} holds no held-out scenes",
                         "it needs two or more conversations and hyper.val_fraction > 0")
    if limit and len(out) > limit:  # an even spread over the held-out conversations, not just the first
        out = [out[i * len(out) // limit] for i in range(limit)]
    return out
