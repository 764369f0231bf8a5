"""Secrets and personal data: find them and replace each with a typed placeholder.

Secrets become `<SECRET:kind>`, personal data `<EMAIL>`, `<PHONE>`, `<CARD>`. Only the value is replaced and
its cue stays, so the text still reads: `postgres://ivan:<SECRET:password>@db:5432/x`.

Precision first. A key-shaped string is a secret only with its vendor's prefix (`sk-proj-`, `ghp_`, `AKIA` …)
or right after a strong cue (`api_key = "…"`, `Authorization: Bearer …`, `password=…`); hex digests, UUIDs,
commit SHAs and base64 blobs are never redacted on looks alone. Placeholders are left alone: `sk-...`,
`YOUR_API_KEY`, AWS's documented `…EXAMPLE` keys, Slack's `XXXX` webhook, `user:password@host`.

Decisions on personal data (cases in tests/data/secrets/):
- e-mail: every real-looking address is redacted. Not e-mail: reserved example domains (`example.*`, `.test`,
  `.invalid`, `.localhost`, `.local`), hosts without a dot (`user@localhost`), git/ssh/scp targets
  (`git@github.com:o/r`, `ssh deploy@host`), URL user-info (`https://user@host`), `icon@2x.png`.
- phone: by format only (a business hotline is redacted like a private number): Russian `+7`/`8` with a
  3-digit area code and 7 digits, international `+CC …` with 10–15 digits, `(495) 123-45-67`, `(415) 555-2671`.
- card: Luhn-valid numbers starting 2–6, grouped 4-4-4-4 / 4-6-5 / 4-6-4, or 16 digits in a row (15 for
  Amex); any 13–19 digits right after a card word (`карта`, `Visa`, `card`). Other digit runs are far more
  often ids, seeds and timestamps, and a bare number in code (`default_rng(2435908729190400)`) is not a card.

Speed: every message of an archive comes through here, and most hold nothing. Each rule names trigger
substrings (or a digit count) and runs only when the text has one; a rule whose match starts at its trigger
tries its regex at the trigger's offsets only, instead of scanning the whole text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from .spans import Span, apply

_PERSONAL = {"email": "<EMAIL>", "phone": "<PHONE>", "card": "<CARD>"}


def placeholder(kind: str) -> str:
    return _PERSONAL.get(kind) or f"<SECRET:{kind}>"


# --- what a placeholder value looks like ------------------------------------------------------------------

# Docs and tutorials show keys as `sk-proj-xxxx…`, `YOUR_API_KEY`, `AKIAIOSFODNN7EXAMPLE`, `<token>`; a random
# 20+ character key contains none of these by chance.
_FILLER = ("example", "xxxx", "your", "placeholder", "redacted", "insert", "replace", "here", "...", "…", "***",
           "123456789", "abcdefgh")
_RUN_OF_SIX = re.compile(r"(.)\1{5}")
# A password is short and may be a word, so only whole placeholder words count (and `your…`, `ваш…`).
_PASSWORD_FILLER = frozenset(
    "password passwd pass pwd passphrase пароль secret_password changeme change_me changeit mypassword "
    "my_password mysecretpassword none null nil true false undefined yes no string str required optional "
    "hidden redacted example placeholder foo bar baz qux foobar".split()
)


def _filler(value: str) -> bool:
    low = value.lower()
    return any(f in low for f in _FILLER) or bool(_RUN_OF_SIX.search(value))


def _password_filler(value: str) -> bool:
    low = value.lower()
    return (low in _PASSWORD_FILLER or low.startswith(("your", "ваш", "my_pass", "<")) or "xxx" in low
            or "***" in low or "..." in low or "…" in low or len(set(low)) == 1)


_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[^\W\d_]")
# values that are code, not a literal: attribute chains, SCREAMING_SNAKE constants, calls, templates, paths
_DOTTED = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")
_CONSTANT = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_IDENT = re.compile(r"[A-Za-z_]\w*")
# templates and env references, YAML anchors, aliases and tags (`*db_pass`, `!vault`), paths
_TEMPLATE_START = ("$", "%", "{", "<", "(", "[", "&", "*", "!", "/", "~", "\\", "os.", "process.")


def _random(value: str) -> bool:
    """Looks like a generated token: letters and digits, no placeholder marks."""
    return bool(_HAS_DIGIT.search(value) and _HAS_LETTER.search(value)) and not _filler(value)


def _code(value: str) -> bool:
    """A variable, call or template where a literal would be (`api_key=os.environ[...]`, `${{ secrets.X }}`)."""
    dotted = _DOTTED.fullmatch(value) and max(map(len, value.split("."))) < 24  # vk1.a.<random> is a token
    return (value.startswith(_TEMPLATE_START) or "(" in value or "[" in value
            or bool(dotted or _CONSTANT.fullmatch(value)))


def _variable(value: str) -> bool:
    """A bare name that reads as a variable (`self.key_password = key_password`), not as a password: no digit,
    or lowercase snake_case."""
    return bool(_IDENT.fullmatch(value)) and (not _HAS_DIGIT.search(value) or ("_" in value and value.islower()))


def _argument(value: str, after: str) -> bool:
    """A variable passed on: `connect(password=pwd)`, `{password: pass, …}`."""
    return after[:1] in (",", ")", "}") and bool(_IDENT.fullmatch(value))


def _value(m: re.Match[str]) -> tuple[int, int]:
    """The redacted part of a match: group `v` (quoted value) or `b` (bare value), else the whole match."""
    for g in ("v", "b"):
        if g in m.re.groupindex and m.start(g) >= 0:
            return m.span(g)
    return m.span()


# --- validators: (match, value) -> is it really one ------------------------------------------------------


def _token(m: re.Match[str], v: str) -> bool:
    return not _filler(v)


def _random_token(m: re.Match[str], v: str) -> bool:
    return _random(v)


def _private_key(m: re.Match[str], v: str) -> bool:
    # `-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----` in docs has no key material in it
    return bool(re.search(r"[A-Za-z0-9+/]{40}", v))


def _jwt(m: re.Match[str], v: str) -> bool:
    # the header must decode to a JSON object naming its algorithm
    head = v.split(".", 1)[0]
    try:
        obj = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(obj, dict) and "alg" in obj


_PROSE_SEP = re.compile(r"\s+(?:is|это|[—–-])\s+|\s*[—–]\s*|\s+")
_PASSWORD_SYMBOL = re.compile(r"[\d!@#$%^&*+=?~-]")


def _template(value: str) -> bool:
    return value.startswith(("{", "$", "%", "<")) or "{{" in value or "${" in value or "%s" in value


def _password(m: re.Match[str], v: str) -> bool:
    """How sure the cue makes us, by form: a quoted value or `key=value` is a literal; `password: x` needs a
    digit or symbol in the value; prose (`пароль от почты Lena2019`) a letter and a digit, or 6+ digits."""
    if len(v) < 4 or _password_filler(v) or _template(v):
        return False
    sep = m.group("sep")
    prose = _PROSE_SEP.fullmatch(sep) is not None
    if prose and m.group("key").lower() in ("pwd", "pass"):  # `pwd` is also the shell command
        return False
    if m.start("v") >= 0:
        return True
    after = m.string[m.end("b") : m.end("b") + 1]
    if _code(v) or _variable(v) or (not prose and _argument(v, after)):
        return False
    if prose:
        return bool(_HAS_LETTER.search(v) and _HAS_DIGIT.search(v)) or (v.isdigit() and len(v) >= 6)
    if "=" in sep and "==" not in sep:  # .env, connection strings, CLI flags
        return True
    return bool(_PASSWORD_SYMBOL.search(v))


def _literal_password(m: re.Match[str], v: str) -> bool:
    return len(v) >= 4 and not _password_filler(v) and not _template(v)


def _generic(m: re.Match[str], v: str) -> bool:
    quoted = m.start("v") >= 0
    return _random(v) and (quoted or not _code(v))


def _authorization(m: re.Match[str], v: str) -> bool:
    if _filler(v):
        return False
    if (m.group("scheme") or "").lower() == "basic":  # base64 of `user:password`
        try:
            return b":" in base64.b64decode(v + "=" * (-len(v) % 4), validate=True)
        except (ValueError, binascii.Error):
            return False
    return _random(v)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _neighbours(m: re.Match[str]) -> tuple[str, str]:
    """The character before the redacted value and the two after it ("" at the ends of the text)."""
    s, e = _value(m)
    return m.string[s - 1 : s] if s else "", m.string[e : e + 2]


def _number_goes_on(after: str) -> bool:
    """The two characters after a number continue it: a word, a decimal, a fraction."""
    return after[:1].isalnum() or after[:1] == "_" or (after[:1] in ".,/" and after[1:2].isdigit())


def _card(m: re.Match[str], v: str) -> bool:
    before, after = _neighbours(m)
    if before and (before.isalnum() or before in "_.,+/-"):  # inside a longer number, id or decimal
        return False
    if before in ("(", "[", "=") and v.isdigit():  # a bare number in code: `default_rng(2435908729190400)`
        return False
    digits = re.sub(r"\D", "", v)
    return not _number_goes_on(after) and len(set(digits)) > 1 and _luhn(digits)


def _card_after_cue(m: re.Match[str], v: str) -> bool:
    return not _number_goes_on(_neighbours(m)[1]) and _luhn(v)


_DATE = re.compile(r"\d{4}-\d\d-\d\d")


def _phone(m: re.Match[str], v: str) -> bool:
    before, after = _neighbours(m)
    if before and (before.isalnum() or before in "_+.,/-)"):  # `2018 …`, `1.8 …`, `C++17`, `f(x)(…)`
        return False
    if after[:1].isalnum() or (after[:1] in "-.:/" and after[1:2].isdigit()):  # `…-1`, times, fractions
        return False
    if v[0] == "+" and v[1] != "7" and v[1:].isdigit():  # international numbers are written with separators
        return False
    digits = re.sub(r"\D", "", v)
    if len(set(digits[-10:])) == 1:  # an input mask: +7 (999) 999-99-99
        return False
    return 10 <= len(digits) <= 15 and not _DATE.search(v)


# `logo@2x.png`, `bundle@1.2.min.js`: file names, not mail domains
_NOT_MAIL_TLD = frozenset(
    "png jpg jpeg gif svg webp ico bmp avif js mjs ts tsx jsx css scss json yaml yml html vue".split()
)
_RESERVED_TLD = ("test", "invalid", "localhost", "local", "example")
# `name@domain.ru`, `user@gmail.com`: how people write an address in a question about addresses
_PLACEHOLDER_LOCAL = frozenset(
    "user username name email e-mail mail test you your yourname youremail someone somebody foo bar "
    "john.doe jane.doe firstname.lastname name.surname".split()
)
_PLACEHOLDER_DOMAIN = frozenset("domain yourdomain mydomain yoursite mysite yourcompany".split())
_SHELL_LINE = re.compile(r"\b(?:ssh|scp|sftp|rsync|mosh|ssh-copy-id)\b")


def _email(m: re.Match[str], v: str) -> bool:
    local, _, domain = v.rpartition("@")
    labels = domain.lower().split(".")
    if labels[-1] in _NOT_MAIL_TLD or labels[-1] in _RESERVED_TLD or "example" in labels[:-1]:
        return False
    if local.lower() in _PLACEHOLDER_LOCAL or _PLACEHOLDER_DOMAIN.intersection(labels[:-1]):
        return False
    if local.lower() == "git":  # git@github.com:owner/repo
        return False
    before, after = _neighbours(m)
    if before == "@" or after[:1] == "(":  # `L@D@L.conjugate()`: Python's matrix product
        return False
    text, s = m.string, m.start()
    line_start = text.rfind("\n", 0, s) + 1
    word = text[line_start:s].rsplit(None, 1)[-1] if text[line_start:s].strip() else ""
    if word.endswith("/") or (word.endswith(":") and "://" in word):
        return False  # URL user-info: https://user@host, postgres://user:pass@host
    if after[:1] == ":" and after[1:2] and (after[1:2] in "/~" or after[1:2].isalnum()):
        return False  # scp/git target: user@host:path
    return not _SHELL_LINE.search(text, line_start, s)


# --- the table ----------------------------------------------------------------------------------------------


def _at(text: str, i: int) -> int:
    return i


def _local_part(text: str, at: int) -> int:
    """Where the e-mail whose `@` is at `at` starts: back over the local part, at most 64 characters."""
    i = at
    while i > 0 and at - i < 64 and (text[i - 1].isalnum() or text[i - 1] in "._%+-"):
        i -= 1
    return i


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    regex: re.Pattern[str]
    ok: Callable[[re.Match[str], str], bool]  # (match, redacted value): is it really one
    triggers: tuple[str, ...] = ()  # lowercase; the rule runs only if one occurs in text.lower() ...
    min_digits: int = 0  # ... or, for numbers, only if the text has this many digits
    # Where a match starts, given a trigger's offset: the regex is tried there only (a regex that begins with a
    # lookbehind, an alternation or IGNORECASE is slow to scan a whole text with). None: scan the whole text
    # (the trigger falls inside the match, or the rule is gated by digits).
    start: Callable[[str, int], int] | None = _at


def _re(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.VERBOSE)


_TOK = r"(?<![\w-])"  # a token starts here: not glued to a longer word, base64 or id
_END = r"(?![\w-])"
# `key = value`, `key: value`, `"key": "value"`, `key => value`, `KEY=value`
_ASSIGN = r"""["']?[ \t]*(?:=>|:=|=|:)[ \t]*"""
# after +7 or 8: a 3-digit area code (Russia 3xx-9xx, Kazakhstan 7xx), then 7 digits as 3-2-2 or 3-4
_RU_PHONE = (r"[ \u00a0-]?(?:\([ ]?[3-9]\d{2}[ ]?\)|[3-9]\d{2})"
             r"[ \u00a0-]?\d{3}[ \u00a0-]?(?:\d{2}[ \u00a0-]?\d{2}|\d{4})")

# Priority order: where two rules match the same text the earlier one wins (a `ghp_` token given as a URL
# password is a github_token; a key after `api_key =` is its vendor's kind, not generic_api_key).
_RULES: tuple[_Rule, ...] = (
    # whole PEM block; a key pasted without its END line is redacted through its last base64 line
    _Rule("private_key", _re(r"""
        -----BEGIN[ ](?:[A-Z0-9]+[ ]){0,3}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----
        (?: (?s:.{0,30000}?) -----END[ ](?:[A-Z0-9]+[ ]){0,3}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----
          | (?: (?:\r?\n|\\n)+ [ \t]* (?:[A-Za-z0-9+/=]{8,}|(?:Proc-Type|DEK-Info|Comment):[^\n\\]*) )+ )"""),
          _private_key, ("-----begin",)),
    _Rule("anthropic_key", _re(_TOK + r"sk-ant-(?:api|admin|oat|sid)\d\d-[A-Za-z0-9_-]{40,}" + _END),
          _token, ("sk-ant-",)),
    # project/service/admin keys; legacy and OpenAI-compatible vendors' (DeepSeek, …) `sk-` + 32+ alphanumerics
    _Rule("openai_key", _re(_TOK + r"sk-(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{32,})"
                            + _END), _random_token, ("sk-",)),
    _Rule("github_token", _re(_TOK + r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,255})" + _END),
          _token, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    _Rule("gitlab_token", _re(_TOK + r"glpat-[A-Za-z0-9_-]{20,}" + _END), _token, ("glpat-",)),
    _Rule("huggingface_token", _re(_TOK + r"hf_[A-Za-z0-9]{30,40}" + _END), _token, ("hf_",)),
    # secret and restricted keys; `pk_live_` publishable keys are public by design
    _Rule("stripe_key", _re(_TOK + r"[sr]k_(?:live|test)_[A-Za-z0-9]{20,}" + _END), _token,
          ("k_live_", "k_test_"), start=None),
    _Rule("slack_token", _re(_TOK + r"(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}" + _END), _random_token,
          ("xox", "xapp-")),
    _Rule("slack_webhook", _re(r"hooks\.slack\.com/services/(?P<v>T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,})"),
          _token, ("hooks.slack.com",)),
    _Rule("google_api_key", _re(_TOK + r"AIza[0-9A-Za-z_-]{35}" + _END), _token, ("aiza",)),
    # long-term (AKIA) and temporary (ASIA) access key ids
    _Rule("aws_access_key", _re(r"(?<![A-Za-z0-9])A[KS]IA[A-Z0-9]{16}(?![A-Za-z0-9])"), _token, ("akia", "asia")),
    # 40 base64 characters are a secret only next to their cue: the key's name, or the access key id before it
    # (the credentials CSV, `aws configure` prompts, boto3 arguments)
    _Rule("aws_secret_key", _re(r"""
        (?i:aws[_ -]?secret[_ -]?(?:access[_ -]?)?key|secret[_ -]?access[_ -]?key)
        (?:[ \t]*\[[^\]\n]*\])? """ + _ASSIGN + r"""["']?
        (?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"""), _token, ("aws", "secret")),
    _Rule("aws_secret_key", _re(r"""
        A[KS]IA[A-Z0-9]{16}["']?[ \t]*[,;|:\t][ \t]*["']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"""),
          _token, ("akia", "asia")),
    _Rule("telegram_token", _re(r"(?<![\d:])\d{8,10}:AA[A-Za-z0-9_-]{33}" + _END), _token, (":aa",), start=None),
    # header.payload.signature, header and payload both JSON objects (`{"` is `eyJ` in base64url)
    _Rule("jwt", _re(_TOK + r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}" + _END),
          _jwt, ("eyj",)),
    # the password in URL user-info: scheme://user:PASSWORD@host
    _Rule("password", _re(r"""://[^\s:/@"'<>]*:(?P<v>[^\s/?#"'<>,]+)@(?=[\w\[])"""), _literal_password, ("://",)),
    # passwords given to command-line tools: curl -u user:PASS, mysql -pPASS, sshpass -p PASS
    _Rule("password", _re(r"""
        (?: curl\b[^\n]*?[ \t](?:-u|--user)[ \t=]+["']?[^\s:"']*:
          | (?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?[ \t]-p
          | sshpass[ \t]+-p[ \t]*["']? )
        (?P<v>[^\s"',;]+)"""), _literal_password, ("curl", "mysql", "mariadb", "sshpass")),
    # the second of two string literals in a login call: `smtp.login("ivan@…", "abcd efgh …")`,
    # `requests.get(url, auth=("ivan", "…"))`, `HTTPBasicAuth("ivan", "…")`
    _Rule("password", _re(r"""(?i)
        (?: \.login\( | auth[ \t]*=[ \t]*[(\[] | basicauth\( ) [ \t]*["'][^"'\n]*["'][ \t]*,[ \t]*
        (?P<q>["'])(?P<v>[^"'\n]+)(?P=q)"""), _literal_password, (".login(", "auth", "basicauth(")),
    # `password=…` in code, .env, connection strings and CLI flags; `пароль от wifi: …`, `my password is …` in
    # prose. A bare value ends before sentence-final dots.
    _Rule("password", _re(r"""(?i)
        (?P<key>password|passwd|passphrase|pwd|(?<=[_.-])pass|пароль)(?!\w)
        (?:[ \t]+(?:от|для|к|ко|на|for|to|of|on)(?:[ \t]+[^\s:=—–,.]{1,30}){1,3}?)?   # `пароль от почты`
        (?P<sep> ["']?[ \t]*(?:=>|:=|={1,3}|:)[ \t]* | [ \t]+(?:is|это|[—–-])[ \t]+ | [ \t]*[—–][ \t]* | [ \t]+ )
        (?: (?P<q>["'])(?P<v>[^"'\n]{1,200})(?P=q)
          | (?P<b>[^\s"'`,;&)<>\]}]{1,200}?)\.*(?=[\s"'`,;&)<>\]}]|\Z) )"""),
          _password, ("pass", "pwd", "пароль")),
    # `api_key = "…"`, `"X-API-Key": …`, `BOT_TOKEN=…`, `clientSecret: '…'`, `токен: …`
    _Rule("generic_api_key", _re(r"""(?i)
        (?: api[_ -]?(?:key|secret|token) | apikey | secret[_-]?key | (?:account|sharedaccess)[_-]?key
          | (?: (?<![a-z]) | (?<=client|access) | (?<=refresh|session|private) | (?<=app|bot) | (?<=auth) | (?<=id) )
            (?:token|secret)
          | токен | ключ[_ ]api | api[_ ]ключ ) (?!\w)""" + _ASSIGN + r"""
        (?: (?P<q>["'])(?P<v>[^"'\s]{16,512})(?P=q) | (?P<b>[A-Za-z0-9._~+/=-]{16,512}) )"""),
          _generic, ("api", "secret", "token", "account", "sharedaccess", "токен", "ключ")),
    _Rule("generic_api_key", _re(r"""(?i)
        (?: authorization""" + _ASSIGN + r"""["']?[ \t]*(?P<scheme>bearer|token|basic|api-key|oauth) | bearer )
        [ \t]+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)"""), _authorization, ("bearer", "authorization")),
    # Numbers: each regex starts with a plain digit or character, which the regex engine scans for quickly.
    # Grouped 4-4-4-4 (most cards), 4-6-5 (Amex) or 4-6-4 (Diners), or ungrouped 16 digits (15 for Amex):
    # other ungrouped lengths are far more often ids, seeds and timestamps than cards.
    _Rule("card", _re(r"""
        [2-6]\d{3}(?: (?P<s>[ \u00a0-]?)\d{4}(?P=s)\d{4}(?P=s)\d{4}
                    | (?<=3\d{3})(?P<t>[ \u00a0-]?)\d{6}(?P=t)\d{4,5}
                    | (?<=3[47]\d\d)\d{11} ) (?!\d)"""),
          _card, min_digits=13, start=None),
    # any 13-19 digits right after a card word: `UnionPay: 6222…`, `карта 2200…`
    _Rule("card", _re(r"""(?i)(?<![a-z])(?:card|карт|visa|mastercard|maestro|unionpay|мир)[^\d\n]{0,20}?
                           (?P<v>[2-6]\d{12,18})(?!\d)"""), _card_after_cue,
          ("card", "карт", "visa", "mastercard", "maestro", "unionpay", "мир")),
    _Rule("phone", _re(r"8" + _RU_PHONE + r"(?!\d)"), _phone, min_digits=10, start=None),  # 8 (916) 123-45-67
    _Rule("phone", _re(r"""\+(?: 7""" + _RU_PHONE + r"""                   # +7 916 123 45 67
                                | [1-9]\d{0,2}(?:[ \u00a0.-]?(?:\(\d{1,4}\)|\d{2,4})){2,6} )  # +44 20 7946 0958
                           (?!\d)"""), _phone, min_digits=10, start=None),
    _Rule("phone", _re(r"\(\d{3}\)[ \u00a0]?\d{3}[ \u00a0.-]?(?:\d{2}[ \u00a0-]\d{2}|\d{4})(?!\d)"), _phone,
          min_digits=10, start=None),  # (495) 123-45-67, (415) 555-2671
    _Rule("email", _re(r"[\w.%+-]{1,64}@(?:[\w-]{1,63}\.)+[^\W\d_]{2,24}(?![\w-])"), _email, ("@",),
          start=_local_part),
)

KINDS: tuple[str, ...] = tuple(dict.fromkeys(r.kind for r in _RULES))


def _rules_for(kinds: Collection[str] | None) -> tuple[_Rule, ...]:
    if kinds is None:
        return _RULES
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown redaction kinds: {', '.join(sorted(unknown))} (known: {', '.join(KINDS)})")
    return tuple(r for r in _RULES if r.kind in kinds)


def _digits(text: str) -> int:
    return sum(map(text.count, "0123456789"))


def _matches(rule: _Rule, text: str, low: str) -> Iterator[re.Match[str]]:
    # lower() never shortens a character, so equal lengths mean equal offsets; else scan the original
    if rule.start is None or len(low) != len(text):
        yield from rule.regex.finditer(text)
        return
    starts = set()
    for t in rule.triggers:
        i = low.find(t)
        while i >= 0:
            starts.add(rule.start(text, i))
            i = low.find(t, i + 1)
    for i in sorted(starts):
        m = rule.regex.match(text, i)
        if m:
            yield m


def find(text: str, kinds: Collection[str] | None = None) -> list[Span]:
    """Sorted, non-overlapping spans of secrets and personal data in `text`, each with its placeholder."""
    if not text:
        return []
    low = text.lower()
    digits = -1
    taken: list[Span] = []
    for rule in _rules_for(kinds):
        if rule.min_digits:
            if digits < 0:
                digits = _digits(text)
            if digits < rule.min_digits:
                continue
        else:
            for t in rule.triggers:
                if t in low:
                    break
            else:
                continue
        for m in _matches(rule, text, low):
            start, end = _value(m)
            if start == end or any(start < s.end and s.start < end for s in taken):
                continue
            if rule.ok(m, text[start:end]):
                taken.append(Span(start, end, rule.kind, placeholder(rule.kind)))
    taken.sort(key=lambda s: s.start)
    return taken


def redact(text: str, kinds: Collection[str] | None = None) -> tuple[str, list[Span]]:
    """`text` with every secret and piece of personal data replaced, and the spans that were replaced."""
    spans = find(text, kinds)
    return (apply(text, spans) if spans else text), spans
