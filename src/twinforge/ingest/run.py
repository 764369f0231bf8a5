"""The ingest stage: inputs → entries → detected format → conversations → store, one transaction per file."""

from __future__ import annotations

import hashlib
import itertools
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

import ijson
import orjson
from tqdm import tqdm

from ..errors import InputError
from ..records import Conversation
from ..store import Store
from ..store.conversations import ConversationWriter, Prepared, prepare
from ..store.db import now_iso
from . import parallel
from .detect import FORMATS, Detected, detect, json_error
from .entries import Entry, Limits, Skipped, expand
from .jsonshape import JsonShape, iter_items
from .mojibake import repair
from .split import RangeReader, Span, spans


@dataclass
class SourceResult:
    path: str
    status: str  # imported / known (same bytes imported before) / skipped / failed
    format: str | None = None
    counts: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None  # for skipped and failed; without the path


@dataclass
class IngestReport:
    sources: list[SourceResult] = field(default_factory=list)

    def by_status(self, status: str) -> list[SourceResult]:
        return [s for s in self.sources if s.status == status]

    @property
    def ok(self) -> bool:
        """Something was read: imported now, or already in the store."""
        return bool(self.by_status("imported") or self.by_status("known"))

    def totals(self) -> dict:
        keys = ("added", "updated", "unchanged", "duplicate", "older", "repeated", "messages", "repaired")
        t = {k: sum(s.counts.get(k, 0) for s in self.sources) for k in keys}
        t["warnings"] = sum(len(s.warnings) for s in self.sources)
        for status in ("imported", "known", "skipped", "failed"):
            t[f"files_{status}"] = len(self.by_status(status))
        return t

    def as_dict(self) -> dict:
        return {"totals": self.totals(), "sources": [asdict(s) for s in self.sources]}


_KNOWN = "these exact bytes were imported before"


class _Known(Exception):
    """Raised inside a file's transaction when its bytes turn out to be imported already: roll it back."""


def _is_known(store: Store, sha: str) -> bool:
    return store.db.execute("SELECT 1 FROM sources WHERE sha256 = ?", (sha,)).fetchone() is not None


class _Hasher:
    """sha256 of an entry, computed on a thread so it overlaps parsing."""

    def __init__(self, entry: Entry):
        self._sha: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(entry,), name="twinforge-sha256", daemon=True)
        self._thread.start()

    def _run(self, entry: Entry) -> None:
        try:
            self._sha = _sha256(entry)
        except BaseException as e:  # re-raised by result()
            self._error = e

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._sha


class _DryRun(Exception):
    """Raised inside a file's transaction to roll it back after counting what it would change."""


def ingest_paths(
    store: Store,
    paths: Sequence[str | Path],
    limits: Limits | None = None,
    progress: bool = False,
    dry_run: bool = False,
) -> IngestReport:
    """Ingest every file, folder or zip in `paths`. Bad files are reported, never half-imported."""
    limits = limits or Limits()
    report = IngestReport()
    run_id = None if dry_run else store.start_run("ingest", {"paths": [str(p) for p in paths]})
    status = "failed"
    try:
        with tempfile.TemporaryDirectory(prefix="twinforge-") as tmp:
            for path in paths:
                try:
                    for item in expand(path, limits, Path(tmp)):
                        if isinstance(item, Skipped):
                            warned = [f"{item.path}: {item.reason}"] if item.warn else []
                            report.sources.append(SourceResult(item.path, "skipped", reason=item.reason,
                                                               warnings=warned))
                        else:
                            report.sources.append(_ingest_entry(store, item, run_id, progress, dry_run))
                except InputError as e:
                    report.sources.append(SourceResult(e.path, "failed", reason=e.reason))
        status = "ok"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if run_id is not None:
            store.finish_run(run_id, status, report.totals())
    return report


