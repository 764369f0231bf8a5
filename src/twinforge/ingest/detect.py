"""Decide which format an entry is in, from its first bytes. One clear InputError when it is none we read."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from types import ModuleType

import orjson

from ..errors import InputError
from . import chatgpt, claude, deepseek, document, grok, nexus, paper
from .entries import HEAD_BYTES, Entry
from .jsonshape import MAX_DEPTH, JsonShape, probe

# Order matters: DeepSeek and Grok look ChatGPT-like, so they are asked first.
JSON_FORMATS: list[ModuleType] = [deepseek, grok, claude, chatgpt]
# A markdown/txt paper (abstract + references) is a document too: paper is asked before document.
TEXT_FORMATS: list[ModuleType] = [nexus, paper, document]
FORMATS = {m.NAME: m for m in JSON_FORMATS + TEXT_FORMATS}

SUPPORTED = (
    "ChatGPT, Claude, DeepSeek and Grok exports (JSON or zip), Nexus markdown notes, .md/.txt documents, PDF papers"
)


@dataclass
class Detected:
    format: str
    kind: str  # 'json' or 'text'
    shape: JsonShape | None = None
    encoding: str = "utf-8"


def decode_head(head: bytes, path: str) -> tuple[str, str]:
    """(text, encoding) of the head of a text file; InputError for binary or non-Unicode files."""
    if head.startswith(codecs.BOM_UTF8):
        return head[3:].decode("utf-8", errors="ignore"), "utf-8-sig"
    for bom, enc in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return head.decode(enc, errors="ignore"), enc
    if b"\x00" in head:
        raise InputError(path, "binary file (not text, JSON or zip)", f"twinforge reads {SUPPORTED}")
    try:
        # The head may end inside a multi-byte character: only that tail may fail to decode.
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False), "utf-8"
    except UnicodeDecodeError as e:
        raise InputError(
            path,
            f"not UTF-8 text (invalid byte 0x{head[e.start]:02x} at offset {e.start}; a legacy 8-bit encoding?)",
            "convert it first, e.g. `iconv -f cp1251 -t utf-8 FILE > FILE.utf8.txt`",
        ) from e


def check_json(data: bytes, path: str) -> None:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as e:
        truncated = "unexpected end of data" in str(e) or e.pos >= len(data.rstrip()) - 1
        raise json_error(path, e.pos, str(e), truncated=truncated) from e


def json_error(path: str, pos: int | None, detail: str, truncated: bool) -> InputError:
    where = f" at byte {pos:,}" if pos is not None else ""
    if truncated:
        return InputError(
            path, f"JSON ends early{where} (truncated file?)", "re-download the export; nothing was imported from it"
        )
    return InputError(path, f"invalid JSON{where}: {detail}", "fix or re-download the file; nothing was imported from it")


def detect(entry: Entry) -> Detected:
    head = entry.head()
    if not head.strip():
        raise InputError(entry.path, "empty file", "nothing to import; check the export finished downloading")
    if paper.is_pdf(head):  # binary: recognised by magic, before any text decoding
        return Detected(paper.NAME, "text", None, paper.PDF_ENCODING)
    text, encoding = decode_head(head, entry.path)
    first = text.lstrip()[:1]
    if first in ("[", "{"):
        if encoding != "utf-8":  # JSON exports are UTF-8; a BOM'd JSON is re-read by the text path
            head = text.encode("utf-8")
        shape = probe(head)
        if shape.too_deep is not None:
            raise InputError(
                entry.path,
                f"JSON nested deeper than {MAX_DEPTH} levels (by byte {shape.too_deep:,}); no chat export nests "
                "like this",
                "this is not an export twinforge reads (a damaged or hostile file?); nothing was imported from it",
            )
        if len(head) < HEAD_BYTES:  # the whole file is in hand: validate it before anything else
            check_json(head, entry.path)
        for fmt in JSON_FORMATS:
            if fmt.sniff(shape):
                return Detected(fmt.NAME, "json", shape, encoding)
        found = ", ".join(shape.top_keys[:8]) or ", ".join(sorted(shape.item_keys)[:8]) or "no objects"
        raise InputError(
            entry.path,
            f"JSON of a shape twinforge does not know (keys: {found})",
            f"twinforge reads {SUPPORTED}",
        )
    for fmt in TEXT_FORMATS:
        if fmt.sniff(text, entry.path):
            return Detected(fmt.NAME, "text", None, encoding)
    raise InputError(entry.path, "not a conversation format twinforge knows", f"twinforge reads {SUPPORTED}")
