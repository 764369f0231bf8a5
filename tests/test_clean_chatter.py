"""Chatter classifier (clean stage) against a labelled evaluation set: tests/data/chatter/{train,heldout}.yaml.

The coefficients and the default threshold were fitted on train.yaml only; quality is reported on heldout.yaml.
`python tests/test_clean_chatter.py --fit` refits the coefficients on train.yaml (after editing prototypes.yaml).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from twinforge.clean.chatter import DEFAULT_THRESHOLD, ChatterClassifier, Sample

DATA = Path(__file__).parent / "data" / "chatter"

# Losing substance is the worst error; chatter precision keeps "chatter" trustworthy when it is said.
MIN_SUBSTANCE_RECALL = 0.95
MIN_CHATTER_PRECISION = 0.90


def load(split: str) -> list[tuple[dict, Sample]]:
    """Labelled conversations of a split."""
    out = []
    for item in yaml.safe_load((DATA / f"{split}.yaml").read_text(encoding="utf-8")):
        sample = Sample(item["title"], list(item["user"]), list(item["assistant"]))
        out.append((item, sample))
    return out


def _seed(path: Path) -> Sample:
    from twinforge.ingest import nexus
    from twinforge.ingest.mojibake import repair

    (conv,) = nexus.parse(path.read_text(encoding="utf-8"), str(path))
    dialog = [(m.role, repair(m.text)[0]) for m in conv.messages if m.kind == "dialog"]
    return Sample(
        repair(conv.title)[0], [t for r, t in dialog if r == "user"], [t for r, t in dialog if r == "assistant"]
    )


@pytest.fixture(scope="module")
def clf() -> ChatterClassifier:
    return ChatterClassifier()


@pytest.fixture(scope="module")
def heldout(clf):
    data = load("heldout")
    return data, clf.classify([s for _, s in data])


def test_the_evaluation_set_is_large_bilingual_and_split_cleanly():
    train, held = (yaml.safe_load((DATA / f"{s}.yaml").read_text(encoding="utf-8")) for s in ("train", "heldout"))
    items = train + held
    assert len(items) >= 200
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids))
    for part in (train, held):
        assert {(i["label"], i["lang"]) for i in part} == {
            (label, lang) for label in ("substance", "chatter") for lang in ("ru", "en")
        }
    # No conversation text on both sides of the split (the sample archive's duplicate pair is kept together).
    def firsts(part):
        return {i["user"][0] for i in part if i.get("user")}

    assert not firsts(train) & firsts(held)
    # the seeds stay out of every labelled set: they are the independent check below
    assert not any(i["source"].startswith("seeds/") for i in items)


def test_heldout_substance_recall_and_chatter_precision(heldout):
    data, verdicts = heldout
    truth = np.array([item["label"] == "chatter" for item, _ in data])
    said = np.array([v.label == "chatter" for v in verdicts])
    substance_recall = (~said[~truth]).mean()
    chatter_precision = truth[said].mean() if said.any() else 1.0
    chatter_recall = said[truth].mean()
    print(
        f"\nheld-out: {len(data)} conversations ({(~truth).sum()} substance, {truth.sum()} chatter); "
        f"substance recall {substance_recall:.3f}, chatter precision {chatter_precision:.3f}, "
        f"chatter recall {chatter_recall:.3f} (threshold {DEFAULT_THRESHOLD})"
    )
    for (item, _), v in zip(data, verdicts):
        if (v.label == "chatter") != (item["label"] == "chatter"):
            print(f"  miss {item['id']} ({item['label']} → {v.label}, {v.score:.2f}): {v.reason}")
    assert substance_recall >= MIN_SUBSTANCE_RECALL
    assert chatter_precision >= MIN_CHATTER_PRECISION
    assert said.any()  # a classifier that never says chatter would pass the two above


def test_real_seeds_are_substance(seeds, clf):
    """The independent check: our user's real conversations, in no labelled set and tuned to by nothing."""
    samples = [_seed(p) for p in sorted(seeds.glob("*.txt"))]
    assert len(samples) == 5
    assert [v.label for v in clf.classify(samples)] == ["substance"] * 5


def test_every_verdict_has_a_reason_and_a_score_in_range(heldout, clf):
    _, verdicts = heldout
    for v in verdicts:
        assert v.label in ("substance", "chatter")
        assert 0.0 <= v.score <= 1.0
        assert (v.label == "chatter") == (v.score >= clf.threshold)
        assert v.reason.strip() and ("prototypes" in v.reason or "not embedded" in v.reason)


