"""The clean stage: every message gets a verdict (kept, or why not) and kept dialog gets its cleaned text.

Order of work, which is also the order of the funnel:
  structural   non-dialog kinds and other branches are set aside (kept in the store, with their kind as reason)
  chatter      each conversation is judged substance or chatter (verdicts cached by content signature)
  boilerplate  assistant flattery, closing offers and decoration lines are stripped (spans recorded)
  redaction    secrets and personal data become typed placeholders, before any later stage sees the text
  duplicates   exact and near-duplicate messages of the same role keep their best copy, the others link to it
  overrides    the person's own keep/drop decisions, applied last so they survive every re-run
Conversations stream through in chunks, so memory holds one chunk of text plus a small record and a MinHash
signature per message. Everything is recomputed from the ingested messages inside one transaction: a re-run is
idempotent, an interrupted run leaves the previous results, and a dry run rolls back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import orjson
from tqdm import tqdm

from ..orphans import die_with_parent, forking_from_main
from ..store import Store
from ..store.db import now_iso
from ..text import language, secrets
from ..text.language import detect as detect_language
from ..text.spans import Span
from ..text.tokens import count_tokens_batch
from ..volume import fill_token_counts
from . import boilerplate, chatter, dedupe
from .config import CleanConfig
from .judge import LLMJudge

KEPT, KEPT_BY_USER = "kept", "kept-by-user"
CHATTER, EMPTY, DUPLICATE, NEAR_DUPLICATE, DROPPED = "chatter", "empty", "duplicate", "near-duplicate", "dropped-by-user"
OTHER_BRANCH = "other-branch"
# Reasons decided by ingest's structure (kind, branch) rather than by clean's judgement.
STRUCTURAL = ("hidden", "system", "tool", "reasoning", "custom-instructions", "memory", OTHER_BRANCH)
# Reasons a keep override can undo.
OVERRIDABLE = (CHATTER, EMPTY, DUPLICATE, NEAR_DUPLICATE, DROPPED)
CHUNK_MESSAGES = 2000  # conversations are read in chunks of about this many dialog messages


@dataclass(slots=True)
class _Msg:
    """One dialog message while its chunk is processed; only `_Slim` outlives the chunk."""

    id: str
    conversation_id: str
    role: str
    text: str  # cleaned so far
    created_at: float | None
    lossy: bool
    keep: bool = True
    reason: str = KEPT
    score: float | None = None
    language: str | None = None
    chars_stripped: int = 0
    tokens_stripped: int | None = None  # None: unchanged by boilerplate, the raw count stands
    tokens: int | None = None  # of the final text; None: unchanged by redaction
    stripped: list = field(default_factory=list)
    redacted: list = field(default_factory=list)


@dataclass(slots=True)
class _Slim:
    """What deduplication needs of a kept message after its text has left memory."""

    id: str
    role: str
    lossy: bool
    length: int
    created_at: float | None


@dataclass
class CleanReport:
    reasons: Counter = field(default_factory=Counter)  # message reason -> count
    conversations: Counter = field(default_factory=Counter)  # substance / chatter
    stripped_spans: Counter = field(default_factory=Counter)  # boilerplate kind -> count
    redactions: Counter = field(default_factory=Counter)  # secret kind -> count
    verdicts_reused: int = 0
    judged: int = 0  # conversations the LLM judge gave a second opinion on
    samples: list[dict] = field(default_factory=list)  # before -> after, for --dry-run

    def as_dict(self) -> dict:
        return {
            "messages_by_reason": dict(self.reasons),
            "conversations": dict(self.conversations),
            "boilerplate_spans": dict(self.stripped_spans),
            "redactions": dict(self.redactions),
            "verdicts_reused": self.verdicts_reused,
            "judged": self.judged,
            "samples": self.samples,
        }


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction to roll it back."""


