"""Research papers: PDF text extraction, markdown/txt papers recognised, bad PDFs fail with one clear line.

The PDFs in tests/data/papers are written by `make_pdfs.py` there, so the expected text is known exactly.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from twinforge.errors import InputError
from twinforge.ingest import paper
from twinforge.ingest.detect import detect
from twinforge.ingest.entries import Entry

PAPERS = Path(__file__).parent / "data" / "papers"

PAPER_TEXT = (
    "Sparse Adapters for Thinking Twins\n"
    "Abstract\n"
    "We study how a small model can learn the way one person thinks. Our distillation turns each dialog into a"
    " module of three layers.\n"
    "1 Method\n"
    "Each module is expanded into many training views, and one adapter is trained per scene. Adapters stack and"
    " merge.\n"
    "2 Results\n"
    "Fifteen views per module gave a twelvefold expansion of the corpus.\n"
    "References\n"
    "[1] Hu et al. LoRA: Low-Rank Adaptation of Large Language Models. 2021."
)


def rows(ws: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(ws / "twin.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def counts(ws: Path) -> dict:
    return {t: rows(ws, f"SELECT count(*) FROM {t}")[0][0] for t in ("sources", "conversations", "messages")}


def entry(path: Path) -> Entry:
    return Entry(str(path), path.stat().st_size, lambda: open(path, "rb"), explicit=True, local=path)


# --- PDF -------------------------------------------------------------------------------------------------


def test_pdf_detected_by_magic_not_name(tmp_path):
    renamed = tmp_path / "download.bin"
    renamed.write_bytes((PAPERS / "paper.pdf").read_bytes())
    found = detect(entry(renamed))
    assert (found.format, found.encoding) == ("paper", paper.PDF_ENCODING)


def test_pdf_ingests_as_one_paper_conversation(tf, workspace):
    r = tf("ingest", "--json", PAPERS / "paper.pdf")
    assert r.exit_code == 0, r.output
    ((provider, title, meta),) = rows(workspace, "SELECT provider, title, meta FROM conversations")
    assert provider == "paper"
    assert title == "Sparse Adapters for Thinking Twins"  # from the PDF's Info dictionary
    assert json.loads(meta)["pages"] == 3
    ((role, kind, ctype, text),) = rows(workspace, "SELECT role, kind, content_type, text FROM messages")
    assert (role, kind, ctype) == ("user", "dialog", "paper")
    # pages joined, "distil-/lation" and "adap-/ter" repaired, running header and "Page N" footers gone
    assert text == PAPER_TEXT


def test_pdf_title_from_first_heading_line_without_metadata(tf, workspace):
    assert tf("ingest", PAPERS / "untitled.pdf").exit_code == 0
    assert rows(workspace, "SELECT title FROM conversations") == [("On Hyperphrases",)]


def test_pdf_reingest_is_known(tf, workspace):
    tf("ingest", PAPERS / "paper.pdf")
    before = counts(workspace)
    r = tf("ingest", PAPERS / "paper.pdf")
    assert r.exit_code == 0 and counts(workspace) == before


@pytest.mark.parametrize("name,expect", [
    ("scanned.pdf", "no extractable text"),
    ("encrypted.pdf", "encrypted PDF"),
    ("corrupt.pdf", "damaged PDF"),
])
def test_bad_pdf_one_error_line_store_unchanged(tf, workspace, tmp_path, name, expect):
    tf("ingest", PAPERS / "untitled.pdf")
    before = counts(workspace)
    bad = tmp_path / name
    if name == "corrupt.pdf":  # the magic, then a file cut off after its first bytes
        bad.write_bytes((PAPERS / "paper.pdf").read_bytes()[:300])
    else:
        bad.write_bytes((PAPERS / name).read_bytes())
    r = tf("ingest", bad)
    assert r.exit_code != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    assert name in errors[0] and expect in errors[0]
    assert "Traceback" not in r.output + r.stderr
    if name == "scanned.pdf":
        assert "run OCR first" in errors[0]
    assert counts(workspace) == before


def test_pdf_in_a_folder_is_no_longer_skipped(tf, workspace, tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "a.pdf").write_bytes((PAPERS / "paper.pdf").read_bytes())
    assert tf("ingest", folder).exit_code == 0
    assert rows(workspace, "SELECT provider FROM conversations") == [("paper",)]


def test_join_pages_keeps_real_hyphens_and_single_pages():
    assert paper.join_pages(["state-of-the-\nArt and Smith-\nJones"]) == "state-of-the-\nArt and Smith-\nJones"
    assert paper.join_pages(["Header\nbody one", "Header\nbody two"]) == "body one\nbody two"
    assert paper.join_pages(["Only page\nstays whole"]) == "Only page\nstays whole"


def test_pdf_parse_raises_input_error_directly():
    data = (PAPERS / "scanned.pdf").read_bytes()
    with pytest.raises(InputError, match="no extractable text"):
        paper.parse(data.decode(paper.PDF_ENCODING), "scanned.pdf")


# --- markdown and text papers ----------------------------------------------------------------------------


def test_markdown_paper_detected_as_paper(tf, workspace):
    r = tf("ingest", PAPERS / "fractal-modules-ru.md", PAPERS / "adapters-en.txt", PAPERS / "note-not-paper.md")
    assert r.exit_code == 0, r.output
    got = dict(rows(workspace, "SELECT title, provider FROM conversations"))
    assert got == {
        "Фрактальные модули мышления": "paper",
        "Stackable Adapters for a Personal Twin": "paper",  # a .txt: title from its first heading-like line
        "Abstract thinking": "document",  # "Abstract thinking is…" is no abstract, and there are no references
    }
    types = dict(rows(workspace, "SELECT c.title, m.content_type FROM messages m JOIN conversations c"
                                 " ON c.id = m.conversation_id"))
    assert types["Фрактальные модули мышления"] == "paper"
    assert types["Abstract thinking"] == "markdown"


@pytest.mark.parametrize("text,is_paper", [
    ("## Abstract\nx\n## References\n[1] y", True),
    ("**Аннотация:** текст\n\nСписок литературы\n1. Книга", True),
    ("Abstract. We show.\n\n# 5. Bibliography\n", True),
    ("Abstract thinking is fun.\nReferences\n", False),
    ("## Abstract\nNo reference list here, though references are mentioned.", False),
])
def test_looks_like_paper(text, is_paper):
    assert paper.looks_like_paper(text) is is_paper


def test_double_encoded_russian_paper_is_recognised():
    text = (PAPERS / "fractal-modules-ru.md").read_text(encoding="utf-8")
    mojibake = text.encode("utf-8").decode("mac_roman")
    assert paper.sniff(mojibake, "x.md")


def test_pdfs_attached_to_chats_are_not_taken_for_papers(tmp_path):
    """A PDF inside an export zip, or in an attachments folder, is an upload, not a paper."""
    import zipfile

    from twinforge.ingest.entries import Limits, Skipped, expand

    pdf = next(PAPERS.glob("*.pdf")).read_bytes()
    (tmp_path / "Nexus_attachments").mkdir()
    (tmp_path / "Nexus_attachments" / "invoice.pdf").write_bytes(pdf)
    (tmp_path / "paper.pdf").write_bytes(pdf)
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as z:
        z.writestr("conversations.json", "[]")
        z.writestr("file-abc-upload.pdf", pdf)
    items = list(expand(tmp_path, Limits(), tmp_path))
    skipped = {Path(i.path).name.split("!")[-1] for i in items if isinstance(i, Skipped)}
    taken = {Path(i.path).name for i in items if not isinstance(i, Skipped)}
    assert {"invoice.pdf", "file-abc-upload.pdf"} <= skipped
    assert "paper.pdf" in taken
