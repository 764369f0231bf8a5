"""The dataset's view mix (dataset.mix weights) and its per-view report (examples, tokens, pages, unique, lines)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from twinforge.dataset import jsonl
from twinforge.dataset.build import build_dataset
from twinforge.dataset.config import DatasetConfig
from twinforge.errors import ConfigError
from twinforge.store import Store


@pytest.fixture
def ws(sample_dataset, tmp_path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(sample_dataset, dst)
    return dst


def views_written(ws: Path) -> Counter:
    return Counter(e["meta"]["view"] for s in ("train", "val")
                   for e in jsonl.read(ws / "datasets" / "default" / f"{s}.jsonl"))


def test_mix_samples_views_down_to_their_weights(ws):
    with Store(ws) as store:
        full = build_dataset(store, DatasetConfig(formats=["jsonl"])).stats["views"]
        small, big = sorted((v for v in full if full[v]["examples"] >= 4), key=lambda v: full[v]["examples"])[:2]
        assert full[big]["examples"] >= full[small]["examples"]
        report = build_dataset(store, DatasetConfig(formats=["jsonl"], mix={small: 2, big: 1}))
    got = views_written(ws)
    # the smaller view for its weight is kept whole, the other cut to half of it
    assert got[small] == full[small]["examples"] and got[big] == full[small]["examples"] // 2
    others = [v for v in full if v not in (small, big)]
    assert all(got[v] == full[v]["examples"] for v in others)  # views not named keep all
    assert any(p.startswith("mix:") and big in p for p in report.problems)
    assert report.stats["views"][big]["examples"] == got[big]


def test_mix_weight_zero_leaves_a_view_out_and_the_choice_is_stable(ws):
    with Store(ws) as store:
        full = build_dataset(store, DatasetConfig(formats=["jsonl"])).stats["views"]
        drop, keep = list(full)[:2]
        cfg = DatasetConfig(formats=["jsonl"], mix={drop: 0, keep: 1})
        first = build_dataset(store, cfg).hash
        shutil.rmtree(ws / "datasets" / "default")
        assert build_dataset(store, cfg).hash == first
    got = views_written(ws)
    assert drop not in got and got[keep] == full[keep]["examples"]


def test_generated_views_can_be_named_in_views_and_mix(ws):
    with Store(ws) as store:
        module_id = store.db.execute("SELECT module_id FROM examples WHERE view = 'qa' LIMIT 1").fetchone()[0]
        meta = json.dumps({"generated": True, "backend": "openai:m", "prompt_version": "paraphrase.v1"})
        for i, q in enumerate(["How would you put the question again?", "Which part of it matters most to you?",
                               "What would you ask first about this?"]):
            chat = json.dumps([{"role": "user", "content": q}, {"role": "assistant", "content": f"Answer {i}."}])
            store.db.execute("INSERT INTO examples (id, module_id, view, position, messages, language, chars, tokens,"
                             " meta, run_id) VALUES (?, ?, 'paraphrase', ?, ?, 'en', 10, 5, ?, NULL)",
                             (f"gen-{i}", module_id, i, chat, meta))
        store.db.commit()
        build_dataset(store, DatasetConfig(formats=["jsonl"], views=["qa", "paraphrase"]))
        assert set(views_written(ws)) == {"qa", "paraphrase"} and views_written(ws)["paraphrase"] == 3
        build_dataset(store, DatasetConfig(formats=["jsonl"], mix={"paraphrase": 0, "qa": 1}))
        assert "paraphrase" not in views_written(ws) and "qa" in views_written(ws)
        with pytest.raises(ConfigError, match="available: .*paraphrase"):
            build_dataset(store, DatasetConfig(formats=["jsonl"], views=["paraphrase_v2"]))


@pytest.mark.parametrize("mix, message", [({"nonsense": 1}, "unknown view"), ({"qa": -1}, "0 or more"),
                                          ({"qa": 0}, "every mix weight is 0")])
def test_bad_mix_is_a_clear_error(ws, mix, message):
    with Store(ws) as store, pytest.raises((ConfigError, ValueError), match=message):
        build_dataset(store, DatasetConfig(formats=["jsonl"], mix=mix))


def test_per_view_report_adds_up_and_unique_is_below_pages(ws, tf):
    r = tf("dataset", "--format", "jsonl", "--json", ws=ws)
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    views = s["views"]
    for key in ("examples", "tokens", "lines"):
        assert sum(b[key] for b in views.values()) == s["total"][key]
    assert abs(sum(b["pages"] for b in views.values()) - s["total"]["pages"]) < 0.1
    assert all(0 < b["unique_pages"] <= b["pages"] for b in views.values())
    t = s["total"]
    assert 0 < t["unique_pages"] < t["pages"] and t["pages_in"] > 0
    assert t["unique_ratio"] == pytest.approx(t["unique_pages"] / t["pages_in"], abs=0.02)
    text = tf("dataset", "--format", "jsonl", "--mix", "qa=1", ws=ws).output
    assert "unique pages" in text and "view" in text and "qa" in text
    bad = tf("dataset", "--mix", "qa", ws=ws)
    assert bad.exit_code != 0 and "VIEW=WEIGHT" in bad.output
