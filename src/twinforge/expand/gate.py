"""The quality gate of generated examples: each one is kept or set aside with a reason, never dropped silently.

Checks, in order; the first that fails is the reason (`example_rejects.reason`):

unparsed            the answer was no JSON object of the view's shape, or left a field empty
template-tokens     chat-template or prompt scaffolding in the text: braces, `<|im_start|>`, `[INST]`,
                    a line opening with "Question:", "Ответ:", "person:" and the like, or a field label of the
                    prompt echoed back ("Core claim:", "Как он сделан там (")
leaked-placeholder  clean's redaction placeholders (`<EMAIL>`, `<PHONE>`, `<CARD>`, `<SECRET:…>`) in the text
leaked-secret       something clean would redact (text/secrets.py): a key, a password, an address
too-short/too-long  an answer the model wrote under gate.min_answer_chars (a paraphrase: its question under
                    gate.min_chars), or all it wrote over gate.max_chars
wrong-language      the text is not in the module's language (text/language.py)
degenerate          a loop: more than gate.max_repeat of its word 4-grams are repeats, a character run of 10+, or
                    one text said twice (two turns of a dialog alike)
ungrounded          it names too few of the module's concepts (lemma match, text/lemmas.py): at least
                    gate.min_concepts of them and at least one; a paraphrase is grounded in its question's words,
                    a transfer in the target topic's concepts, a one-line depth in its idea's words
contradicts         a sentence restates the module's core claim (60%+ of its content lemmas) with one of those
                    words negated the other way ("does not keep" where the claim keeps, or the claim's "не" gone
                    from the word it negated). Deliberately simple: questions
                    and sentences that say they invert or suppose ("what if", "наоборот", "если") are not
                    assertions and are not read; a contradiction in other words is not caught
judge-low           (gate.judge on) the backend scored it below gate.judge_threshold; judge-failed: no score
near-duplicate      a model-written text mostly copies what it was written from (gate.near_duplicate of its word
                    3-grams are in the question it paraphrases, the idea it restates, the claim it starts from),
                    or is a near-duplicate (MinHash over word 3-grams, clean/dedupe.py's machinery) of a message
                    of another example, of this module or any other, or of an earlier kept generated text; texts
                    under four words must not equal one (normalized)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..clean.dedupe import NearDuplicates, normalize
from ..distill.schema import Module
from ..text import secrets
from ..text.language import UNDETERMINED, detect
from ..text.lemmas import analyze
from .config import GateConfig
from .generated import Candidate, prompt_labels

_TEMPLATE = re.compile(
    r"[{}]|<\|[^|>\s]{1,30}\|>|</?(?:think|s|im_start|im_end|start_of_turn|end_of_turn)>|\[/?INST\]"
    r"|^\s*(?:question|answer|q|a|person|reply|user|assistant|human|ai|вопрос|ответ|человек|реплика)\s*:"
    r'|"\w+"\s*:', re.IGNORECASE | re.MULTILINE)
_PLACEHOLDER = re.compile("|".join(re.escape(secrets.placeholder(k)) for k in ("email", "phone", "card"))
                          + r"|<SECRET:[^>]*>")
_RUN = re.compile(r"(\S)\1{9,}")
_WORD = re.compile(r"[^\W_]+")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
_NEGATION = frozenset(["не", "нет", "ни", "никогда", "нельзя", "not", "no", "never", "cannot", "none", "nothing"])
# a negation does not reach past these: in "не так, а классы" the "не" negates "так", not "классы"
_CONTRAST = frozenset(["а", "но", "однако", "зато", "but", "however", "whereas", "instead"])
_SUPPOSE = re.compile(r"\bwhat if\b|\bsuppose\b|\binvers|\binvert|\bturn(?:ed)? (?:it )?(?:over|around)|\bif\b|"
                      r"\bесли\b|\bнаоборот\b|\bинверс|\bпереверн|\bпредполож|\bа что\b|\bиначе\b", re.IGNORECASE)
MIN_LANGUAGE_LETTERS = 20  # shorter texts are not told apart by language
MIN_CLAIM_WORDS = 3  # a core claim with fewer content words is too short to recognise restated


@dataclass
class Verdict:
    keep: bool
    reason: str = ""
    detail: str = ""


def _content(text: str, lang: str | None) -> list[str]:
    return [t.lemma for t in analyze(text, lang) if t.pos != "FUNC"]


def rule_check(c: Candidate, module: Module, cfg: GateConfig) -> Verdict:
    """The checks that need no other example and no model (all but judge and near-duplicate)."""
    if c.error:
        return Verdict(False, "unparsed", c.error)
    lang = (module.language or "")[:2].lower() or None
    whole = "\n".join(c.generated)
    keys = [normalize(t) for t in c.generated]
    if len(set(keys)) < len(keys):
        return Verdict(False, "degenerate", "says the same text twice")
    for reason, why in (("template-tokens", _template(whole) or _echo(whole, lang)), ("leaked-placeholder", _placeholder(whole)),
                        ("leaked-secret", _secret(whole)), ("too-short", _short(c, cfg)),
                        ("too-long", _long(whole, cfg)), ("wrong-language", _language(whole, lang)),
                        ("degenerate", _degenerate(whole, cfg))):
        if why:
            return Verdict(False, reason, why)
    why = _ungrounded(whole, c.grounding, cfg, lang) or ""
    if why:
        return Verdict(False, "ungrounded", why)
    why = _contradicts(whole, module.phrase, lang)
    if why:
        return Verdict(False, "contradicts", why)
    return Verdict(True)


def _template(text: str) -> str:
    m = _TEMPLATE.search(text)
    return f"template token {m.group().strip()!r}" if m else ""


def _echo(text: str, lang: str | None) -> str:
    low = text.casefold()
    for label in prompt_labels(lang or "en"):
        for tail in (":", " ("):
            if label.casefold() + tail in low:
                return f"echoes the prompt's label {(label + tail).strip()!r}"
    return ""


def _placeholder(text: str) -> str:
    m = _PLACEHOLDER.search(text)
    return f"placeholder {m.group()}" if m else ""


def _secret(text: str) -> str:
    found = secrets.find(text)
    return f"{found[0].kind} at {found[0].start}" if found else ""


def _short(c: Candidate, cfg: GateConfig) -> str:
    """Each answer the model wrote (or, where it wrote only the question, each question) is long enough; the
    person's turns of a dialog may be short ("Why?")."""
    answers = [m["content"] for m in c.messages if m["role"] == "assistant" and m["content"] in c.generated]
    least = cfg.min_answer_chars if answers else cfg.min_chars
    for text in answers or c.generated:
        if len(text.strip()) < least:
            return f"{len(text.strip())} characters, under {least}: {text.strip()[:40]!r}"
    return ""


