"""How good a thinking module is, without a model: is it the person's own thinking, is it filled, is it degenerate.

Per module, against the person's and the assistant's messages of its dialog:

- grounding: the phrase is the person's (verbatim in one of their messages, or at least 80% of its content lemmas
  in their text, and not a run of the assistant's words); every quote is verbatim in the user message it names;
  every concept's content lemmas occur in the person's text. A phrase or quote of the assistant's is a defect.
- completeness: the share of the fields the dialog supports that the module fills. The core (phrase, concepts, a
  taxonomy meta-move, quotes) always counts; axes, inversions, hypotheses, transition rules and open questions
  count where `supported_fields` finds a cue for them in the person's text.
- degeneracy: concepts that are function words or forms of address ("ты", "бро", "ChatGPT"); a module that
  near-copies an earlier one (phrase or concept lemmas, Jaccard ≥ 0.8). Over the run: one meta-move for (almost)
  every module.

The score, 0–1:

    grounding    G = 0.4·phrase + 0.3·(quotes grounded share) + 0.3·(concepts grounded share)
    completeness C = filled / supported fields
    degeneracy   D = min(1, function-word concept share + 0.5 if a near copy)
    score        = G · (0.5 + 0.5·C) · (1 − D)

A module is flagged when its score is below the threshold (recipe `distill.quality_threshold`, 0.5 by default:
below it, half the concepts are function words, or grounding has lost its phrase or most of its concepts and
quotes; every extractive module of the labelled set, all the person's own words, scores 0.53–1.0), or whatever its
score when it has a defect that must not survive: a phrase that is not the person's, or a quote that is not.

With gold labels (`score_gold`): concept precision and recall by lemma, meta-move accuracy, axis recall (both
poles), and inversion, hypothesis and transition-rule recall.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from ..store import Store
from ..store.db import now_iso
from ..text.lemmas import EN_STOP, analyze
from . import taxonomy
from .schema import Module

VERSION = 1  # bump when a check changes: stored scores are recomputed, not reused
PHRASE_OWN_LEMMAS = 0.8  # a phrase not verbatim needs this share of its content lemmas in the person's text
ASSISTANT_RUN = 0.5  # … and is the assistant's when at least this share of its lemma pairs are theirs (and more
# of them are the assistant's than the person's)
COPY_JACCARD = 0.8
COPY_MIN_LEMMAS = 3  # shorter phrases and concept lists say too little to call two modules copies
MOVE_COLLAPSE = 0.8  # one meta-move for this share of the modules (of at least COLLAPSE_MIN_MODULES) is degenerate
COLLAPSE_MIN_MODULES = 5
ITEM_LEMMAS = 0.5  # a gold inversion/hypothesis/rule is found by a predicted one sharing this share of its lemmas
WEIGHTS = {"phrase": 0.4, "quotes": 0.3, "concepts": 0.3}

# Forms of address (lemmas, lower case): never a concept of the person's thinking. Product names that are also
# topics ("GPT", "Claude", "bot") are left out; "ChatGPT" is how people address the assistant.
FORMS_OF_ADDRESS = frozenset(
    "ты вы друг дружище бро братан чувак чатгпт dear buddy bro pal mate dude friend chatgpt".split()
)
CORE_FIELDS = ("phrase", "concepts", "meta_move", "quotes")
CUE_FIELDS = ("axes", "inversions", "hypotheses", "transition_rules", "open_questions")

_I = re.IGNORECASE
# Cues that the person's text has material for a field. Deliberately simple; swap `supported_fields` for better.
SUPPORT_CUES: dict[str, re.Pattern] = {
    "axes": re.compile(r"\bили\b[^.!?\n]*\?|что лучше|лучше ли|\bлибо\b|\bvs\b|versus|\bпротив\b|вместо|сравн|"
                       r"\bor\b[^.!?\n]*\?|which is better|rather than|instead of|compar|trade-?off", _I),
    "inversions": re.compile(r"наоборот|инверс|инверт|переверн|перевор|\bне\s+\w+,\s+а\b|the other way round|"
                             r"the opposite|invert|upside down|\bnot\s+\w+\s+but\b", _I),
    "hypotheses": re.compile(r"гипотез|предполож|возможно|может быть|вероятно|наверное|я думаю|мне кажется|"
                             r"hypothes|\bsuppose|\bperhaps\b|\bmaybe\b|\bprobably\b|\bi think\b|\bi guess\b|"
                             r"\bi bet\b", _I),
    "transition_rules": re.compile(r"\bесли\b[^.!?\n]*\bто\b|\bкогда\b[^.!?\n]*\bто\b|\bif\b[^.!?\n]*\bthen\b|"
                                   r"\bwhen\b[^.!?\n]*\bthen\b|\bесли\b[^.!?\n]{3,},|\bif\b[^.!?\n]{3,},", _I),
    "open_questions": re.compile(r"\?"),
}


def supported_fields(person_text: str) -> frozenset[str]:
    """The fields a module of this dialog should fill: the core always, the others where the person's text has a
    cue for them."""
    return frozenset(CORE_FIELDS) | {name for name, rx in SUPPORT_CUES.items() if rx.search(person_text)}


# --- lemmas ------------------------------------------------------------------------------------------------


# English words text/lemmas cannot tag (simplemma has no parts of speech) that are still function words.
EXTRA_FUNCTION = frozenset(
    "around across along among within upon toward towards via per whether though although however unless "
    "nobody somebody anybody everybody someone anyone everyone nothing none maybe perhaps actually basically "
    "probably already almost else instead rather quite".split()
)


def _is_function(lemma: str, pos: str) -> bool:
    if pos == "FUNC" or lemma in EXTRA_FUNCTION:
        return True
    head = re.split(r"['’]", lemma, maxsplit=1)[0]  # contractions: "i've", "don't", "it's"
    return head != lemma and (head in EN_STOP or head in _CONTRACTION_HEADS)


_CONTRACTION_HEADS = frozenset("i you we they he she it that there what who let don doesn didn isn aren wasn "
                               "weren won wouldn can couldn shouldn haven hasn hadn".split())


def content_lemmas(text: str, lang: str | None = None) -> list[str]:
    """Lemmas of the words that carry meaning (function words left out), in order."""
    return [t.lemma for t in analyze(text, lang) if not _is_function(t.lemma, t.pos)]


def lemma_key(text: str, lang: str | None = None) -> frozenset[str]:
    """What a concept or pole is made of, for matching: its content lemmas, or all its lemmas when it has none."""
    toks = analyze(text, lang)
    return frozenset(t.lemma for t in toks if not _is_function(t.lemma, t.pos)) or frozenset(t.lemma for t in toks)


def is_function_concept(concept: str, lang: str | None = None) -> bool:
    """A concept with no content word ("то, что", "можно", "I've"), or only forms of address ("бро",
    "ChatGPT")."""
    content = set(content_lemmas(concept, lang))
    return not content or content <= FORMS_OF_ADDRESS


def _flat(text: str) -> str:
    return " ".join(text.split()).casefold()


_WRAP = " \t\n\"'«»“”„`….!?:;"


@dataclass
class Side:
    """One side of a dialog, with its lemmas computed once and only when asked."""

    texts: list[tuple[str, str]]  # (message id, text)
    lang: str | None = None
    _flats: list[str] | None = None
    _lemmas: set[str] | None = None
    _pairs: set[tuple[str, str]] | None = None

    @property
    def flats(self) -> list[str]:
        if self._flats is None:
            self._flats = [_flat(t) for _, t in self.texts]
        return self._flats

    def contains(self, snippet: str) -> bool:
        s = _flat(snippet)
        return bool(s) and any(s in f for f in self.flats)

    def _analyze(self) -> None:
        self._lemmas, self._pairs = set(), set()
        for _, text in self.texts:
            toks = analyze(text, self.lang)
            self._lemmas.update(t.lemma for t in toks)
            content = [t.lemma for t in toks if not _is_function(t.lemma, t.pos)]
            self._pairs.update(zip(content, content[1:]))

    @property
    def lemmas(self) -> set[str]:
        if self._lemmas is None:
            self._analyze()
        return self._lemmas

    @property
    def pairs(self) -> set[tuple[str, str]]:
        if self._pairs is None:
            self._analyze()
        return self._pairs


# --- one module ------------------------------------------------------------------------------------------


@dataclass
class Check:
    """What the per-module checks found; depends only on the module and its dialog, so it can be stored and
    reused while neither changes."""

    phrase: str  # verbatim | lemmas | assistant | not-own | empty
    quotes: list[str]  # per quote: ok | wrong-message | assistant | invented
    concepts: list[bool]  # per concept: its lemmas occur in the person's text
    function_concepts: list[str]  # concepts that are function words or forms of address
    supported: list[str]
    filled: list[str]
    meta_move_known: bool
    phrase_lemmas: list[str]
    concept_keys: list[list[str]]

    @property
    def grounding(self) -> float:
        phrase = 1.0 if self.phrase in ("verbatim", "lemmas") else 0.0
        quotes = self.quotes.count("ok") / len(self.quotes) if self.quotes else 0.0
        concepts = sum(self.concepts) / len(self.concepts) if self.concepts else 0.0
        return WEIGHTS["phrase"] * phrase + WEIGHTS["quotes"] * quotes + WEIGHTS["concepts"] * concepts

    @property
    def completeness(self) -> float:
        return len(set(self.filled) & set(self.supported)) / len(self.supported) if self.supported else 1.0


def _phrase_status(phrase: str, person: Side, assistant: Side, lang: str | None) -> str:
    core = phrase.strip(_WRAP)
    if not core:
        return "empty"
    if person.contains(core):
        return "verbatim"
    if assistant.contains(core):
        return "assistant"
    lem = content_lemmas(core, lang)
    if not lem:
        return "not-own"
    pairs = list(zip(lem, lem[1:]))
    if pairs:
        theirs = sum(p in assistant.pairs for p in pairs) / len(pairs)
        ours = sum(p in person.pairs for p in pairs) / len(pairs)
        if theirs >= ASSISTANT_RUN and theirs > ours:
            return "assistant"
    own = sum(x in person.lemmas for x in lem) / len(lem)
    return "lemmas" if own >= PHRASE_OWN_LEMMAS else "not-own"


def _quote_status(text: str, message_id: str, person: Side, assistant: Side) -> str:
    core = text.strip(_WRAP)
    s = _flat(core)
    if not s:
        return "invented"
    for (mid, _), f in zip(person.texts, person.flats):
        if mid == message_id and s in f:
            return "ok"
    if person.contains(core):
        return "wrong-message"
    return "assistant" if assistant.contains(core) else "invented"


def _filled(m: Module) -> list[str]:
    out = [name for name in ("phrase", "concepts", "quotes", *CUE_FIELDS) if getattr(m, name)]
    if m.meta_move in taxonomy.moves():
        out.append("meta_move")
    return out


def check_module(m: Module, person: Side, assistant: Side) -> Check:
    """The per-module checks of one module against its dialog's two sides."""
    lang = m.language or None
    return Check(
        phrase=_phrase_status(m.phrase, person, assistant, lang),
        quotes=[_quote_status(q.text, q.message_id, person, assistant) for q in m.quotes],
        concepts=[bool(k) and k <= person.lemmas for k in (lemma_key(c, lang) for c in m.concepts)],
        function_concepts=[c for c in m.concepts if is_function_concept(c, lang)],
        supported=sorted(supported_fields("\n\n".join(t for _, t in person.texts))),
        filled=sorted(_filled(m)),
        meta_move_known=m.meta_move in taxonomy.moves(),
        phrase_lemmas=sorted(set(content_lemmas(m.phrase, lang))),
        concept_keys=[sorted(lemma_key(c, lang)) for c in m.concepts],
    )


