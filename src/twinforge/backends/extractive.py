"""The no-model backend: an extractive summary of the last user message, deterministic and instant.

It lets every stage run (and be tested) with nothing installed and no server. It does not *understand* anything:
it picks the sentences that carry the text's most frequent content words, favouring early ones, and returns them
verbatim. Real distillation — paraphrase, abstraction, judgement — needs a model (`llamacpp`, `openai`,
`transformers`).

With a JSON schema it fills a structurally valid object: string fields get key sentences (in rank order),
arrays of strings get keyphrases, enums their first option, numbers their minimum (or 0), booleans false.
`$ref` (local), `anyOf`/`oneOf` (first branch) and `maxLength`/`minItems`/`maxItems` are honoured; `pattern`,
`format` and `minLength` beyond the text at hand are not.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..text.stopwords import CHAT_STOPWORDS
from .base import BackendError, Completion, Message, Request, complete_in_order
from .config import BackendConfig

TOP_SENTENCES = 3
KEYPHRASES = 5
_MAX_DEPTH = 12  # recursion guard for self-referencing schemas

_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace, or at a line break.
_SENT_END = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+|\n+")
_BULLET = re.compile(r"^\s*(?:[-*•>]+|\d+[.)])\s+")
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:[-'][^\W\d_]+)*")
_CYRILLIC = re.compile(r"[а-яё]")
_STOP = CHAT_STOPWORDS


class ExtractiveBackend:
    name = "extractive"
    model = "extractive"

    def __init__(self, cfg: BackendConfig):
        self.cfg = cfg

    def complete(self, request: Request) -> Completion:
        text = _last_user_text(request.messages)
        doc = _Document(text)
        budget = request.max_tokens or self.cfg.max_tokens
        if request.json_schema is not None:
            try:
                value = _Filler(doc, request.json_schema).fill(request.json_schema, 0)
            except (TypeError, KeyError, ValueError) as e:  # a schema shape we cannot read
                raise BackendError(f"extractive backend cannot fill this JSON schema ({e})",
                                   "use a model backend for complex schemas") from e
            out = json.dumps(value, ensure_ascii=False)
        else:
            out = doc.summary(budget)
        return Completion(text=out, model=self.model, meta={"backend": self.name, "sentences": len(doc.sentences)})

    def complete_many(self, requests: Sequence[Request]) -> list[Completion | BackendError]:
        return complete_in_order(self, requests)  # instant and CPU-bound: threads would only add overhead


def create(cfg: BackendConfig) -> ExtractiveBackend:
    return ExtractiveBackend(cfg)


def _last_user_text(messages: Sequence[Message]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return m.get("content") or ""
    return (messages[-1].get("content") or "") if messages else ""


def _stem(word: str) -> str:
    """A crude stem, enough for frequency counting: a 5-letter prefix merges most Russian inflections
    (модель/модели/моделью); English loses a plural s."""
    w = word.lower()
    if _CYRILLIC.match(w):
        return w[:5]
    return w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w


def _content_words(sentence: str) -> list[str]:
    """Words that carry meaning, as written (the case is kept for keyphrases; counting goes by stem)."""
    return [w for w in _WORD.findall(sentence) if len(w) > 2 and w.lower() not in _STOP]


class _Document:
    """Sentences of one text, ranked; keyphrases. Everything deterministic (ties broken by position)."""

    def __init__(self, text: str):
        prose = _CODE_FENCE.sub("\n", text)  # code blocks are not sentences
        parts = (_BULLET.sub("", p).strip() for p in _SENT_END.split(prose))
        self.sentences = [p for p in parts if p and _WORD.search(p)]
        self.words = [_content_words(s) for s in self.sentences]
        self.freq = Counter(_stem(w) for ws in self.words for w in ws)
        self.ranked = self._rank()

    def _rank(self) -> list[int]:
        if not self.sentences:
            return []
        top = max(self.freq.values(), default=1)
        n = len(self.sentences)
        scores = []
        for i, words in enumerate(self.words):
            stems = {_stem(w) for w in words}
            # Density of frequent content words, with a mild length penalty so long rambles do not win by size.
            keyword = sum(self.freq[s] / top for s in stems) / math.sqrt(len(words)) if words else 0.0
            position = 1.0 - i / n  # opening sentences usually state the point
            short = 0.5 if len(words) < 3 else 1.0
            scores.append((keyword + 0.5 * position) * short)
        return sorted(range(n), key=lambda i: (-scores[i], i))

    def summary(self, max_tokens: int, k: int = TOP_SENTENCES) -> str:
        """The top k sentences in their original order, within ~max_tokens (at least one, cut if need be)."""
        if not self.ranked:
            return ""
        budget = max_tokens * 3  # ~3 characters a token for Russian, more for English: stay on the safe side
        chosen: list[int] = []
        used = 0
        for i in self.ranked[:k]:
            if chosen and used + len(self.sentences[i]) > budget:
                break
            chosen.append(i)
            used += len(self.sentences[i]) + 1
        text = " ".join(self.sentences[i] for i in sorted(chosen))
        return _cut(text, budget)

    def key_sentence(self, n: int) -> str:
        return self.sentences[self.ranked[n % len(self.ranked)]] if self.ranked else ""

    def keyphrases(self, k: int = KEYPHRASES) -> list[str]:
        """Repeated two-word phrases first, then single keywords: surface forms, most frequent first."""
        bigrams: Counter[tuple[str, str]] = Counter()
        surfaces: dict[str, Counter[str]] = {}
        for words in self.words:
            for w in words:
                surfaces.setdefault(_stem(w), Counter())[w] += 1
            bigrams.update(zip(words, words[1:], strict=False))
        phrases = [f"{a} {b}" for (a, b), c in bigrams.most_common() if c >= 2]  # most_common keeps first-seen order
        covered = {_stem(w) for p in phrases for w in p.split()}
        for stem, _ in self.freq.most_common():
            if stem not in covered:
                phrases.append(surfaces[stem].most_common(1)[0][0])
        return phrases[:k]


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:")


class _Filler:
    """Builds a value that validates against (simple) JSON schemas from one document's sentences and phrases."""

    def __init__(self, doc: _Document, root: dict):
        self.doc = doc
        self.root = root
        self.strings = 0  # the n-th string field gets the n-th key sentence

    def fill(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None if depth > _MAX_DEPTH else self._string({})
        if "$ref" in schema:
            return self.fill(self._resolve(schema["$ref"]), depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        if "default" in schema:
            return schema["default"]
        for key in ("anyOf", "oneOf", "allOf"):
            if schema.get(key):
                branch = schema[key][0]
                if key == "allOf":  # merge the parts' keywords: enough for the usual {"$ref"} + extras
                    branch = {k: v for part in schema[key] for k, v in self._deref(part).items()}
                return self.fill(branch, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((t for t in kind if t != "null"), "null")
        if kind is None:  # untyped: guess from the keywords present
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            props = schema.get("properties", {})
            names = list(props) + [r for r in schema.get("required", []) if r not in props]
            return {name: self.fill(props.get(name, {"type": "string"}), depth + 1) for name in names}
        if kind == "array":
            return self._array(schema, depth)
        if kind == "string":
            return self._string(schema)
        if kind in ("integer", "number"):
            return self._number(schema, kind == "integer")
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        raise ValueError(f"unsupported type {kind!r}")

    def _deref(self, schema: dict) -> dict:
        return self._resolve(schema["$ref"]) if "$ref" in schema else schema

    def _resolve(self, ref: str) -> dict:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref is supported, got {ref!r}")
        node: Any = self.root
        for part in filter(None, ref[1:].split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _string(self, schema: dict) -> str:
        text = self.doc.key_sentence(self.strings)
        self.strings += 1
        return _cut(text, schema["maxLength"]) if "maxLength" in schema else text

    def _number(self, schema: dict, integer: bool) -> int | float:
        if "minimum" in schema:
            value = schema["minimum"]
        elif "exclusiveMinimum" in schema:
            value = schema["exclusiveMinimum"] + (1 if integer else 0.5)
        else:
            value = 0
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        return int(math.ceil(value)) if integer else value

    def _array(self, schema: dict, depth: int) -> list:
        items = self._deref(schema.get("items", {}) or {})
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        kind = items.get("type", "string") if isinstance(items, dict) else "string"
        if kind == "string" and not items.get("enum") and "const" not in items:
            values: list = [_cut(p, items["maxLength"]) if "maxLength" in items else p for p in self.doc.keyphrases()]
            while len(values) < lo:  # short text: fall back to key sentences
                values.append(self.doc.key_sentence(len(values)))
        else:
            values = [self.fill(items, depth + 1) for _ in range(max(lo, 1))]
        return values[:hi] if hi is not None else values