def _long(text: str, cfg: GateConfig) -> str:
    return f"{len(text)} characters, over {cfg.max_chars}" if len(text) > cfg.max_chars else ""


def _language(text: str, lang: str | None) -> str:
    if not lang or sum(ch.isalpha() for ch in text) < MIN_LANGUAGE_LETTERS:
        return ""
    found = detect(text)
    return f"written in {found}, the module is in {lang}" if found not in (lang, UNDETERMINED) else ""


def repeat_share(text: str, n: int = 4) -> float:
    """The share of the text's word n-grams that repeat an earlier one (0 for a text of under 2n words)."""
    words = _WORD.findall(text.casefold())
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if len(words) < 2 * n:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def _degenerate(text: str, cfg: GateConfig) -> str:
    m = _RUN.search(text)
    if m:
        return f"a run of {m.group()[:12]!r}"
    share = repeat_share(text)
    return f"{share:.0%} of its word 4-grams repeat" if share > cfg.max_repeat else ""


def _ungrounded(text: str, terms: list[str], cfg: GateConfig, lang: str | None) -> str:
    # terms without a content word ("которые", "this") name nothing
    lemmas = {t: _content(t, lang) for t in dict.fromkeys(t.strip() for t in terms) if t}
    terms = [t for t, ls in lemmas.items() if ls]
    if not terms:
        return ""
    have = set(_content(text, lang)) | {w.casefold() for w in _WORD.findall(text)}
    low = text.casefold()
    covered = [t for t in terms if t.casefold() in low or _covers(have, lemmas[t])]
    need = max(1, math.ceil(cfg.min_concepts * len(terms)))
    if len(covered) >= need:
        return ""
    return f"names {len(covered)} of {len(terms)} ({', '.join(terms[:6])}), needs {need}"


def _covers(have: set[str], lemmas: list[str]) -> bool:
    """A term is named when at least half its content lemmas are (a one-word term: that word)."""
    lemmas = list(dict.fromkeys(lemmas))
    return bool(lemmas) and sum(x in have for x in lemmas) >= math.ceil(len(lemmas) / 2)


def _negated(text: str, lang: str | None) -> tuple[set[str], set[str]]:
    """(content lemmas of the text, those a negation governs: the first content word within three words after
    "не", "not", "never", "doesn't" …, before a contrast such as "а", "but")."""
    tokens = analyze(text, lang)
    words, negated = set(), set()
    for i, t in enumerate(tokens):
        low = t.surface.casefold()
        if t.pos != "FUNC":
            words.add(t.lemma)
        if low in _NEGATION or low.endswith(("n't", "n’t")):
            for u in tokens[i + 1:i + 4]:
                if u.surface.casefold() in _CONTRAST:
                    break
                if u.pos != "FUNC" and u.surface.casefold() not in _NEGATION:
                    negated.add(u.lemma)
                    break
    return words, negated