@dataclass
class ModuleScore:
    module_id: str
    conversation_id: str
    score: float
    grounding: float
    completeness: float
    degeneracy: float
    flagged: bool
    reasons: list[str]
    meta_move: str
    check: Check
    copy_of: str | None = None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["check"] = asdict(self.check)
        return d


def _defects(c: Check) -> list[str]:
    out = []
    if c.phrase == "assistant":
        out.append("phrase taken from the assistant's words")
    elif c.phrase == "not-own":
        out.append("phrase not in the person's words")
    elif c.phrase == "empty":
        out.append("no phrase")
    for i, s in enumerate(c.quotes, 1):
        if s == "assistant":
            out.append(f"quote {i} is the assistant's words")
        elif s == "invented":
            out.append(f"quote {i} is not in the person's messages")
        elif s == "wrong-message":
            out.append(f"quote {i} names the wrong message")
    return out


def score(module_id: str, conversation_id: str, meta_move: str, c: Check, threshold: float,
          copy_of: str | None = None) -> ModuleScore:
    """The module's score (formula in the module docstring) and whether, and why, it is flagged."""
    fw = len(c.function_concepts) / len(c.concept_keys) if c.concept_keys else 0.0
    d = min(1.0, fw + (0.5 if copy_of else 0.0))
    g, comp = c.grounding, c.completeness
    s = round(g * (0.5 + 0.5 * comp) * (1 - d), 3)
    reasons = _defects(c)
    hard = bool(reasons)
    if c.function_concepts:
        reasons.append("function-word concepts: " + ", ".join(c.function_concepts))
    if copy_of:
        reasons.append(f"near copy of {copy_of}")
    if not c.meta_move_known:
        reasons.append(f"meta-move '{meta_move}' is not in the taxonomy")
    if s < threshold:
        reasons.insert(0, f"score {s:.2f} below {threshold:.2f}")
    return ModuleScore(module_id, conversation_id, s, round(g, 3), round(comp, 3), round(d, 3),
                       hard or s < threshold, reasons, meta_move, c, copy_of)


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def near_copies(items: list[tuple[str, Check]]) -> dict[str, str]:
    """Module id → the earlier module (in the given order) it nearly copies: phrase content lemmas or the
    concepts' lemmas with Jaccard ≥ COPY_JACCARD."""
    phrase_sets = [set(c.phrase_lemmas) for _, c in items]
    concept_sets = [{" ".join(k) for k in c.concept_keys} for _, c in items]
    index: dict[str, list[int]] = {}
    out: dict[str, str] = {}
    for j, (mid, _) in enumerate(items):
        candidates = {i for lemma in phrase_sets[j] | concept_sets[j] for i in index.get(lemma, ())}
        for i in sorted(candidates):
            same_phrase = min(len(phrase_sets[i]), len(phrase_sets[j])) >= COPY_MIN_LEMMAS and \
                _jaccard(phrase_sets[i], phrase_sets[j]) >= COPY_JACCARD
            same_concepts = min(len(concept_sets[i]), len(concept_sets[j])) >= COPY_MIN_LEMMAS and \
                _jaccard(concept_sets[i], concept_sets[j]) >= COPY_JACCARD
            if same_phrase or same_concepts:
                out[mid] = items[i][0]
                break
        for key in phrase_sets[j] | concept_sets[j]:
            index.setdefault(key, []).append(j)
    return out


