"""The report's arithmetic on a hand case, numbers that move with the input, and the round trip end to end on
the embedded models (llama.cpp generator for the plain backend, the bridge adapter on Gemma 3 270M)."""

from __future__ import annotations

import json

import pytest

from twinforge.hyper.config import HyperConfig
from twinforge.hyper.encode import Encoder
from twinforge.hyper.report import Item, compression, judge, measure_items, ratio, recall, verdict


def _item(chars_text, chars_hyper, qwen_text, qwen_hyper, concepts):
    return Item("x" * chars_text, "h" * chars_hyper, [f"c{i}" for i in range(concepts)], chars_text, chars_hyper,
                chars_hyper - 1, qwen_text, qwen_hyper, concepts)


def test_arithmetic_on_a_hand_case():
    a = _item(100, 20, 30, 10, 3)  # per scene: chars 5×, Qwen 3×, concept 10×
    b = _item(50, 25, 12, 6, 4)  # chars 2×, Qwen 2×, concept 3×
    comp = compression([a, b])
    assert comp["chars"].total == pytest.approx(150 / 45, abs=1e-3) and comp["chars"].median == 3.5
    assert comp["qwen_tokens"].total == pytest.approx(42 / 16, abs=1e-3) and comp["qwen_tokens"].median == 2.5
    assert comp["concept_tokens"].total == 6.0 and comp["concept_tokens"].median == 6.5
    assert ratio([1, 2], [0, 0]).total == 0.0
    assert recall(["a", "b", "c", "d"], {"a", "c", "z"}) == 0.5

    d = judge("m", [a, b], ["ok", None], [0.9, 0.0], [1.0, 0.0], threshold=0.7)
    assert (d.preserved, d.preserved_share, d.failed) == (1, 0.5, 1)
    assert d.fidelity_mean == 0.45 and d.recall_mean == 0.5
    assert d.compression_preserved.total == 10.0 and d.qwen_compression_preserved.total == 3.0
    assert d.holds  # half the scenes preserved, 10× over them
    stricter = judge("m", [a, b], ["ok", None], [0.9, 0.0], [1.0, 0.0], threshold=0.95)
    assert stricter.preserved == 0 and not stricter.holds and stricter.compression_preserved is None
    weak = judge("m", [b, b], ["ok", "ok"], [0.8, 0.8], [1, 1], threshold=0.7)
    assert weak.preserved_share == 1.0 and not weak.holds  # all preserved but only 3× < 5×
    text = verdict(comp, [d, weak], 0.7)
    assert "3.3× shorter" in text and "2.6× in Qwen tokens" in text and "6.0×" in text
    assert text.count("does not hold") == 1 and "compress only 3.0×" in text


def test_numbers_follow_the_input():
    enc = Encoder(HyperConfig())
    short = measure_items([{"text": "Тревога перед сном."}], enc, None)[0]
    long = measure_items([{"text": "Я всё время думаю о том, что тревога, которая приходит перед сном, "
                                   "это на самом деле просто усталость."}], enc, None)[0]
    assert short.chars_text == len("Тревога перед сном.") and short.concept_tokens == len(short.concepts) == 2
    assert long.chars_text > short.chars_text and long.qwen_text > short.qwen_text
    c_short, c_long = compression([short])["chars"].total, compression([long])["chars"].total
    assert c_long > c_short  # more function words around the concepts: more compression
    assert short.chars_concat == len("тревогасон")


def test_round_trip_end_to_end(hyper_ws, hyper_bridge, tmp_path):
    """decode(encode(x)) through the embedded llama.cpp generator and through the bridge adapter; the report's
    numbers are computed from what came back."""
    import shutil

    from twinforge.hyper.report import build_report
    from twinforge.store import Store

    ws = tmp_path / "ws"
    shutil.copytree(hyper_ws, ws)
    cfg = HyperConfig(decode_max_tokens=24)
    backend = cfg.backend.model_copy(update={"context": 1024})
    with Store(ws) as store:
        r = build_report(store, cfg, backend=backend, adapter=hyper_bridge.adapter_id, limit=2)
    assert [d.name.split(":")[0] for d in r.decoders] == ["llamacpp", "adapter"]
    for d in r.decoders:
        assert d.scenes == 2 and len(d.per_scene) == 2
        decoded = [s for s in d.per_scene if s["decoded"]]
        assert decoded, f"{d.name} decoded nothing"
        assert all(-1.0 <= s["fidelity"] <= 1.0 and 0.0 <= s["recall"] <= 1.0 for s in d.per_scene)
        assert d.fidelity_mean == pytest.approx(sum(s["fidelity"] for s in d.per_scene) / 2, abs=1e-3)
        assert d.preserved == sum(s["fidelity"] >= r.threshold for s in d.per_scene)
    assert f"{r.compression['chars'].total:.1f}×" in r.verdict
    saved = json.loads((ws / "reports" / "hyper.json").read_text())
    assert saved["decoders"][0]["fidelity_mean"] == r.decoders[0].fidelity_mean
    assert "Verdict" in (ws / "reports" / "hyper.md").read_text()
    assert "<table>" in (ws / "reports" / "hyper.html").read_text()


def test_bridge_is_registered(hyper_ws, hyper_bridge):
    from twinforge.store import Store

    meta = json.loads((hyper_ws / "adapters" / hyper_bridge.adapter_id / "twinforge.json").read_text())
    assert meta["kind"] == "bridge" and hyper_bridge.steps == 2
    recorded = json.loads((hyper_ws / "hyper" / "bridge.json").read_text())
    assert recorded["adapter_id"] == hyper_bridge.adapter_id
    registry = pytest.importorskip("twinforge.adapters.registry")
    with Store(hyper_ws) as store:
        assert registry.get(store, hyper_bridge.adapter_id) is not None


def test_report_without_held_out_text_is_one_error_line(tf, cleaned):
    r = tf("hyper", "report", ws=cleaned)
    assert r.exit_code == 1 and r.output.startswith("error:") and r.output.count("\n") == 1
