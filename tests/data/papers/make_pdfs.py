"""Builds the small test PDFs beside this file. Run: `python tests/data/papers/make_pdfs.py`.

The PDFs are written by hand (a page of Helvetica text needs ~30 lines of PDF syntax), so the text the tests
expect is exactly the text put in, with no PDF library between. pypdf only adds the encryption.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent

HEADER = "Journal of Twin Studies, vol. 3"

# Three pages of body text. The hyphenated line ends ("distil-", "adap-") must come back joined.
PAGES = [
    [
        "Sparse Adapters for Thinking Twins",
        "Abstract",
        "We study how a small model can learn the way one person thinks. Our distil-",
        "lation turns each dialog into a module of three layers.",
    ],
    [
        "1 Method",
        "Each module is expanded into many training views, and one adap-",
        "ter is trained per scene. Adapters stack and merge.",
    ],
    [
        "2 Results",
        "Fifteen views per module gave a twelvefold expansion of the corpus.",
        "References",
        "[1] Hu et al. LoRA: Low-Rank Adaptation of Large Language Models. 2021.",
    ],
]


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(lines: list[str], header: str | None, footer: str | None) -> bytes:
    ops = ["BT", "/F1 11 Tf", "14 TL"]
    if header:
        ops += ["1 0 0 1 72 770 Tm", f"({_escape(header)}) Tj"]
    ops.append("1 0 0 1 72 720 Tm")
    for line in lines:
        ops += [f"({_escape(line)}) Tj", "T*"]
    if footer:
        ops += ["1 0 0 1 290 40 Tm", f"({_escape(footer)}) Tj"]
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def write_pdf(path: Path, pages: list[bytes], title: str | None = None) -> None:
    """A minimal valid PDF: catalog, page tree, one Helvetica font, one content stream per page, Info."""
    n = len(pages)
    font_id, info_id, first_page = 3, 4, 5
    objs: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: ("<< /Type /Pages /Kids [" + " ".join(f"{first_page + 2 * i} 0 R" for i in range(n))
            + f"] /Count {n} >>").encode(),
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        info_id: (f"<< /Title ({_escape(title)}) /Producer (twinforge tests) >>" if title
                  else "<< /Producer (twinforge tests) >>").encode("latin-1"),
    }
    for i, stream in enumerate(pages):
        page, content = first_page + 2 * i, first_page + 2 * i + 1
        objs[page] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R"
                      f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>").encode()
        objs[content] = f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objs):
        offsets[num] = len(out)
        out += f"{num} 0 obj\n".encode() + objs[num] + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offsets[k]:010d} 00000 n \n" for k in sorted(objs)).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


def main() -> None:
    pages = [_content(lines, HEADER, f"Page {i + 1}") for i, lines in enumerate(PAGES)]
    write_pdf(HERE / "paper.pdf", pages, title="Sparse Adapters for Thinking Twins")
    # no Info title: the title comes from the first heading-like line
    write_pdf(HERE / "untitled.pdf", [_content(["On Hyperphrases", "A dense chain of concepts."], None, None)])
    # a page with a drawing and no text at all, as a scan without OCR looks to a text extractor
    write_pdf(HERE / "scanned.pdf", [b"0 0 1 rg 72 72 468 648 re f"])

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(HERE / "paper.pdf"))
    writer.encrypt("secret", algorithm="RC4-128")  # RC4 needs no `cryptography` package to read or write
    with open(HERE / "encrypted.pdf", "wb") as f:
        writer.write(f)


if __name__ == "__main__":
    main()