def clean(store: Store, cfg: CleanConfig | None = None, progress: bool = False, dry_run: bool = False,
          samples: int = 5) -> CleanReport:
    """Run the clean stage over everything ingested. With dry_run, compute and report but write nothing."""
    cfg = cfg or CleanConfig()
    report = CleanReport()
    run_id = None if dry_run else store.start_run("clean", cfg.model_dump())
    try:
        judge = _ChatterJudge(cfg, report)  # loads the embedder before workers fork: they share it
        dd = _Dedupe(cfg)
        if not dry_run:
            fill_token_counts(store, progress)  # cached here, by a writer: `stats` and `funnel` only read
        try:
            with store.transaction() as db:
                judge.load(db)  # inside the transaction: a concurrent ingest cannot change what it read
                db.execute("DELETE FROM clean_messages")
                db.execute("DELETE FROM clean_conversations")
                _write_structural(db, run_id)
                total = db.execute("SELECT count(*) FROM messages WHERE kind = 'dialog' AND canonical = 1").fetchone()[0]
                bar = tqdm(total=total, desc="clean", unit="msg", disable=not progress, leave=False)
                with bar, _workers() as pool:  # workers end here, before deduplication needs the memory
                    pending: deque = deque()
                    for chunk in _chunks(store):
                        # workers clean this chunk's text while this process judges its conversations
                        pending.append((chunk, pool.submit(_work, chunk, cfg)))
                        judge(chunk)
                        while len(pending) > 1 or (pending and pending[0][1].done()):
                            bar.update(_finish(db, *pending.popleft(), judge, dd, report, samples, run_id))
                    while pending:
                        bar.update(_finish(db, *pending.popleft(), judge, dd, report, samples, run_id))
                judge.write(db, run_id)
                if cfg.dedupe:
                    dd.apply(db)
                _apply_overrides(db)
                report.reasons.update(dict(db.execute("SELECT reason, count(*) FROM clean_messages GROUP BY reason")))
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        if run_id is not None:
            store.finish_run(run_id, "ok", report.as_dict() | {"samples": len(report.samples)})
    except BaseException as e:
        if run_id is not None:
            store.finish_run(run_id, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e))
        raise
    return report


class _Inline:
    """A one-core stand-in for a process pool: runs each job when submitted."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def submit(self, fn, *args) -> Future:
        f: Future = Future()
        f.set_result(fn(*args))
        return f


def _workers():
    """Processes for the per-message work (language, boilerplate, redaction, hashing): one per core.

    The tokenizer, the language model and the duplicate finder's tables are loaded here first, so the forked
    workers share one copy instead of each building its own (~200 MB apiece, measured)."""
    n = os.cpu_count() or 1
    if n < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return _Inline()
    count_tokens_batch(["warm"])
    language.warm()
    dedupe.warm()
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"),
                               initializer=die_with_parent, initargs=(forking_from_main(),))


@dataclass
class _Worked:
    """A chunk after the per-message work, as it comes back from a worker."""

    msgs: list[_Msg]
    stripped: Counter
    redactions: Counter
    keys: list  # exact-duplicate key per message
    sig: np.ndarray  # MinHash signatures of the messages long enough to judge
    sig_index: np.ndarray  # their positions in msgs


def _work(chunk: list[_Msg], cfg: CleanConfig) -> _Worked:
    """Everything per message that needs no database and no other message: runs in a worker process."""
    report = CleanReport()
    _language(chunk)
    _text(chunk, cfg, report, threads=1)
    texts = [m.text for m in chunk]
    keys: list = dedupe.exact_keys(texts) if cfg.dedupe else [None] * len(chunk)
    sig, index = _near(cfg).signatures(texts) if cfg.dedupe else (np.zeros((0, 1), np.uint32), np.zeros(0, int))
    return _Worked(chunk, report.stripped_spans, report.redactions, keys, sig, index)


def _near(cfg: CleanConfig) -> dedupe.NearDuplicates:
    return dedupe.NearDuplicates(threshold=cfg.near_duplicate_threshold, min_words=cfg.near_duplicate_min_words)


def _finish(db, raw: list[_Msg], future: Future, judge: _ChatterJudge, dd: _Dedupe, report: CleanReport,
            samples: int, run_id: int | None) -> int:
    """Verdicts for a worked chunk (chatter, empty), its rows written, its duplicates' material kept."""
    w: _Worked = future.result()
    report.stripped_spans.update(w.stripped)
    report.redactions.update(w.redactions)
    for m in w.msgs:
        label, score = judge.verdicts[m.conversation_id][:2]
        if label == "chatter":
            m.keep, m.reason, m.score = False, CHATTER, score
        elif not m.text.strip():
            m.keep, m.reason = False, EMPTY
    for before, m in zip(raw, w.msgs):
        if len(report.samples) < samples and m.keep and (m.stripped or m.redacted):
            report.samples.append({"message_id": m.id, "before": before.text, "after": m.text,
                                   "stripped": [s["kind"] for s in m.stripped],
                                   "redacted": [s["kind"] for s in m.redacted]})
    _write_chunk(db, w.msgs, run_id)
    dd.add(w)
    return len(w.msgs)