def score_all(modules: list[tuple[Module, Check]], threshold: float) -> list[ModuleScore]:
    """Every module's score, near copies judged across all of them (in the given order)."""
    copies = near_copies([(m.id, c) for m, c in modules])
    return [score(m.id, m.conversation_id, m.meta_move, c, threshold, copies.get(m.id)) for m, c in modules]


def sides(turns: list[tuple[str, str, str]], lang: str | None = None) -> tuple[Side, Side]:
    """(person, assistant) from (message id, role, text) turns."""
    return (Side([(i, t) for i, r, t in turns if r == "user"], lang),
            Side([(i, t) for i, r, t in turns if r != "user"], lang))


def summary(scores: list[ModuleScore]) -> dict:
    """The figures `distill` and `modules score` print: means, defects, flags, and the run's meta-move spread."""
    n = len(scores)
    concepts = sum(len(s.check.concept_keys) for s in scores)
    moves = Counter(s.meta_move for s in scores)
    top, top_n = moves.most_common(1)[0] if moves else ("", 0)
    share = round(top_n / n, 3) if n else 0.0

    def mean(xs) -> float | None:
        xs = list(xs)
        return round(sum(xs) / len(xs), 3) if xs else None

    return {
        "modules": n,
        "score": mean(s.score for s in scores),
        "grounding": mean(s.grounding for s in scores),
        "completeness": mean(s.completeness for s in scores),
        "degeneracy": mean(s.degeneracy for s in scores),
        "flagged": sum(s.flagged for s in scores),
        "phrases_not_own": sum(s.check.phrase in ("assistant", "not-own", "empty") for s in scores),
        "phrases_from_assistant": sum(s.check.phrase == "assistant" for s in scores),
        "quotes": sum(len(s.check.quotes) for s in scores),
        "quotes_not_own": sum(q != "ok" for s in scores for q in s.check.quotes),
        "concepts": concepts,
        "concepts_grounded": round(sum(sum(s.check.concepts) for s in scores) / concepts, 3) if concepts else None,
        "function_word_concepts": round(sum(len(s.check.function_concepts) for s in scores) / concepts, 3)
        if concepts else None,
        "near_copies": sum(s.copy_of is not None for s in scores),
        "meta_moves": dict(moves.most_common()),
        "top_meta_move": top,
        "top_meta_move_share": share,
        "meta_move_collapse": n >= COLLAPSE_MIN_MODULES and share >= MOVE_COLLAPSE,
    }