def test_deciding_without_embedding_never_changes_a_verdict(heldout, clf):
    """The shortcut (substance at any prototype margin) must agree with the full, embedded verdict."""
    data, verdicts = heldout
    full = [clf._verdict(f) for f in clf.features([s for _, s in data])]
    shortcut = [v for v in verdicts if "not embedded" in v.reason]
    assert shortcut, "the held-out set has long technical conversations: some must take the shortcut"
    assert [v.label for v in verdicts] == [v.label for v in full]
    for v, f in zip(verdicts, full):
        if "not embedded" in v.reason:
            assert v.score >= f.score  # the shortcut reports a ceiling, never less than the true score


def test_reason_names_the_deciding_topic(clf):
    (recipe,) = clf.classify([Sample("Борщ", ["Как сварить борщ? Есть свёкла, капуста и тушёнка"], ["..."])])
    assert recipe.label == "chatter" and "'recipe'" in recipe.reason
    (lora,) = clf.classify([Sample("", ["Какой ранг LoRA брать для дообучения Qwen на моих текстах?"], [])])
    assert lora.label == "substance" and "technical" in lora.reason


def test_deterministic_and_independent_of_the_batch(clf, heldout):
    data, verdicts = heldout
    samples = [s for _, s in data]
    again = clf.classify(samples)
    assert again == verdicts
    alone = [clf.classify([s])[0] for s in samples[:10]]
    assert [v.label for v in alone] == [v.label for v in verdicts[:10]]
    assert all(abs(a.score - v.score) < 1e-3 for a, v in zip(alone, verdicts))


def test_empty_and_assistant_only_conversations(clf):
    empty, assistant_only, blank = clf.classify([
        Sample("", [], []),
        Sample("Citation Convo", [], ["The Eiffel Tower is 330 metres tall."]),
        Sample("Untitled", ["", "  "], []),
    ])
    assert all(0.0 <= v.score <= 1.0 and v.reason for v in (empty, assistant_only, blank))
    assert "assistant" in assistant_only.reason
    assert clf.classify([]) == []


def test_threshold_is_a_parameter():
    never = ChatterClassifier(threshold=1.01)
    assert all(v.label == "substance" for v in never.classify([Sample("Привет", ["привет, как дела?"], [])]))



# ---------------------------------------------------------------------------------------------------------------
# Refitting (a tool, not a test): logistic regression on the train split, printed as constants for chatter.py.


def fit() -> None:
    clf = ChatterClassifier()
    data = load("train")
    feats = clf.features([s for _, s in data])
    X = np.array([[f.margin, math.log1p(f.words), f.terms] for f in feats])
    y = np.array([item["label"] == "chatter" for item, _ in data], dtype=float)
    bias, w = _logistic(X, y)
    print(f"_BIAS = {bias:.2f}\n_W_MARGIN = {w[0]:.2f}\n_W_WORDS = {w[1]:.2f}\n_W_TERMS = {w[2]:.2f}")
    # Cross-validated scores of substance conversations: the default threshold should sit above them all.
    rng = np.random.default_rng(0)
    worst = []
    for _ in range(5):
        order = rng.permutation(len(y))
        p = np.zeros(len(y))
        for k in range(5):
            test = order[k::5]
            b, wk = _logistic(np.delete(X, test, 0), np.delete(y, test))
            p[test] = 1 / (1 + np.exp(-(X[test] @ wk + b)))
        worst.append(p[y == 0].max())
    print(f"cross-validated max substance score: {max(worst):.2f}")


def _logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[float, np.ndarray]:
    """Newton's method on standardised features with a light L2 penalty; coefficients back on the raw scale."""
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = np.hstack([np.ones((len(X), 1)), (X - mu) / sd])
    w = np.zeros(Z.shape[1])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(len(w) - 1)]) / len(y)
    for _ in range(50):
        p = 1 / (1 + np.exp(-Z @ w))
        grad = Z.T @ (p - y) / len(y) + penalty @ w
        hess = (Z * (p * (1 - p))[:, None]).T @ Z / len(y) + penalty
        w -= np.linalg.solve(hess, grad)
    raw = w[1:] / sd
    return float(w[0] - (raw * mu).sum()), raw


if __name__ == "__main__" and "--fit" in sys.argv:
    fit()