def clean_messages(store: Store, cfg: CleanConfig | None = None) -> CleanReport:
    """The clean stage as benchmarks call it (no progress bars)."""
    return clean(store, cfg)


# --- reading ---------------------------------------------------------------------------------------------


def _chunks(store: Store) -> Iterator[list[_Msg]]:
    """Canonical dialog messages, whole conversations at a time, about CHUNK_MESSAGES per chunk.

    Read on the writing connection, with a cursor of its own: the rows read (messages) are never the rows
    written (clean_messages), and a second connection would be locked out by the open write transaction."""
    rows = store.db.cursor().execute(
        "SELECT m.id, m.conversation_id, m.role, m.text, m.created_at, c.lossy FROM messages m"
        " JOIN conversations c ON c.id = m.conversation_id WHERE m.kind = 'dialog' AND m.canonical = 1"
        " ORDER BY m.conversation_id, m.position"
    )
    chunk: list[_Msg] = []
    for mid, cid, role, text, created, lossy in rows:
        if len(chunk) >= CHUNK_MESSAGES and cid != chunk[-1].conversation_id:
            yield chunk
            chunk = []
        chunk.append(_Msg(mid, cid, role, text, created, bool(lossy)))
    if chunk:
        yield chunk


def _language(chunk: list[_Msg]) -> None:
    for m in chunk:
        m.language = detect_language(m.text)


# --- chatter ---------------------------------------------------------------------------------------------


class _ChatterJudge:
    """Substance or chatter per conversation, reusing a stored verdict while the conversation is unchanged."""

    BATCH = 256

    def __init__(self, cfg: CleanConfig, report: CleanReport):
        self.enabled = cfg.chatter
        self.report = report
        self.verdicts: dict[str, tuple] = {}
        self.hashes: dict[str, str] = {}
        self.titles: dict[str, str] = {}
        self.cached: dict[str, tuple] = {}
        if not self.enabled:
            return
        kwargs = {"threshold": cfg.chatter_threshold} if cfg.chatter_threshold is not None else {}
        self.classifier = chatter.ChatterClassifier(**kwargs)
        self.llm = LLMJudge(cfg.judge) if cfg.judge.enabled else None
        self.version = f"{chatter.VERSION}:{self.classifier.threshold:.4f}" + (
            f":{self.llm.signature}" if self.llm else "")

    def load(self, db) -> None:
        """Conversation hashes, titles and stored verdicts: read in the stage's transaction, the same snapshot
        its messages come from."""
        self.hashes = dict(db.execute("SELECT id, content_hash FROM conversations"))
        self.titles = dict(db.execute("SELECT id, title FROM conversations"))
        if self.enabled:
            self.cached = {
                r["conversation_id"]: (r["label"], r["score"], r["reason"], r["signature"])
                for r in db.execute("SELECT * FROM clean_conversations")
            }

    def __call__(self, chunk: list[_Msg]) -> None:
        by_conv: dict[str, list[_Msg]] = {}
        for m in chunk:
            by_conv.setdefault(m.conversation_id, []).append(m)
        if not self.enabled:
            for cid in by_conv:
                self.verdicts[cid] = ("substance", 0.0, "chatter filter off", "off")
            return
        todo = []
        for cid in by_conv:
            sig = f"{self.hashes[cid]}:{self.version}"
            if cid in self.cached and self.cached[cid][3] == sig:
                self.verdicts[cid] = self.cached[cid]
                self.report.verdicts_reused += 1
            else:
                todo.append(cid)
        for i in range(0, len(todo), self.BATCH):
            ids = todo[i : i + self.BATCH]
            samples = [
                chatter.Sample(
                    title=self.titles[cid],
                    user=[m.text for m in by_conv[cid] if m.role == "user"],
                    assistant=[m.text for m in by_conv[cid] if m.role == "assistant"],
                )
                for cid in ids
            ]
            verdicts = self.classifier.classify(samples)
            for cid, v in zip(ids, verdicts):
                self.verdicts[cid] = (v.label, float(v.score), v.reason, f"{self.hashes[cid]}:{self.version}")
            if self.llm:
                self._second_opinion(ids, samples, verdicts)
        for cid in by_conv:
            self.report.conversations[self.verdicts[cid][0]] += 1

    def _second_opinion(self, ids: list[str], samples: list, verdicts: list) -> None:
        unsure = [i for i, v in enumerate(verdicts) if self.llm.wants(v.score)]
        for i, answer in zip(unsure, self.llm.judge([samples[i] for i in unsure])):
            cid, v = ids[i], verdicts[i]
            if isinstance(answer, str):  # no usable answer: the classifier's verdict stands
                reason = f"{v.reason}; {answer}"
                label = v.label
            else:
                label, why = answer
                reason = f"LLM judge ({self.llm.backend.model}): {why}; classifier {v.score:.2f}: {v.reason}"
            self.verdicts[cid] = (label, float(v.score), reason, self.verdicts[cid][3])
            self.report.judged += 1

    def write(self, db, run_id: int | None) -> None:
        db.executemany("INSERT INTO clean_conversations VALUES (?, ?, ?, ?, ?, ?)",
                       [(cid, *v, run_id) for cid, v in self.verdicts.items()])


