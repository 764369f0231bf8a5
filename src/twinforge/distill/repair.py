"""From a model's raw answer to a validated draft: lenient JSON repair, then strict validation.

Small models slip in predictable ways: a code fence around the JSON, a sentence before it, trailing commas,
single quotes, unquoted keys, Python's True/None, and answers cut off at the token limit. `loads` undoes those;
`parse_draft` then checks the shape with pydantic, and its error message is what the retry shows the model.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|yaml)?[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_CLOSER = {"{": "}", "[": "]"}
_PY = {"True": "true", "False": "false", "None": "null"}
_ROLLBACKS = 4  # how many commas a truncated answer may be cut back to


class RepairError(ValueError):
    """No JSON could be recovered from the text."""


def loads(text: str) -> Any:
    """Parse JSON as a model wrote it; RepairError when nothing sensible can be recovered."""
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        pass
    for candidate in _candidates(text):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise RepairError(f"no JSON object found in the answer ({_preview(text)})")


def repair(text: str) -> str:
    """The repaired JSON text (the first candidate that parses, else the main repair attempt)."""
    cands = list(_candidates(text))
    for c in cands:
        try:
            json.loads(c)
            return c
        except ValueError:
            continue
    return cands[0] if cands else text


def _preview(text: str, n: int = 80) -> str:
    t = " ".join(text.split())
    return repr(t[:n] + ("…" if len(t) > n else ""))


def _candidates(text: str):
    """Repairs to try, best first: the whole fixed text, then cut back to earlier commas (truncated answers)."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced and ("{" in fenced.group(1) or "[" in fenced.group(1)) else text
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        return
    out, stack, commas = _scan(body[start:])
    yield _close("".join(out), stack)
    for pos, snapshot in reversed(commas[-_ROLLBACKS:]):
        yield _close("".join(out[:pos]), snapshot)


def _scan(s: str) -> tuple[list[str], list[str], list[tuple[int, list[str]]]]:
    """One pass that rewrites the text into JSON-shaped pieces.

    Returns the pieces, the brackets still open at the end, and every top-level-or-deeper comma position with
    the brackets open there (so a truncated tail can be dropped cleanly)."""
    out: list[str] = []
    stack: list[str] = []
    commas: list[tuple[int, list[str]]] = []
    quote: str | None = None  # the quote character of the string we are in
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if quote:
            if c == "\\" and i + 1 < n:
                nxt = s[i + 1]
                out.append("'" if nxt == "'" else c + nxt)  # \' is Python, not JSON
                i += 2
                continue
            if c == quote:
                out.append('"')
                quote = None
            elif c == '"':
                out.append('\\"')  # a double quote inside a single-quoted string
            elif c == "\n":
                out.append("\\n")
            elif c in "\r\t":
                out.append("\\r" if c == "\r" else "\\t")
            else:
                out.append(c)
            i += 1
            continue
        if c in "\"'":
            quote = c
            out.append('"')
        elif c in "{[":
            stack.append(c)
            out.append(c)
        elif c in "}]":
            _drop_trailing_comma(out)
            if stack:
                out.append(_CLOSER[stack.pop()])  # the bracket that was open, whatever was written
            if not stack:
                break  # the value is complete; anything after it is commentary
        elif c == ",":
            commas.append((len(out), list(stack)))
            out.append(c)
        elif c.isalpha() or c == "_":
            m = _WORD.match(s, i)
            word = m.group(0) if m else c
            i += len(word)
            if word in ("true", "false", "null") or (out and out[-1][-1:].isdigit()):
                out.append(word)  # a literal, or the exponent of a number (1e5)
            elif word in _PY:
                out.append(_PY[word])
            else:
                out.append(json.dumps(word))  # an unquoted key, or a bare word value
            continue
        else:
            out.append(c)
        i += 1
    if quote:
        out.append('"')  # cut off inside a string
    return out, stack, commas


def _drop_trailing_comma(out: list[str]) -> None:
    j = len(out) - 1
    while j >= 0 and out[j].isspace():
        j -= 1
    if j >= 0 and out[j] == ",":
        del out[j]


def _close(text: str, stack: list[str]) -> str:
    text = text.rstrip()
    text = text.removesuffix(",")
    if text.endswith(":"):
        text += " null"  # a key whose value never came
    return text + "".join(_CLOSER[b] for b in reversed(stack))


# --- validation ----------------------------------------------------------------------------------------------


class DraftError(ValueError):
    """The answer is not a usable module draft; the message says why, for the retry prompt and the failures."""


def object_of(answer: str) -> dict:
    """The answer as a JSON object (repaired), or DraftError saying why it is none."""
    try:
        data = loads(answer)
    except RepairError as e:
        raise DraftError(str(e)) from e
    if not isinstance(data, dict):
        raise DraftError(f"expected a JSON object, found {type(data).__name__}")
    return data


class Draft(BaseModel):
    """What a backend fills (schema.MODEL_FIELDS); quotes are still plain text here."""

    model_config = ConfigDict(extra="ignore")
    title: str = ""
    phrase: str
    concepts: list[str]
    meta_move: str
    axes: list[str] = []
    inversions: list[str] = []
    hypotheses: list[str] = []
    transition_rules: list[str] = []
    open_questions: list[str] = []
    quotes: list[str] = []

    @field_validator("title", "phrase", "meta_move", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            v = " ".join(v)  # a one-sentence list
        return " ".join(v.split()) if isinstance(v, str) else v

    @field_validator("phrase", "meta_move")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("concepts", "axes", "inversions", "hypotheses", "transition_rules", "open_questions",
                     "quotes", mode="before")
    @classmethod
    def _items(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            return v  # let pydantic say what is wrong
        items, seen = [], set()
        for x in v:
            if isinstance(x, dict):  # {"text": ...} or {"name": ...}: take the text
                x = next((x[k] for k in ("text", "quote", "name", "concept", "value") if isinstance(x.get(k), str)),
                         None)
            if not isinstance(x, (str, int, float)) or isinstance(x, bool):
                continue
            s = " ".join(str(x).split())
            if s and s.casefold() not in seen:
                seen.add(s.casefold())
                items.append(s)
        return items

    @field_validator("concepts")
    @classmethod
    def _some_concepts(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one concept")
        return v


def parse_draft(text: str) -> Draft:
    """A validated draft from a raw answer; DraftError with a short, model-readable reason otherwise."""
    try:
        data = loads(text)
    except RepairError as e:
        raise DraftError(str(e)) from e
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, dict) and len(data) == 1:
        (inner,) = data.values()
        if isinstance(inner, dict):  # {"module": {...}}: unwrap
            data = inner
    return validate_draft(data)


def validate_draft(data: Any) -> Draft:
    if not isinstance(data, dict):
        raise DraftError(f"expected a JSON object, found {type(data).__name__}")
    try:
        return Draft.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()[:5])
        raise DraftError(problems) from e
