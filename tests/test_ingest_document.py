"""Plain markdown / text files as single-author documents."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from twinforge.ingest import document


def one(text: str, name: str = "notes/idea.md"):
    (conv,) = list(document.parse(text, name))
    return conv


@pytest.mark.parametrize("name", ["a.md", "b.MARKDOWN", "dir/c.txt", "Notes.Md"])
def test_sniff_text_names(name):
    assert document.sniff("anything", name)


@pytest.mark.parametrize("name", ["a.json", "b.html", "README", "c.md.zip"])
def test_sniff_rejects_other_names(name):
    assert not document.sniff("# heading", name)


def test_single_user_message_with_hash_uid():
    text = "# My essay\n\nFirst paragraph.\n"
    conv = one(text)
    assert conv.provider == "document" and conv.uid is None and conv.lossy is False
    assert conv.title == "My essay"
    (m,) = conv.messages
    assert (m.role, m.kind) == ("user", "dialog")
    assert m.uid == "doc-" + hashlib.sha1(text.encode()).hexdigest()[:16]
    assert m.text == "# My essay\n\nFirst paragraph."


def test_title_falls_back_to_file_stem():
    assert one("just words, no heading", "drafts/letter to anna.txt").title == "letter to anna"


def test_first_heading_of_any_level_outside_code():
    text = "intro\n```python\n# a comment\n```\n## Section two ##\n# Later\n"
    assert one(text).title == "Section two"


def test_frontmatter_stripped_and_kept_in_meta():
    text = "---\ntitle: From frontmatter\ncreated: 2024-03-01\ntags: [a, b]\n---\n# Heading\n\nBody\n"
    conv = one(text)
    assert conv.messages[0].text == "# Heading\n\nBody"
    assert conv.meta == {"title": "From frontmatter", "created": "2024-03-01", "tags": ["a", "b"]}
    assert conv.title == "From frontmatter"
    assert conv.created_at == datetime(2024, 3, 1, tzinfo=timezone.utc).timestamp()


def test_frontmatter_without_title_uses_heading():
    conv = one("---\naliases: [x]\n---\n# Heading\nBody")
    assert conv.title == "Heading" and conv.meta == {"aliases": ["x"]}


def test_horizontal_rules_are_not_frontmatter():
    text = "---\n\nA paragraph between rules.\n\n---\nmore"
    conv = one(text)
    assert conv.messages[0].text == text and conv.meta == {}


def test_invalid_frontmatter_is_kept_raw_with_warning():
    conv = one("---\nbad: [unclosed\n---\nbody")
    assert conv.messages[0].text == "body"
    assert conv.meta == {"frontmatter_raw": "bad: [unclosed"}
    assert conv.warnings


def test_bom_and_crlf():
    conv = one("\ufeff---\r\ntitle: T\r\n---\r\nline one\r\nline two\r\n")
    assert conv.title == "T" and conv.messages[0].text == "line one\nline two"


def test_empty_document_yields_nothing():
    assert list(document.parse("  \n\n", "empty.md")) == []
    assert list(document.parse("---\ntitle: only meta\n---\n", "meta.md")) == []