def _ingest_entry(store: Store, entry: Entry, run_id: int | None, progress: bool, dry_run: bool) -> SourceResult:
    try:
        found = detect(entry)
    except InputError as e:
        return SourceResult(entry.path, "failed" if entry.explicit else "skipped", reason=e.reason)
    known = _KNOWN
    # The same path and size imported before: most likely the same bytes again, so hash first and skip cheaply.
    # A new file is hashed on a thread while it is parsed (hashlib releases the GIL), and checked before commit.
    if store.db.execute("SELECT 1 FROM sources WHERE path = ? AND size = ?", (entry.path, entry.size)).fetchone():
        if _is_known(store, _sha256(entry)):
            return SourceResult(entry.path, "known", found.format, reason=known)
    hasher: _Hasher | None = None
    result = SourceResult(entry.path, "imported", found.format)
    try:
        with store.transaction() as db:
            cur = db.execute(
                "INSERT INTO sources (path, sha256, format, size, imported_at, run_id) VALUES (?, ?, ?, ?, ?, ?)",
                (entry.path, f"pending-{id(hasher)}-{now_iso()}", found.format, entry.size, now_iso(), run_id),
            )
            writer = ConversationWriter(db, cur.lastrowid, run_id)
            seen: dict[str, int] = {}  # conversation id -> copies in this file so far
            for prep in _write_behind(writer, _prepared(entry, found, progress)):
                # started once parsing runs: a parser child is forked before this process has threads
                hasher = hasher or _Hasher(entry)
                if copies := seen.get(prep.id, 0):
                    # the writer keeps one copy; said here, before it writes, so the warning is stored too
                    prep.warnings.append(f"conversation id {prep.id} appears again in this file (copy {copies + 1});"
                                         " one copy is kept, the newest by update time")
                seen[prep.id] = copies + 1
                result.warnings.extend(f"{prep.title}: {w}" for w in prep.warnings)
            sha = (hasher or _Hasher(entry)).result()
            if _is_known(store, sha):  # the same bytes under another name
                raise _Known
            result.counts = writer.counts.as_dict()
            db.execute(
                "UPDATE sources SET sha256 = ?, stats = ? WHERE id = ?",
                (sha, orjson.dumps({**result.counts, "warnings": len(result.warnings)}).decode(), cur.lastrowid),
            )
            if dry_run:
                raise _DryRun
    except _Known:
        return SourceResult(entry.path, "known", found.format, reason=known)
    except _DryRun:
        pass
    except InputError as e:
        return SourceResult(entry.path, "failed", found.format, reason=e.reason)
    return result


def _prepared(entry: Entry, found: Detected, progress: bool) -> Iterator[Prepared]:
    """Parsed, mojibake-repaired conversations of one entry as rows ready to write, in file order.

    A big JSON export is parsed in a child process (`parallel`), so parsing and writing use both cores.
    """
    if found.kind == "text":
        yield from map(prepare, _repaired(_text_conversations(entry, found), always=True))
        return
    desc = Path(entry.path).name[:40]

    def producer(span: Span | None) -> Callable[[Callable[[int], None]], Iterator[tuple]]:
        # the child parses and repairs; rows are prepared here, which balances the two cores best
        return lambda on_bytes: map(
            parallel.pack, _repaired(_json_conversations(entry, found, on_bytes, span), always=False)
        )

    if entry.size >= parallel.MIN_BYTES and parallel.available():
        producers = [producer(r) for r in _ranges(entry, found)]
        packed = parallel.in_children(producers, entry.path, entry.size, desc, progress)
        yield from (prepare(parallel.unpack(p)) for p in packed)
        return
    with tqdm(total=entry.size, unit="B", unit_scale=True, desc=desc, disable=not progress, leave=False) as bar:
        yield from map(prepare, _repaired(_json_conversations(entry, found, bar.update), always=False))


def _ranges(entry: Entry, found: Detected) -> list[Span | None]:
    """Byte ranges of a big top-level JSON array that parse on their own (one per core), else the whole file."""
    if entry.local is None or found.shape.container != "array" or found.encoding != "utf-8":
        return [None]
    fmt = FORMATS[found.format]

    def is_conversation(obj: dict) -> bool:
        return fmt.sniff(JsonShape("array", [], set(obj), set(obj)))

    with open(entry.local, "rb") as f:
        return list(spans(f, entry.size, entry.head(), parallel.workers(), is_conversation))


def _text_conversations(entry: Entry, found: Detected) -> Iterator[Conversation]:
    with entry.open() as f:
        data = f.read()
    try:
        text = data.decode(found.encoding)
    except UnicodeDecodeError as e:
        raise InputError(entry.path, f"not valid UTF-8 at byte {e.start:,}", "convert it to UTF-8 first") from e
    yield from _guarded(FORMATS[found.format].parse(text, entry.path), entry.path)