# --- text: boilerplate, redaction ------------------------------------------------------------------------


def _span_json(spans: Iterable[Span], text: str | None) -> list[dict]:
    # Boilerplate spans keep their text so the person can see what went; redactions never keep the secret.
    return [
        {"kind": s.kind, "start": s.start, "end": s.end, **({"text": text[s.start : s.end]} if text else {})}
        for s in spans
    ]


def _text(chunk: list[_Msg], cfg: CleanConfig, report: CleanReport, threads: int | None = None) -> None:
    kinds = set(cfg.redact_kinds) if cfg.redact_kinds else None
    # Tokens are counted only for text that changed (in one batch per chunk); unchanged text keeps the raw
    # message's count, which clean caches first (fill_token_counts) for the accounting (stats, funnel).
    to_count: list[tuple[_Msg, str, str]] = []  # (message, attribute, text)
    for m in chunk:
        if cfg.boilerplate and m.role == "assistant":
            stripped, spans = boilerplate.strip(m.text)
            if spans:
                m.stripped = _span_json(spans, m.text)
                report.stripped_spans.update(s.kind for s in spans)
                m.text = stripped
                to_count.append((m, "tokens_stripped", stripped))
        m.chars_stripped = len(m.text)
        if cfg.redact:
            redacted, spans = secrets.redact(m.text, kinds)
            if spans:
                m.redacted = _span_json(spans, None)
                report.redactions.update(s.kind for s in spans)
                m.text = redacted
                to_count.append((m, "tokens", redacted))
    for (m, attr, _), n in zip(to_count, count_tokens_batch([t for _, _, t in to_count], threads)):
        setattr(m, attr, n)


# --- writing ---------------------------------------------------------------------------------------------


def _write_structural(db, run_id: int | None) -> None:
    db.execute(
        "INSERT INTO clean_messages (message_id, conversation_id, keep, reason, text, run_id)"
        " SELECT id, conversation_id, 0, CASE WHEN kind != 'dialog' THEN kind ELSE ? END, '', ?"
        " FROM messages WHERE NOT (kind = 'dialog' AND canonical = 1)",
        (OTHER_BRANCH, run_id),
    )


def _write_chunk(db, chunk: list[_Msg], run_id: int | None) -> None:
    db.executemany(
        "INSERT INTO clean_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                m.id, m.conversation_id, int(m.keep), m.reason, m.score, None, m.language, m.text,
                m.chars_stripped, m.tokens_stripped, len(m.text), m.tokens,
                orjson.dumps(m.stripped).decode() if m.stripped else None,
                orjson.dumps(m.redacted).decode() if m.redacted else None,
                run_id,
            )
            for m in chunk
        ],
    )


# --- duplicates ------------------------------------------------------------------------------------------


def _best_first(ix: list[int], slims: list[_Slim]) -> list[int]:
    """The copy to keep first: from a lossless source, then the longest, then the earliest."""
    return sorted(ix, key=lambda i: (slims[i].lossy, -slims[i].length, slims[i].created_at or 0.0, slims[i].id))


