"""Markdown → safe HTML for the web UI: assistant replies, chat answers and the persona card.

Two locks, so one failing still leaves the other: markdown-it parses with raw HTML off (a `<script>` or
`<b onmouseover=…>` in a message becomes the text it is), and nh3 then keeps only the tags and attributes listed
here (no images, no styles, no event handlers; links only to http(s), mailto or the UI's own `#/…` pages).
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

MAX_CHARS = 200_000  # longer texts are shown as plain text: rendering is for reading, not for bulk

_md = (MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
       .enable(["table", "strikethrough"])
       .disable("image"))  # an image would make the browser fetch a URL named by the archive

_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
         "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"}}
_SCHEMES = {"http", "https", "mailto"}
_LANGUAGE_CLASS = re.compile(r"^language-[\w+-]{1,40}$")


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "code" and name == "class":
        return value if _LANGUAGE_CLASS.match(value) else None
    return value


def to_html(text: str) -> str:
    """Sanitised HTML for a markdown text ('' for an empty one)."""
    if not text:
        return ""
    if len(text) > MAX_CHARS:
        return "<pre>" + html.escape(text) + "</pre>"
    return nh3.clean(_md.render(text), tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=_SCHEMES,
                     attribute_filter=_attribute, link_rel="noopener noreferrer nofollow")