# --- the workspace ----------------------------------------------------------------------------------------


def _signature(module_json: str, turns: list[tuple[str, str, str]]) -> str:
    h = hashlib.sha1(f"{VERSION}\0{module_json}".encode("utf-8", "surrogatepass"))
    for t in turns:
        h.update("\0".join(t).encode("utf-8", "surrogatepass") + b"\1")
    return h.hexdigest()


def _turns(store: Store, conversation_ids: set[str]) -> dict[str, list[tuple[str, str, str]]]:
    """Each conversation's kept user and assistant messages (clean's text), in order."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    rows = store.db.execute(
        "SELECT c.conversation_id, c.message_id, m.role, c.text FROM clean_messages c"
        " JOIN messages m ON m.id = c.message_id"
        " WHERE c.keep = 1 AND m.role IN ('user', 'assistant') ORDER BY c.conversation_id, m.position")
    for cid, mid, role, text in rows:
        if cid in conversation_ids and text.strip():
            out.setdefault(cid, []).append((mid, role, text))
    return out


def score_store(store: Store, threshold: float, run_id: int | None = None) -> list[ModuleScore]:
    """Score every dialog module of the workspace and replace the stored scores (`module_scores`). The per-module
    checks of a module whose JSON and dialog did not change are reused; near copies are judged afresh."""
    rows = store.db.execute("SELECT id, json FROM modules WHERE kind = 'dialog' ORDER BY id").fetchall()
    modules = [(Module.model_validate_json(raw), raw) for _, raw in rows]
    turns = _turns(store, {m.conversation_id for m, _ in modules})
    known = {r[0]: (r[1], r[2]) for r in store.db.execute("SELECT module_id, signature, details FROM module_scores")}
    checked, signatures = [], {}
    for m, raw in modules:
        ts = turns.get(m.conversation_id, [])
        sig = _signature(raw, ts)
        prev = known.get(m.id)
        if prev and prev[0] == sig:
            c = Check(**json.loads(prev[1]))
        else:
            c = check_module(m, *sides(ts, m.language or None))
        checked.append((m, c))
        signatures[m.id] = sig
    scores = score_all(checked, threshold)
    now = now_iso()
    with store.transaction() as db:
        db.execute("DELETE FROM module_scores")
        db.executemany("INSERT INTO module_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (s.module_id, s.conversation_id, s.score, s.grounding, s.completeness, s.degeneracy, int(s.flagged),
             json.dumps(s.reasons, ensure_ascii=False), json.dumps(asdict(s.check), ensure_ascii=False),
             threshold, signatures[s.module_id], now, run_id) for s in scores])
    return scores


# --- gold labels -------------------------------------------------------------------------------------------


@dataclass
class GoldCounts:
    """Matches of one module against its gold labels; summed over dialogs for micro-averaged figures."""

    concepts_predicted: int = 0
    concepts_predicted_right: int = 0
    concepts_gold: int = 0
    concepts_gold_found: int = 0
    meta_move_right: int = 0
    dialogs: int = 0
    axes_gold: int = 0
    axes_found: int = 0
    inversions_gold: int = 0
    inversions_found: int = 0
    hypotheses_gold: int = 0
    hypotheses_found: int = 0
    transition_rules_gold: int = 0
    transition_rules_found: int = 0
    missed: list[str] = field(default_factory=list)  # gold items not found, "field: item" (for reading)

    def add(self, other: GoldCounts) -> None:
        for k, v in other.__dict__.items():
            setattr(self, k, getattr(self, k) + v)

    def figures(self) -> dict:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 3) if b else None

        p = ratio(self.concepts_predicted_right, self.concepts_predicted)
        r = ratio(self.concepts_gold_found, self.concepts_gold)
        return {
            "dialogs": self.dialogs,
            "concept_precision": p, "concept_recall": r,
            "concept_f1": round(2 * p * r / (p + r), 3) if p and r else (0.0 if p is not None and r is not None
                                                                         else None),
            "meta_move_accuracy": ratio(self.meta_move_right, self.dialogs),
            "axis_recall": ratio(self.axes_found, self.axes_gold), "axes": self.axes_gold,
            "inversion_recall": ratio(self.inversions_found, self.inversions_gold), "inversions": self.inversions_gold,
            "hypothesis_recall": ratio(self.hypotheses_found, self.hypotheses_gold),
            "hypotheses": self.hypotheses_gold,
            "transition_rule_recall": ratio(self.transition_rules_found, self.transition_rules_gold),
            "transition_rules": self.transition_rules_gold,
        }


def _matches(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a) and bool(b) and (a <= b or b <= a)


_AXIS_SPLIT = re.compile(r"\s*(?:↔|<->|<=>|⟷|⇄|\bvs\.?(?=\s)|\bversus\b|\bпротив\b)\s*", _I)


def axis_poles(axis: str) -> tuple[str, str] | None:
    """A predicted axis "A ↔ B" as its two poles; None when it does not read as two."""
    parts = [p.strip(" .,;:") for p in _AXIS_SPLIT.split(axis)]
    parts = [p for p in parts if p]
    return (parts[0], parts[1]) if len(parts) == 2 else None


def score_gold(module: Module | None, gold: dict, lang: str | None = None) -> GoldCounts:
    """Counts of one module against the labels of its dialog (README of tests/data/modules). A missing module
    (distill failed) finds nothing.

    Concepts match by lemma: a gold concept matches a predicted one when either's lemma set contains the other's.
    An axis is found when both its poles match a predicted axis's poles that way, in either order. An inversion,
    hypothesis or transition rule is found when a predicted item holds ≥ 50% of its content lemmas."""
    g = GoldCounts(dialogs=1)
    lang = lang or (module.language if module else None)
    pred = [lemma_key(c, lang) for c in (module.concepts if module else [])]
    gold_c = [lemma_key(c, lang) for c in gold.get("concepts") or []]
    g.concepts_predicted = len(pred)
    g.concepts_predicted_right = sum(any(_matches(p, x) for x in gold_c) for p in pred)
    g.concepts_gold = len(gold_c)
    found = [any(_matches(x, p) for p in pred) for x in gold_c]
    g.concepts_gold_found = sum(found)
    g.missed += [f"concept: {c}" for c, ok in zip(gold.get("concepts") or [], found) if not ok]
    g.meta_move_right = int(module is not None and module.meta_move == gold.get("meta_move"))
    if module is not None and not g.meta_move_right:
        g.missed.append(f"meta_move: {gold.get('meta_move')} (got {module.meta_move})")
    poles = [p for p in (axis_poles(a) for a in (module.axes if module else [])) if p]
    pole_keys = [(lemma_key(a, lang), lemma_key(b, lang)) for a, b in poles]
    for axis in gold.get("axes") or []:
        ga, gb = lemma_key(str(axis[0]), lang), lemma_key(str(axis[1]), lang)
        hit = any((_matches(ga, pa) and _matches(gb, pb)) or (_matches(ga, pb) and _matches(gb, pa))
                  for pa, pb in pole_keys)
        g.axes_gold += 1
        g.axes_found += hit
        if not hit:
            g.missed.append(f"axis: {axis[0]} ↔ {axis[1]}")
    for name in ("inversions", "hypotheses", "transition_rules"):
        predicted = [set(content_lemmas(x, lang)) for x in (getattr(module, name) if module else [])]
        for item in gold.get(name) or []:
            want = set(content_lemmas(item, lang))
            hit = bool(want) and any(len(want & p) / len(want) >= ITEM_LEMMAS for p in predicted)
            setattr(g, f"{name}_gold", getattr(g, f"{name}_gold") + 1)
            setattr(g, f"{name}_found", getattr(g, f"{name}_found") + hit)
            if not hit:
                g.missed.append(f"{name}: {item}")
    return g
