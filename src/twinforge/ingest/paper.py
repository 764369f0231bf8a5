"""Research papers: PDF, and markdown/txt documents that look like papers (an abstract and a reference list).

A paper becomes one conversation (provider `paper`) holding one user message with the paper's text
(content_type `paper`), so clean, distill and memory treat it like anything else the person brought in, and
distill can tell it apart to write a digest.

PDF bytes come through the text path of ingest decoded as latin-1 (detect.py chooses that encoding for them):
latin-1 maps every byte to one character and back, so `parse` recovers the exact bytes without a separate
binary path through the ingest loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import PurePath

from ..errors import InputError
from ..records import Conversation, Message
from ..text.paper_sections import ABSTRACT, REFERENCES
from . import document
from .mojibake import repair

NAME = "paper"
PDF_MAGIC = b"%PDF-"
PDF_ENCODING = "latin-1"  # lossless bytes <-> str, see the module docstring


# A hyphen at a line's end inside a word: "distil-\nlation" -> "distillation" (only before a lowercase letter,
# so "Smith-\nJones" and list dashes stay).
_HYPHEN_BREAK = re.compile(r"([^\W\d_])[-\u00ad][ \t]*\n[ \t]*(?=[a-zа-яё])")
# PDF metadata titles that name the file or the tool rather than the paper.
_JUNK_TITLE = re.compile(r"^(untitled|microsoft word|document\d*\b|.*\.(docx?|pdf|tex|dvi|indd)$)", re.IGNORECASE)
EDGE_LINES = 2  # how many lines at the top and bottom of a page may be a running header or footer


def is_pdf(head: bytes) -> bool:
    return head.lstrip()[: len(PDF_MAGIC)] == PDF_MAGIC


def looks_like_paper(text: str) -> bool:
    return bool(ABSTRACT.search(text) and REFERENCES.search(text))


def sniff(text: str, name: str) -> bool:
    """A markdown/txt document with an abstract and a reference list (PDFs are claimed by magic in detect)."""
    if not document.sniff(text, name):
        return False
    # double-encoded notes (the seeds) hide "Аннотация" until repaired; ASCII text has nothing to repair
    return looks_like_paper(text) or (not text.isascii() and looks_like_paper(repair(text)[0]))


def parse(text: str, name: str) -> Iterator[Conversation]:
    """One conversation for the paper.

    Deliberately not a generator: a bad PDF raises its InputError here, when ingest calls parse, so the file
    fails with that one line instead of the generic "could not be parsed" wrapper around iteration.
    """
    if is_pdf(text[:1024].encode(PDF_ENCODING, errors="replace")):
        return iter([pdf_conversation(text.encode(PDF_ENCODING), name)])
    return (_as_paper(conv, name) for conv in document.parse(text, name))


def _as_paper(conv: Conversation, name: str) -> Conversation:
    conv.provider = NAME
    for m in conv.messages:
        m.content_type = NAME
    if conv.title == PurePath(name).stem and conv.messages:  # no frontmatter title and no `#` heading
        conv.title = first_heading_line(conv.messages[0].text) or conv.title
    return conv


# --- PDF -------------------------------------------------------------------------------------------------


def pdf_conversation(data: bytes, path: str) -> Conversation:
    pages, info = _extract(data, path)
    text = join_pages(pages)
    if sum(ch.isalpha() for ch in text) < 20:
        raise InputError(path, f"no extractable text in {len(pages)} page(s)",
                         "scanned PDF? run OCR first, e.g. `ocrmypdf in.pdf out.pdf`")
    warnings = []
    empty = sum(1 for p in pages if not p.strip())
    if empty:
        warnings.append(f"{empty} of {len(pages)} pages had no extractable text (figures or scanned pages?)")
    title = info.get("title") or first_heading_line(text) or PurePath(path.split("!")[-1]).stem or "Untitled"
    return Conversation(
        uid=None,  # the store derives one from the title and the message uid (a hash of the bytes)
        provider=NAME,
        title=title,
        messages=[Message(uid="paper-" + hashlib.sha1(data).hexdigest()[:16], role="user", text=text,
                          kind="dialog", created_at=info.get("created"), content_type=NAME)],
        created_at=info.get("created"),
        updated_at=info.get("modified") or info.get("created"),
        warnings=warnings,
        meta={"pages": len(pages), **{k: info[k] for k in ("pdf_title", "author") if info.get(k)}},
    )


def _extract(data: bytes, path: str) -> tuple[list[str], dict]:
    """Page texts and metadata; one InputError for encrypted or damaged files."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        with _quiet_pypdf():
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):  # owner-only protection opens with ""
                raise InputError(path, "encrypted PDF (a password is needed to read it)",
                                 "decrypt it first, e.g. `qpdf --decrypt --password=PW in.pdf out.pdf`")
            pages = [page.extract_text() or "" for page in reader.pages]
            info = _info(reader)
    except InputError:
        raise
    except FileNotDecryptedError as e:
        raise InputError(path, "encrypted PDF (a password is needed to read it)",
                         "decrypt it first, e.g. `qpdf --decrypt --password=PW in.pdf out.pdf`") from e
    except DependencyError as e:  # AES encryption needs the optional `cryptography` package
        raise InputError(path, f"encrypted PDF pypdf cannot open here ({e})",
                         "`pip install cryptography`, or decrypt it first with qpdf") from e
    except Exception as e:  # pypdf raises many types on broken files; all mean the same to the user
        raise InputError(path, f"damaged PDF ({type(e).__name__}: {e})",
                         "re-download it, or re-save it from a PDF viewer") from e
    return pages, info