def _json_conversations(
    entry: Entry, found: Detected, on_bytes: Callable[[int], None], span: Span | None = None
) -> Iterator[Conversation]:
    fmt = FORMATS[found.format]
    with entry.open() as raw:
        if span is None:
            stream = _Counting(raw, on_bytes)
        else:
            stream = _Counting(RangeReader(raw, span), on_bytes, start=span.start - len(span.prefix))
        if found.encoding == "utf-8-sig":
            stream.read(3)
        n = 0
        try:
            for obj in iter_items(stream, found.shape):
                n += 1
                try:
                    conv = fmt.parse(obj)
                except Exception as e:  # one odd conversation must not sink the file
                    title = obj.get("title") or obj.get("name") or f"#{n}"
                    conv = Conversation(None, found.format, f"unparsed conversation {title}")
                    conv.warnings.append(f"could not be parsed ({type(e).__name__}: {e}); skipped")
                    conv.uid = f"unparsed-{hashlib.sha1(orjson.dumps(obj, default=str)).hexdigest()[:16]}"
                yield conv
        except ijson.IncompleteJSONError as e:
            raise json_error(entry.path, stream.pos, str(e), truncated="premature EOF" in str(e)) from e
        except (ijson.JSONError, orjson.JSONDecodeError) as e:
            raise json_error(entry.path, stream.pos, str(e).splitlines()[0], truncated=False) from e
        except UnicodeDecodeError as e:
            raise InputError(entry.path, f"not valid UTF-8 near byte {stream.pos:,}", "convert it to UTF-8") from e


def _guarded(convs: Iterator[Conversation], path: str) -> Iterator[Conversation]:
    try:
        yield from convs
    except Exception as e:  # a parser bug on odd text: report it as the file's problem, not a traceback
        raise InputError(path, f"could not be parsed ({type(e).__name__}: {e})", "please report this file's shape") from e


def _write_behind(writer: ConversationWriter, convs: Iterator[Prepared]) -> Iterator[Prepared]:
    """Yield each conversation for the caller to finish, then write it on a second thread.

    SQLite releases the GIL while it writes, so writing conversation N overlaps parsing conversation N+1: on
    two cores that is most of the write time saved. The queue is bounded, so memory stays flat. The caller's
    transaction is still one transaction: this thread only runs the writer's statements, never BEGIN/COMMIT.
    """
    q: queue.Queue = queue.Queue(maxsize=32)
    failure: list[BaseException] = []

    def work() -> None:
        while (conv := q.get()) is not None:
            if failure:
                continue  # drain after a failure so the producer never blocks
            try:
                writer.write(conv)
            except BaseException as e:  # handed to the producer, which re-raises it
                failure.append(e)

    convs = iter(convs)
    first = next(convs, None)  # a parser child is forked here, before this process starts its thread
    if first is None:
        return
    thread = threading.Thread(target=work, name="twinforge-writer", daemon=True)
    thread.start()
    try:
        for conv in itertools.chain([first], convs):
            yield conv
            if failure:
                break
            q.put(conv)
    finally:
        q.put(None)
        thread.join()
    if failure:
        raise failure[0]


def _repaired(convs: Iterator[Conversation], always: bool) -> Iterator[Conversation]:
    fix = _Repairer(always)
    for conv in convs:
        fix(conv)
        yield conv


class _Repairer:
    """Repairs mojibake in a conversation's title and messages.

    Text sources (Nexus notes, documents) are where double-encoding happens, so every message is checked.
    JSON exports are written by the provider and are almost never double-encoded, and checking each message of
    a gigabyte export costs more than parsing it: the first SAMPLE_CHARS of a JSON file's text are checked, and
    one hit turns checking on for the rest of that file.
    """

    SAMPLE_CHARS = 8_000_000

    def __init__(self, always: bool):
        self.always = always
        self.budget = self.SAMPLE_CHARS

    def __call__(self, conv: Conversation) -> None:
        if not self.always and self.budget <= 0:
            return
        conv.title, changed = repair(conv.title)
        self.always = self.always or changed
        for m in conv.messages:
            m.text, changed = repair(m.text)
            m.repaired = m.repaired or changed
            self.always = self.always or changed
            self.budget -= len(m.text)


def _sha256(entry: Entry) -> str:
    h = hashlib.sha256()
    with entry.open() as f:
        while chunk := f.read(4 * 1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


class _Counting:
    """A read-only stream wrapper that counts bytes (for error positions) and feeds the progress bar."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None], start: int = 0):
        self.raw = raw
        self.on_bytes = on_bytes
        self.pos = start  # file offset, for error messages

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.pos += len(data)
        self.on_bytes(len(data))
        return data
