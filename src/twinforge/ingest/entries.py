"""Inputs as a flat list of entries: files, files found in folders, and members of zip archives (nested too).

Zip members are checked before anything is read: no member may escape the archive's folder, and the archive
may not expand past `max_ratio` × its size or `max_bytes` in all (zip bombs).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..errors import InputError

ZIP_MAGIC = b"PK\x03\x04"
HEAD_BYTES = 256 * 1024

# Files an export ships beside the conversations; they hold no dialog, so a folder scan passes them by.
SIDE_FILES = {
    "user.json", "users.json", "user_settings.json", "message_feedback.json", "shared_conversations.json",
    "model_comparisons.json", "export_manifest.json", "library_files.json", "projects.json", "memories.json",
    "group_chats.json", "shopping.json", "sora.json", "chat.html", "conversations.json.index",
}
MEDIA_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".webp", ".gif", ".svg", ".wav", ".mp3", ".m4a", ".ogg", ".webm", ".mp4",
    ".html", ".htm", ".css", ".js", ".ico", ".docx", ".xlsx", ".pptx", ".csv", ".py", ".db",
}


@dataclass
class Limits:
    max_ratio: float = 100.0  # uncompressed / compressed, whole archive
    max_bytes: int = 64 * 1024**3  # uncompressed, whole archive


@dataclass
class Entry:
    path: str  # what the user sees: 'export.zip!conversations-000.json'
    size: int
    opener: Callable[[], BinaryIO]
    explicit: bool = False  # named on the command line (not found by a folder scan)
    local: Path | None = None  # a plain file on disk (seekable: can be parsed in parallel ranges)

    def open(self) -> BinaryIO:
        return self.opener()

    def head(self, n: int = HEAD_BYTES) -> bytes:
        with self.open() as f:
            return f.read(n)


@dataclass
class Skipped:
    path: str
    reason: str
    warn: bool = False  # worth a warning line, not only a -v listing


def _special(p: Path) -> str | None:
    """Why `p` is no regular file (a FIFO would block the first read forever), or None."""
    try:
        mode = os.stat(p).st_mode
    except OSError:
        return None  # open() reports it
    if stat.S_ISREG(mode):
        return None
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
    return f"{kind}, not a regular file; not read"


def expand(path: str | os.PathLike, limits: Limits, tmp: Path) -> Iterator[Entry | Skipped]:
    """Entries to try for one command-line path. Raises InputError when the path itself is unusable."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), "no such file or folder", "check the path")
    if p.is_dir():
        yield from _walk(p, limits, tmp)
        return
    if special := _special(p):
        raise InputError(str(p), special, "name the export file itself")
    yield from _file(p, str(p), limits, tmp, explicit=True)


def _walk(folder: Path, limits: Limits, tmp: Path) -> Iterator[Entry | Skipped]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            f = Path(root) / name
            if special := _special(f):
                yield Skipped(str(f), special, warn=True)
                continue
            reason = _side_reason(name) or _attachment_reason(str(f.relative_to(folder)), in_export=False)
            if reason:
                yield Skipped(str(f), reason)
                continue
            try:
                yield from _file(f, str(f), limits, tmp, explicit=False)
            except InputError as e:
                yield Skipped(str(f), e.reason)


# A folder's own documentation (an archive's README), not a note of the person's.
FOLDER_DOCS = ("readme", "license", "licence", "changelog", "contributing")


def _side_reason(name: str) -> str | None:
    low = name.lower()
    if low in SIDE_FILES:
        return "export side file (no conversations)"
    if low.split(".")[0] in FOLDER_DOCS:
        return "the folder's own documentation (name it explicitly to import it)"
    suffix = PurePosixPath(low).suffix
    if suffix in MEDIA_SUFFIXES:
        return f"{suffix} file (not a conversation format)"
    return None


def _attachment_reason(path: str, in_export: bool) -> str | None:
    """PDFs are read as papers, but not the ones attached to chats: uploads inside an export zip, or files in
    an attachments folder (Nexus keeps them in `…attachments/`). Name such a file explicitly to import it."""
    low = path.lower().replace("\\", "/")
    if not low.endswith(".pdf"):
        return None
    if in_export or any("attachment" in part for part in low.split("/")[:-1]):
        return "a PDF attached to a chat, not a paper (name it explicitly to import it as one)"
    return None


def _file(p: Path, display: str, limits: Limits, tmp: Path, explicit: bool) -> Iterator[Entry | Skipped]:
    try:
        with open(p, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise InputError(display, f"cannot read ({e.strerror})", "check permissions") from e
    if magic == ZIP_MAGIC:
        yield from _zip(p, display, limits, tmp)
        return
    yield Entry(display, p.stat().st_size, lambda: open(p, "rb"), explicit, local=p)


def _zip(p: Path, display: str, limits: Limits, tmp: Path) -> Iterator[Entry | Skipped]:
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(display, f"damaged zip archive ({e})", "re-download the export") from e
    infos = [i for i in zf.infolist() if not i.is_dir()]
    for info in infos:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise InputError(
                display,
                f"zip member {info.filename!r} would escape the archive's folder",
                "this archive is unsafe; nothing was read from it",
            )
    total = sum(i.file_size for i in infos)
    packed = max(p.stat().st_size, 1)
    if total > limits.max_bytes or total / packed > limits.max_ratio:
        raise InputError(
            display,
            f"zip expands to {total:,} bytes from {packed:,} ({total / packed:.0f}×), past the limit "
            f"({limits.max_ratio:.0f}× or {limits.max_bytes:,} bytes)",
            "this looks like a zip bomb; if the archive is genuine, raise ingest.max_zip_ratio / max_zip_bytes",
        )
    for info in sorted(infos, key=lambda i: i.filename):
        inner = f"{display}!{info.filename}"
        base = PurePosixPath(info.filename).name
        if base.startswith(".") or "__MACOSX" in info.filename:
            continue
        reason = _side_reason(base) or _attachment_reason(info.filename, in_export=True)
        if reason:
            yield Skipped(inner, reason)
            continue
        with zf.open(info) as f:
            magic = f.read(4)
        if magic == ZIP_MAGIC:  # a zip inside the zip (multi-part exports): extract it, then recurse
            nested = Path(tempfile.mkdtemp(dir=tmp)) / "nested.zip"
            with zf.open(info) as src, open(nested, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            sub = Limits(limits.max_ratio, limits.max_bytes - total)
            yield from _zip(nested, inner, sub, tmp)
            continue
        yield Entry(inner, info.file_size, lambda info=info: zf.open(info), explicit=False)