@contextlib.contextmanager
def _quiet_pypdf():
    """pypdf logs a warning for every repairable flaw; the outcome is reported once, by the file's result."""
    log = logging.getLogger("pypdf")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _info(reader) -> dict:
    info: dict = {}
    try:
        meta = reader.metadata
    except Exception:  # a broken Info dictionary loses the metadata, not the paper
        return info
    if not meta:
        return info
    title = (meta.title or "").strip() if isinstance(meta.title, str) else ""
    if title:
        info["pdf_title"] = title
        if len(title) >= 3 and not _JUNK_TITLE.match(title):
            info["title"] = " ".join(title.split())
    if isinstance(meta.author, str) and meta.author.strip():
        info["author"] = meta.author.strip()
    for key, attr in (("created", "creation_date"), ("modified", "modification_date")):
        try:
            when = getattr(meta, attr)
        except Exception:  # malformed date strings raise on access
            when = None
        if when is not None:
            info[key] = when.timestamp()
    return info


def join_pages(pages: list[str]) -> str:
    """The pages as one text: running headers/footers removed, line-end hyphenation repaired."""
    split = [[line.rstrip() for line in p.replace("\r\n", "\n").replace("\r", "\n").split("\n")] for p in pages]
    running = _running_lines(split)
    kept = []
    for lines in split:
        edges = _edge_indexes(lines)
        body = [line for i, line in enumerate(lines) if not (i in edges and _key(line) in running)]
        kept.append("\n".join(body).strip())
    text = "\n".join(p for p in kept if p)
    text = _HYPHEN_BREAK.sub(r"\1", text).replace("\u00ad", "")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _key(line: str) -> str:
    """Lines compared with digits masked, so "Page 3" and "Page 4" are the same footer."""
    return re.sub(r"\d+", "#", " ".join(line.split())).lower()


def _edge_indexes(lines: list[str]) -> set[int]:
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return set(filled[:EDGE_LINES] + filled[-EDGE_LINES:])


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines at a page's top or bottom on three pages or more (both pages of two): headers and footers.

    Three, not a share of all pages: running headers often change per chapter ("Chapter 4: … 13"), and body
    text seldom repeats word for word at the edge of three pages."""
    if len(pages) < 2:
        return set()
    seen: Counter = Counter()
    for lines in pages:
        seen.update({_key(lines[i]) for i in _edge_indexes(lines)})
    need = min(len(pages), 3)
    return {k for k, n in seen.items() if n >= need and k}


def first_heading_line(text: str) -> str | None:
    """The first line near the top that reads like a title: a few words, letters, no sentence end."""
    for line in text.split("\n")[:15]:
        line = line.strip().strip("#*_ ").strip()
        letters = sum(ch.isalpha() for ch in line)
        if 3 <= len(line) <= 200 and letters >= 3 and not re.match(r"(?i)(https?://|doi:|arxiv:)", line) \
                and not line.endswith((".", ",", ";")):
            return line
    return None