def _contradicts(text: str, claim: str, lang: str | None) -> str:
    core, core_negated = _negated(claim, lang)
    if len(core) < MIN_CLAIM_WORDS:
        return ""
    for sentence in _SENTENCE.split(text):
        s = sentence.strip()
        if not s or s.endswith("?") or _SUPPOSE.search(s):
            continue
        words, negated = _negated(s, lang)
        shared = core & words
        if len(shared) / len(core) < 0.6:
            continue
        flipped = sorted(w for w in shared if (w in negated) != (w in core_negated))
        if flipped:
            return f"restates the core claim with {', '.join(flipped)} negated the other way: {s[:160]!r}"
    return ""


# --- near-duplicates -------------------------------------------------------------------------------------


class Corpus:
    """The texts a generated one must not repeat: every message of the other examples, then each kept text.

    MinHash signatures (clean/dedupe.py's one-permutation MinHash) over word 3-grams, indexed by LSH band; a
    query compares its signature with the texts sharing a band. Texts shorter than four words are compared
    by their normalized form."""

    SHINGLE = 3
    MIN_WORDS = 4

    def __init__(self, threshold: float, texts: list[str] = ()):
        self.nd = NearDuplicates(threshold=threshold, shingle=self.SHINGLE, min_words=self.MIN_WORDS)
        self.sigs: list[np.ndarray] = []
        self.texts: list[str] = []
        self.buckets: dict[tuple[int, bytes], list[int]] = {}
        self.exact: dict[str, int] = {}
        self.add(list(texts))

    def add(self, texts: list[str]) -> None:
        texts = [t for t in dict.fromkeys(texts) if t.strip()]
        if not texts:
            return
        sig, index = self.nd.signatures(texts)
        for t in texts:
            self.exact.setdefault(normalize(t), len(self.texts))
        for row, i in zip(sig, index.tolist()):
            k = len(self.sigs)
            self.sigs.append(row)
            self.texts.append(texts[i])
            for band in self._bands(row):
                self.buckets.setdefault(band, []).append(k)

    def _bands(self, row: np.ndarray) -> list[tuple[int, bytes]]:
        r = self.nd.rows
        return [(b, row[b * r:(b + 1) * r].tobytes()) for b in range(self.nd.bands)]

    def duplicate_of(self, text: str) -> str:
        """The text this one nearly repeats, with the estimated similarity; "" when none."""
        key = normalize(text)
        if key and key in self.exact and len(key.split()) < self.MIN_WORDS:
            return f"equals an example's text {_preview(key)}"
        sig, index = self.nd.signatures([text])
        if not len(index):
            return ""
        row = sig[0]
        seen = {k for band in self._bands(row) for k in self.buckets.get(band, [])}
        best, sim = None, 0.0
        for k in seen:
            s = float((self.sigs[k] == row).mean())
            if s > sim:
                best, sim = k, s
        if best is not None and sim >= self.nd.threshold - 1e-9:
            return f"{sim:.2f} similar to {_preview(self.texts[best])}"
        return ""


def _grams(text: str, n: int = Corpus.SHINGLE) -> set[tuple[str, ...]]:
    words = normalize(text).split()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)} if len(words) >= n else {tuple(words)}


def copied(text: str, sources: list[str], share: float) -> str:
    """How much of the text is copied from what it was written from: the share of its word 3-grams found in
    one source (containment, not Jaccard: a paraphrase that repeats half of a long question is a copy)."""
    mine = _grams(text)
    for src in sources:
        if not mine or not src.strip():
            continue
        found = len(mine & _grams(src)) / len(mine)
        if found >= share:
            return f"{found:.0%} of its word 3-grams are copied from {_preview(src)}"
    return ""


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return repr(text[:100] + ("…" if len(text) > 100 else ""))


# (candidates, modules by id, module id of each candidate) → a score 1-5 per candidate, None where it gave none
Judge = Callable[[list[Candidate], dict[str, Module], list[str]], list[float | None]]


def check(cands: list[Candidate], modules: dict[str, Module], module_of: list[str], corpus: Corpus,
          cfg: GateConfig, judge: Judge | None = None) -> list[Verdict]:
    """A verdict per candidate (modules by id, `module_of[i]` the module of cands[i]). Kept texts join the
    corpus, so a later candidate may not repeat an earlier one."""
    verdicts = [rule_check(c, modules[m], cfg) for c, m in zip(cands, module_of)]
    if judge is not None:
        passing = [i for i, v in enumerate(verdicts) if v.keep]
        scores = judge([cands[i] for i in passing], modules, [module_of[i] for i in passing]) if passing else []
        for i, score in zip(passing, scores):
            if score is None:
                verdicts[i] = Verdict(False, "judge-failed", "the judge gave no score")
            elif score < cfg.judge_threshold:
                verdicts[i] = Verdict(False, "judge-low", f"scored {score:g}, under {cfg.judge_threshold:g}")
    for c, v in zip(cands, verdicts):
        if not v.keep:
            continue
        for text in c.generated:
            why = copied(text, c.sources, cfg.near_duplicate) or corpus.duplicate_of(text)
            if why:
                v.keep, v.reason, v.detail = False, "near-duplicate", why
                break
        if v.keep:
            corpus.add(c.generated)
    return verdicts
