"""The labelled gold module set (tests/data/modules/dialogs): every file follows the format of
tests/data/modules/README.md, the set as a whole has the size and spread the module score needs, and none of it is
copied from the seeds (which must stay an independent check)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from twinforge.distill import taxonomy
from twinforge.ingest import mojibake

GOLD = Path(__file__).resolve().parent / "data" / "modules" / "dialogs"
KEYS = {"id", "language", "split", "source", "title", "messages", "labels"}
LABEL_KEYS = {"concepts", "meta_move", "axes", "inversions", "hypotheses", "transition_rules", "quotes"}
SOURCE = re.compile(r"^(written|sample-archive:\S.*|fixture:\S.*)$")
LONG = 12_000  # characters of dialog text; a dialog this long is cut into several chunks by distill
RUN = 12  # words in a row shared with a seed that count as copying


def load_all() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(GOLD.glob("*.yaml"))}


DIALOGS = load_all()


def dialog_chars(d: dict) -> int:
    return sum(len(m["text"]) for m in d["messages"])


def format_problems(name: str, d: dict) -> list[str]:
    """Everything wrong with one file, as readable lines (empty when it follows the format)."""
    out = []
    if not isinstance(d, dict):
        return [f"{name}: not a mapping"]
    if set(d) != KEYS:
        out.append(f"{name}: keys {sorted(d)} != {sorted(KEYS)}")
        return out
    if d["id"] != name:
        out.append(f"{name}: id '{d['id']}' differs from the file name")
    if d["language"] not in ("ru", "en"):
        out.append(f"{name}: language '{d['language']}' not ru|en")
    if d["split"] not in ("tuning", "heldout"):
        out.append(f"{name}: split '{d['split']}' not tuning|heldout")
    if not isinstance(d["source"], str) or not SOURCE.match(d["source"]):
        out.append(f"{name}: source '{d['source']}' is not written | sample-archive:<file> | fixture:<path>")
    if not isinstance(d["title"], str) or not d["title"].strip():
        out.append(f"{name}: empty title")
    msgs = d["messages"] or []
    ids = [m.get("id") for m in msgs]
    if len(set(ids)) != len(ids) or None in ids:
        out.append(f"{name}: message ids missing or repeated: {ids}")
    for m in msgs:
        if m.get("role") not in ("user", "assistant"):
            out.append(f"{name}/{m.get('id')}: role '{m.get('role')}' not user|assistant")
        if not isinstance(m.get("text"), str) or not m["text"].strip():
            out.append(f"{name}/{m.get('id')}: empty text")
    user_texts = [m["text"] for m in msgs if m.get("role") == "user" and isinstance(m.get("text"), str)]
    if not user_texts or not any(m.get("role") == "assistant" for m in msgs):
        out.append(f"{name}: a dialog needs user and assistant turns")

    lab = d["labels"]
    if not isinstance(lab, dict) or set(lab) != LABEL_KEYS:
        out.append(f"{name}: label keys {sorted(lab) if isinstance(lab, dict) else lab} != {sorted(LABEL_KEYS)}")
        return out
    if lab["meta_move"] not in taxonomy.names():
        out.append(f"{name}: meta_move '{lab['meta_move']}' is not in the taxonomy {taxonomy.names()}")
    concepts = lab["concepts"] or []
    if not 3 <= len(concepts) <= 8:
        out.append(f"{name}: {len(concepts)} concepts, want 3-8")
    for c in concepts:
        if not isinstance(c, str) or not c.strip() or c != c.lower():
            out.append(f"{name}: concept {c!r} must be a non-empty lower-case string")
    if len(set(concepts)) != len(concepts):
        out.append(f"{name}: repeated concepts {concepts}")
    for ax in lab["axes"] or []:
        if not (isinstance(ax, list) and len(ax) == 2 and all(isinstance(p, str) and p.strip() for p in ax)):
            out.append(f"{name}: axis {ax!r} must be exactly two non-empty poles")
        elif ax[0].strip().casefold() == ax[1].strip().casefold():
            out.append(f"{name}: axis {ax!r} has the same pole twice")
    for key in ("inversions", "hypotheses", "transition_rules", "quotes"):
        if not isinstance(lab[key], list) or not all(isinstance(s, str) and s.strip() for s in lab[key]):
            out.append(f"{name}: {key} must be a list of non-empty strings")
    quotes = lab["quotes"] or []
    if not 1 <= len(quotes) <= 3:
        out.append(f"{name}: {len(quotes)} quotes, want 1-3")
    for q in quotes:
        if isinstance(q, str) and not any(q in t for t in user_texts):
            out.append(f"{name}: quote is not verbatim in a user turn: {q!r}")
    return out


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def runs(text: str, n: int = RUN) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def seed_texts(seeds: Path) -> dict[str, str]:
    """Every seed file, its mojibake (UTF-8 read as Mac Roman) repaired, so the words compare with ours."""
    out = {p.name: mojibake.repair(p.read_text(encoding="utf-8", errors="replace"))[0]
           for p in sorted(seeds.iterdir()) if p.is_file()}
    assert out, f"no seed files in {seeds}"
    return out


def copied_from(text: str, seed_runs: dict[str, set]) -> list[str]:
    mine = runs(text)
    return [name for name, r in seed_runs.items() if mine & r]


# ---- each file ---------------------------------------------------------------------------------------------------

def test_the_set_is_there():
    assert GOLD.is_dir() and DIALOGS, f"no dialogs under {GOLD}"


@pytest.mark.parametrize("name", sorted(DIALOGS))
def test_file_follows_the_format(name):
    assert format_problems(name, DIALOGS[name]) == []


def test_format_check_catches_broken_labels():
    """The checker itself: a good file passes, each kind of damage is reported."""
    good = next(iter(DIALOGS.values()))
    assert format_problems(good["id"], good) == []
    bad = yaml.safe_load(yaml.safe_dump(good, allow_unicode=True))
    bad["labels"]["meta_move"] = "pattern-matching"
    bad["labels"]["concepts"] = ["один", "два"]
    bad["labels"]["axes"] = [["только один полюс"]]
    bad["labels"]["quotes"] = ["этой фразы нет ни в одной реплике"]
    bad["messages"][1]["id"] = bad["messages"][0]["id"]
    bad["language"] = "de"
    found = "\n".join(format_problems("other-name", bad))
    for what in ("differs from the file name", "not ru|en", "not in the taxonomy", "2 concepts", "two non-empty poles",
                 "not verbatim", "repeated"):
        assert what in found, what


# ---- the set as a whole ------------------------------------------------------------------------------------------

def test_set_size_languages_and_split():
    lang = Counter(d["language"] for d in DIALOGS.values())
    split = Counter(d["split"] for d in DIALOGS.values())
    assert len(DIALOGS) >= 40, len(DIALOGS)
    assert lang["ru"] >= 25 and lang["en"] >= 10, lang
    assert split["heldout"] >= 15 and split["tuning"] >= split["heldout"], split
    both = Counter((d["language"], d["split"]) for d in DIALOGS.values())
    assert all(both[(lg, sp)] >= 3 for lg in ("ru", "en") for sp in ("tuning", "heldout")), both


def test_long_dialogs_to_chunk():
    long = [n for n, d in DIALOGS.items() if dialog_chars(d) > LONG]
    assert len(long) >= 3, long
    # long because the person thinks at length too, not only because the assistant does
    for n in long:
        user = sum(len(m["text"]) for m in DIALOGS[n]["messages"] if m["role"] == "user")
        assert user >= 2_000, (n, user)


def test_every_move_is_labelled_and_none_dominates():
    moves = Counter(d["labels"]["meta_move"] for d in DIALOGS.values())
    assert {m: moves[m] for m in taxonomy.names() if moves[m] < 2} == {}
    assert max(moves.values()) <= 8, moves
    heldout = Counter(d["labels"]["meta_move"] for d in DIALOGS.values() if d["split"] == "heldout")
    assert len(heldout) >= 8, heldout  # the held-out part covers nearly every move


def test_details_are_labelled_where_the_person_states_them():
    labels = [d["labels"] for d in DIALOGS.values()]
    assert sum(bool(lab["axes"]) for lab in labels) >= 15
    assert sum(bool(lab["hypotheses"]) for lab in labels) >= 10
    assert sum(bool(lab["transition_rules"]) for lab in labels) >= 8
    assert sum(bool(lab["inversions"]) for lab in labels) >= 6


def test_ids_and_dialogs_are_unique():
    firsts = Counter(d["messages"][0]["text"].strip() for d in DIALOGS.values())
    assert [t[:60] for t, k in firsts.items() if k > 1] == []


# ---- the seeds stay out ------------------------------------------------------------------------------------------

def test_no_dialog_copies_a_seed(seeds):
    seed_runs = {name: runs(text) for name, text in seed_texts(seeds).items()}
    assert any(seed_runs.values()), "the seeds gave no word runs: is the repair or the reading broken?"
    copied = {n: copied_from("\n".join(m["text"] for m in d["messages"]) + "\n" + d["title"], seed_runs)
              for n, d in DIALOGS.items()}
    assert {n: s for n, s in copied.items() if s} == {}


def test_seed_check_catches_a_copied_passage(seeds):
    """A dialog with twelve words of a seed in it (even re-punctuated and re-cased) is caught."""
    texts = seed_texts(seeds)
    name, text = max(texts.items(), key=lambda kv: len(words(kv[1])))
    seed_runs = {n: runs(t) for n, t in texts.items()}
    passage = words(text)[40 : 40 + RUN]
    dialog = "Вот что я думаю. " + ", ".join(passage).upper() + " — и ещё кое-что."
    assert name in copied_from(dialog, seed_runs)
