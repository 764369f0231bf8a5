"""The clean stage: every message gets a verdict (kept, or why not) and kept dialog gets its cleaned text.

Order of work, which is also the order of the funnel:
  structural   non-dialog kinds and other branches are set aside (kept in the store, with their kind as reason)
  chatter      each conversation is judged substance or chatter (verdicts cached by content signature)
  boilerplate  assistant flattery, closing offers and decoration lines are stripped (spans recorded)
  redaction    secrets and personal data become typed placeholders, before any later stage sees the text
  duplicates   exact and near-duplicate messages of the same role keep their best copy, the others link to it
  overrides    the person's own keep/drop decisions, applied last so they survive every re-run
Everything is recomputed from the ingested messages and written in one transaction, so a re-run is idempotent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
from tqdm import tqdm

from ..config import CleanConfig
from ..store import Store
from ..store.db import now_iso
from ..tokens import count_tokens
from ..volume import fill_token_counts
from . import boilerplate, chatter, dedupe, secrets
from .language import detect as detect_language
from .spans import Span

KEPT, KEPT_BY_USER = "kept", "kept-by-user"
CHATTER, EMPTY, DUPLICATE, NEAR_DUPLICATE, DROPPED = "chatter", "empty", "duplicate", "near-duplicate", "dropped-by-user"
OTHER_BRANCH = "other-branch"
# Reasons decided by ingest's structure (kind, branch) rather than by clean's judgement.
STRUCTURAL = ("hidden", "system", "tool", "reasoning", "custom-instructions", "memory", OTHER_BRANCH)
# Reasons a keep override can undo.
OVERRIDABLE = (CHATTER, EMPTY, DUPLICATE, NEAR_DUPLICATE, DROPPED)


@dataclass(slots=True)
class _Msg:
    id: str
    conversation_id: str
    role: str
    text: str  # cleaned so far
    created_at: float | None
    raw_chars: int
    raw_tokens: int
    lossy: bool
    keep: bool = True
    reason: str = KEPT
    score: float | None = None
    duplicate_of: str | None = None
    language: str | None = None
    chars_stripped: int = 0
    tokens_stripped: int = 0
    tokens: int = 0  # final
    stripped: list = field(default_factory=list)
    redacted: list = field(default_factory=list)


@dataclass
class CleanReport:
    reasons: Counter = field(default_factory=Counter)  # message reason -> count
    conversations: Counter = field(default_factory=Counter)  # substance / chatter
    stripped_spans: Counter = field(default_factory=Counter)  # boilerplate kind -> count
    redactions: Counter = field(default_factory=Counter)  # secret kind -> count
    verdicts_reused: int = 0
    samples: list[dict] = field(default_factory=list)  # before -> after, for --dry-run

    def as_dict(self) -> dict:
        return {
            "messages_by_reason": dict(self.reasons),
            "conversations": dict(self.conversations),
            "boilerplate_spans": dict(self.stripped_spans),
            "redactions": dict(self.redactions),
            "verdicts_reused": self.verdicts_reused,
            "samples": self.samples,
        }


def clean(store: Store, cfg: CleanConfig | None = None, progress: bool = False, dry_run: bool = False,
          samples: int = 5) -> CleanReport:
    """Run the clean stage over everything ingested. With dry_run, compute and report but write nothing."""
    cfg = cfg or CleanConfig()
    report = CleanReport()
    run_id = None if dry_run else store.start_run("clean", cfg.model_dump())
    try:
        fill_token_counts(store, progress)
        msgs, convs = _load(store)
        _language(msgs, progress)
        verdicts = _chatter(store, cfg, convs, msgs, report, progress)
        _text(msgs, cfg, report, progress)
        if cfg.dedupe:
            _dedupe(msgs, cfg)
        _apply_overrides(store, msgs)
        for m in msgs:
            report.reasons[m.reason] += 1
        report.reasons.update(_structural_counts(store))
        report.samples = _samples(store, msgs, samples)
        if not dry_run:
            _write(store, msgs, verdicts, run_id)
            store.finish_run(run_id, "ok", report.as_dict() | {"samples": len(report.samples)})
    except BaseException as e:
        if run_id is not None:
            store.finish_run(run_id, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e))
        raise
    return report


def clean_messages(store: Store, cfg: CleanConfig | None = None) -> CleanReport:
    """The clean stage as benchmarks call it (no progress bars)."""
    return clean(store, cfg)


# --- loading ---------------------------------------------------------------------------------------------


def _load(store: Store) -> tuple[list[_Msg], dict[str, dict]]:
    convs = {
        r["id"]: {"title": r["title"], "content_hash": r["content_hash"], "lossy": bool(r["lossy"])}
        for r in store.db.execute("SELECT id, title, content_hash, lossy FROM conversations")
    }
    msgs = [
        _Msg(r["id"], r["conversation_id"], r["role"], r["text"], r["created_at"], r["chars"], r["tokens"] or 0,
             convs[r["conversation_id"]]["lossy"])
        for r in store.db.execute(
            "SELECT id, conversation_id, role, text, created_at, chars, tokens FROM messages"
            " WHERE kind = 'dialog' AND canonical = 1 ORDER BY conversation_id, position"
        )
    ]
    return msgs, convs


def _bar(items, progress: bool, desc: str):
    return tqdm(items, desc=desc, unit="msg", disable=not progress, leave=False)


def _language(msgs: list[_Msg], progress: bool) -> None:
    for m in _bar(msgs, progress, "language"):
        m.language = detect_language(m.text)


# --- chatter ---------------------------------------------------------------------------------------------


def _chatter(store: Store, cfg: CleanConfig, convs: dict[str, dict], msgs: list[_Msg], report: CleanReport,
             progress: bool) -> dict[str, tuple]:
    """Verdict per conversation that has dialog: (label, score, reason, signature)."""
    by_conv: dict[str, list[_Msg]] = defaultdict(list)
    for m in msgs:
        by_conv[m.conversation_id].append(m)
    if not cfg.chatter:
        return {cid: ("substance", 0.0, "chatter filter off", "off") for cid in by_conv}
    classifier = chatter.ChatterClassifier(**({"threshold": cfg.chatter_threshold}
                                              if cfg.chatter_threshold is not None else {}))
    version = f"{getattr(chatter, 'VERSION', '1')}:{classifier.threshold:.4f}"
    cached = {
        r["conversation_id"]: (r["label"], r["score"], r["reason"], r["signature"])
        for r in store.db.execute("SELECT * FROM clean_conversations")
    }
    verdicts: dict[str, tuple] = {}
    todo: list[str] = []
    for cid in by_conv:
        sig = f"{convs[cid]['content_hash']}:{version}"
        if cid in cached and cached[cid][3] == sig:
            verdicts[cid] = cached[cid]
            report.verdicts_reused += 1
        else:
            todo.append(cid)
    batch = 256
    for i in tqdm(range(0, len(todo), batch), desc="chatter", unit="batch", disable=not progress, leave=False):
        ids = todo[i : i + batch]
        samples = [
            chatter.Sample(
                title=convs[cid]["title"],
                user=[m.text for m in by_conv[cid] if m.role == "user"],
                assistant=[m.text for m in by_conv[cid] if m.role == "assistant"],
            )
            for cid in ids
        ]
        for cid, v in zip(ids, classifier.classify(samples)):
            verdicts[cid] = (v.label, float(v.score), v.reason, f"{convs[cid]['content_hash']}:{version}")
    for cid, (label, score, _, _) in verdicts.items():
        report.conversations[label] += 1
        if label == "chatter":
            for m in by_conv[cid]:
                m.keep, m.reason, m.score = False, CHATTER, score
    return verdicts


# --- text: boilerplate, redaction ------------------------------------------------------------------------


def _span_json(spans: Iterable[Span], text: str | None) -> list[dict]:
    # Boilerplate spans keep their text so the person can see what went; redactions never keep the secret.
    return [
        {"kind": s.kind, "start": s.start, "end": s.end, **({"text": text[s.start : s.end]} if text else {})}
        for s in spans
    ]


def _text(msgs: list[_Msg], cfg: CleanConfig, report: CleanReport, progress: bool) -> None:
    kinds = set(cfg.redact_kinds) if cfg.redact_kinds else None
    for m in _bar(msgs, progress, "boilerplate, secrets"):
        # Tokens are counted only for text that changed; unchanged text keeps the count ingest stored.
        m.tokens_stripped = m.raw_tokens
        if cfg.boilerplate and m.role == "assistant":
            stripped, spans = boilerplate.strip(m.text)
            if spans:
                m.stripped = _span_json(spans, m.text)
                report.stripped_spans.update(s.kind for s in spans)
                m.text = stripped
                m.tokens_stripped = count_tokens(stripped)
        m.chars_stripped = len(m.text)
        m.tokens = m.tokens_stripped
        if cfg.redact:
            redacted, spans = secrets.redact(m.text, kinds)
            if spans:
                m.redacted = _span_json(spans, None)
                report.redactions.update(s.kind for s in spans)
                m.text = redacted
                m.tokens = count_tokens(redacted)
        if m.keep and not m.text.strip():
            m.keep, m.reason = False, EMPTY


# --- duplicates ------------------------------------------------------------------------------------------


def _best_first(group: list[_Msg]) -> list[_Msg]:
    """The copy to keep first: from a lossless source, then the longest, then the earliest."""
    return sorted(group, key=lambda m: (m.lossy, -len(m.text), m.created_at or 0.0, m.id))


def _dedupe(msgs: list[_Msg], cfg: CleanConfig) -> None:
    kept = [m for m in msgs if m.keep]
    by_id = {m.id: m for m in kept}
    for role in ("user", "assistant"):
        items = [(m.id, m.text) for m in kept if m.role == role]
        for ids in dedupe.exact_groups(items):
            best, *rest = _best_first([by_id[i] for i in ids])
            for m in rest:
                m.keep, m.reason, m.duplicate_of, m.score = False, DUPLICATE, best.id, 1.0
        near = dedupe.NearDuplicates(threshold=cfg.near_duplicate_threshold, min_words=cfg.near_duplicate_min_words)
        for cluster in near.groups([(i, t) for i, t in items if by_id[i].keep]):
            sims = dict(cluster)
            best, *rest = _best_first([by_id[i] for i, _ in cluster])
            for m in rest:
                m.keep, m.reason, m.duplicate_of, m.score = False, NEAR_DUPLICATE, best.id, sims.get(m.id)


# --- overrides -------------------------------------------------------------------------------------------


def _apply_overrides(store: Store, msgs: list[_Msg]) -> None:
    rows = store.db.execute("SELECT record_id, record_type, keep FROM overrides").fetchall()
    if not rows:
        return
    conv_over = {r["record_id"]: bool(r["keep"]) for r in rows if r["record_type"] == "conversation"}
    msg_over = {r["record_id"]: bool(r["keep"]) for r in rows if r["record_type"] == "message"}
    for m in msgs:
        decision = msg_over.get(m.id, conv_over.get(m.conversation_id))
        if decision is None:
            continue
        if decision and not m.keep and m.reason in OVERRIDABLE:
            m.keep, m.reason = True, KEPT_BY_USER
        elif not decision:
            m.keep, m.reason = False, DROPPED


# --- tokens, samples, writing ----------------------------------------------------------------------------


def _structural_counts(store: Store) -> Counter:
    rows = store.db.execute(
        "SELECT CASE WHEN kind != 'dialog' THEN kind ELSE ? END AS reason, count(*) FROM messages"
        " WHERE NOT (kind = 'dialog' AND canonical = 1) GROUP BY reason",
        (OTHER_BRANCH,),
    ).fetchall()
    return Counter({r[0]: r[1] for r in rows})


def _samples(store: Store, msgs: list[_Msg], n: int) -> list[dict]:
    """A few messages whose text changed, before → after (for --dry-run and the report)."""
    changed = [m for m in msgs if m.keep and (m.stripped or m.redacted)][:n]
    out = []
    for m in changed:
        before = store.db.execute("SELECT text FROM messages WHERE id = ?", (m.id,)).fetchone()[0]
        out.append({"message_id": m.id, "before": before, "after": m.text,
                    "stripped": [s["kind"] for s in m.stripped], "redacted": [s["kind"] for s in m.redacted]})
    return out


def _write(store: Store, msgs: list[_Msg], verdicts: dict[str, tuple], run_id: int | None) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM clean_messages")
        db.execute("DELETE FROM clean_conversations")
        db.executemany(
            "INSERT INTO clean_conversations VALUES (?, ?, ?, ?, ?, ?)",
            [(cid, *v, run_id) for cid, v in verdicts.items()],
        )
        db.execute(
            "INSERT INTO clean_messages (message_id, conversation_id, keep, reason, text, run_id)"
            " SELECT id, conversation_id, 0, CASE WHEN kind != 'dialog' THEN kind ELSE ? END, '', ?"
            " FROM messages WHERE NOT (kind = 'dialog' AND canonical = 1)",
            (OTHER_BRANCH, run_id),
        )
        db.executemany(
            "INSERT INTO clean_messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    m.id, m.conversation_id, int(m.keep), m.reason, m.score, m.duplicate_of, m.language, m.text,
                    m.chars_stripped, m.tokens_stripped, len(m.text), m.tokens,
                    orjson.dumps(m.stripped).decode() if m.stripped else None,
                    orjson.dumps(m.redacted).decode() if m.redacted else None,
                    run_id,
                )
                for m in msgs
            ],
        )


def set_override(store: Store, record_id: str, keep: bool, note: str | None = None) -> str:
    """Record the person's keep/drop for a conversation or a dialog message and apply it now.

    Returns the record type. Raises LookupError when the id is unknown or not a dialog message.
    """
    if store.db.execute("SELECT 1 FROM conversations WHERE id = ?", (record_id,)).fetchone():
        rtype = "conversation"
        where, arg = "conversation_id = ?", record_id
    else:
        row = store.db.execute("SELECT kind, canonical FROM messages WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise LookupError(f"no conversation or message with id {record_id!r}")
        if row["kind"] != "dialog" or not row["canonical"]:
            raise LookupError(f"message {record_id} is {row['kind'] if row['kind'] != 'dialog' else 'on another branch'}"
                              "; only dialog messages of the displayed branch can be kept or dropped")
        rtype = "message"
        where, arg = "message_id = ?", record_id
    with store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO overrides VALUES (?, ?, ?, ?, ?)", (record_id, rtype, int(keep), note, now_iso()))
        structural = ",".join("?" * len(STRUCTURAL))
        if keep:
            marks = ",".join("?" * len(OVERRIDABLE))
            db.execute(f"UPDATE clean_messages SET keep = 1, reason = ? WHERE {where} AND reason IN ({marks})",
                       (KEPT_BY_USER, arg, *OVERRIDABLE))
        else:
            db.execute(f"UPDATE clean_messages SET keep = 0, reason = ? WHERE {where} AND reason NOT IN ({structural})",
                       (DROPPED, arg, *STRUCTURAL))
    return rtype