class _Dedupe:
    """Collects what deduplication needs of each kept message, chunk by chunk; decides once all are in."""

    def __init__(self, cfg: CleanConfig):
        self.enabled = cfg.dedupe
        self.near = _near(cfg)
        self.slims: list[_Slim] = []
        self.keys: list = []
        self.sigs: list[np.ndarray] = []
        self.sig_rows: list[np.ndarray] = []

    def add(self, w: _Worked) -> None:
        if not self.enabled:
            return
        row_of = np.full(len(w.msgs), -1)  # chunk position -> row among kept messages
        for pos, m in enumerate(w.msgs):
            if m.keep:
                row_of[pos] = len(self.slims)
                self.slims.append(_Slim(m.id, m.role, m.lossy, len(m.text), m.created_at))
                self.keys.append(w.keys[pos])
        rows = row_of[w.sig_index] if len(w.sig_index) else np.zeros(0, dtype=int)
        self.sigs.append(w.sig[rows >= 0])
        self.sig_rows.append(rows[rows >= 0])

    def apply(self, db) -> None:
        """Exact groups by normalized-text key, then near-duplicate clusters by MinHash, within one role."""
        slims = self.slims
        dropped: dict[int, tuple[str, str, float]] = {}  # slim index -> (reason, kept id, similarity)
        for role in ("user", "assistant"):
            mine = [i for i, s in enumerate(slims) if s.role == role]
            for group in dedupe.group_keys([self.keys[i] for i in mine]):
                best, *rest = _best_first([mine[j] for j in group], slims)
                for i in rest:
                    dropped[i] = (DUPLICATE, slims[best].id, 1.0)
        if self.sigs:
            sig, rows = np.concatenate(self.sigs), np.concatenate(self.sig_rows)
            for role in ("user", "assistant"):
                sel = np.array([slims[r].role == role and r not in dropped for r in rows.tolist()], dtype=bool)
                if sel.sum() < 2:
                    continue
                role_rows = rows[sel]
                for cluster in self.near.clusters(sig[sel]):
                    members = {int(role_rows[r]): sim for r, sim in cluster}
                    best, *rest = _best_first(list(members), slims)
                    for i in rest:
                        dropped[i] = (NEAR_DUPLICATE, slims[best].id, members[i])
        db.executemany(
            "UPDATE clean_messages SET keep = 0, reason = ?, duplicate_of = ?, score = ? WHERE message_id = ?",
            [(reason, kept, sim, slims[i].id) for i, (reason, kept, sim) in dropped.items()],
        )


# --- overrides -------------------------------------------------------------------------------------------


def _override_sql(db, where: str, arg: str, keep: bool) -> None:
    if keep:
        marks = ",".join("?" * len(OVERRIDABLE))
        db.execute(f"UPDATE clean_messages SET keep = 1, reason = ? WHERE {where} AND reason IN ({marks})",
                   (KEPT_BY_USER, arg, *OVERRIDABLE))
    else:
        marks = ",".join("?" * len(STRUCTURAL))
        db.execute(f"UPDATE clean_messages SET keep = 0, reason = ? WHERE {where} AND reason NOT IN ({marks})",
                   (DROPPED, arg, *STRUCTURAL))


def _apply_overrides(db) -> None:
    """Conversation decisions first, then message decisions, so a message's own decision wins."""
    rows = db.execute("SELECT record_id, record_type, keep FROM overrides ORDER BY record_type = 'message'")
    for record_id, rtype, keep in rows.fetchall():
        column = "conversation_id" if rtype == "conversation" else "message_id"
        _override_sql(db, f"{column} = ?", record_id, bool(keep))


def set_override(store: Store, record_id: str, keep: bool, note: str | None = None) -> str:
    """Record the person's keep/drop for a conversation or a dialog message and apply it now.

    Returns the record type. Raises LookupError when the id is unknown or not a dialog message.
    """
    if store.db.execute("SELECT 1 FROM conversations WHERE id = ?", (record_id,)).fetchone():
        rtype, column = "conversation", "conversation_id"
    else:
        row = store.db.execute("SELECT kind, canonical FROM messages WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise LookupError(f"no conversation or message with id {record_id!r}")
        if row["kind"] != "dialog" or not row["canonical"]:
            what = row["kind"] if row["kind"] != "dialog" else "on another branch"
            raise LookupError(f"message {record_id} is {what}; only dialog messages of the displayed branch"
                              " can be kept or dropped")
        rtype, column = "message", "message_id"
    with store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?, ?)",
                   (record_id, rtype, int(keep), note, now_iso()))
        _override_sql(db, f"{column} = ?", record_id, keep)
    return rtype
