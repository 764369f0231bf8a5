"""SLOW-ISH (~1 min on an idle 2-core CPU, more when the cores are shared): the calibrated estimate against a real
run. Calibrates this machine with two short runs of the demo model, then trains the demo model for one whole epoch
over a different, larger dataset and checks that the estimate made beforehand lands within ±30% of what the run
took. The ±30% bound is asserted for wall-clock and process CPU time when the machine is not oversubscribed (load
average ≤ 1.5 × cores during calibration and run); on shared, oversubscribed cores both stretch by whatever the
other programs take, and only a 3× sanity bound is asserted (the figures are printed either way)."""

from __future__ import annotations

import json
import os

import pytest

from twinforge.estimate.calibrate import (
    DEMO,
    calibrate,
    calibrated_throughput,
    calibration_path,
    load,
    run_fresh,
    write_examples,
)
from twinforge.estimate.finetune import estimate_finetune, measure_dataset

MAX_LEN, BATCH = 64, 1
TOLERANCE = 0.30


@pytest.fixture(scope="session")
def calibrated(tmp_path_factory):
    ws = tmp_path_factory.mktemp("estimate") / "ws"
    return ws, calibrate(ws, steps=3, max_len=MAX_LEN, batch_size=BATCH, examples=12)


def test_calibration_is_cached_with_what_it_was_measured_on(calibrated):
    ws, cal = calibrated
    saved = json.loads(calibration_path(ws).read_text(encoding="utf-8"))
    assert saved["model"]["name"] == "gemma3-270m" and saved["machine"]["torch"] and saved["machine"]["cpu"]
    assert saved["tokens_per_second"] > 0 and saved["run"]["steps"] == [1, 3]
    assert load(ws) is not None  # valid on this machine
    stale = dict(saved, machine=dict(saved["machine"], torch="0.0.1"))
    other = ws.parent / "other"
    calibration_path(other).parent.mkdir(parents=True)
    calibration_path(other).write_text(json.dumps(stale), encoding="utf-8")
    assert load(other) is None  # measured under another torch: not used


def test_calibrated_estimate_within_30_percent_of_a_real_run(calibrated, tmp_path, capsys):
    ws, cal = calibrated
    data = write_examples(tmp_path / "train.jsonl", 8, seed=7)  # other examples: 8 steps, calibration's 1 and 3
    tokens = measure_dataset(data, DEMO)
    est = estimate_finetune(DEMO, lines=tokens.lines, tokens=tokens, hw=calibrated_throughput(ws), method="lora",
                            epochs=1, seq_len=MAX_LEN, batch_rows=BATCH, rank=8, targets="attn")
    load0 = os.getloadavg()[0]
    # a new process, as `twinforge train` would be: imports, load, one epoch, save
    (real,), wall, cpu = run_fresh(data, tmp_path, [("adapter", None)], max_len=MAX_LEN, batch_size=BATCH)
    busy = max(load0, os.getloadavg()[0], cal.run["load_average"]) > 1.5 * cal.machine["cores"]
    cpu_ratio = est.cpu_seconds / cpu
    wall_ratio = est.seconds / wall
    with capsys.disabled():
        print(f"\n[estimate] real run: {real.steps} steps, {real.tokens} tokens, {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU; estimate {est.seconds:.1f} s wall ({wall_ratio:.2f}×), "
              f"{est.cpu_seconds:.1f} s CPU ({cpu_ratio:.2f}×); tokens estimated {est.tokens:.0f}; "
              f"calibration {cal.tokens_per_second:.1f} tok/s, load {cal.run['load_average']:.1f}"
              f"{' (busy: ±30% not asserted)' if busy else ''}")
    assert abs(est.tokens / real.tokens - 1) < 0.05  # the tokens are measured, not guessed
    if busy:
        # other programs took the cores and their share changed between calibration and run (measured here under
        # load 14 on 2 cores: 1.04×/1.21× once, 1.88×/2.22× another time): only a sanity bound holds then
        assert 1 / 3 < cpu_ratio < 3 and 1 / 3 < wall_ratio < 3
    else:
        assert abs(cpu_ratio - 1) <= TOLERANCE
        assert abs(wall_ratio - 1) <= TOLERANCE


def test_cli_estimates_this_machine_from_the_cached_calibration(calibrated, tf):
    ws, cal = calibrated
    r = tf("estimate", "--gpu", "this", "--model", "demo", "--method", "lora", "--lines", "1k,10k", ws=ws)
    assert r.exit_code == 0, r.output
    assert f"{cal.tokens_per_second:.1f} tokens/s measured" in r.output
    rows = [ln.split() for ln in r.output.splitlines() if ln.startswith(("1k ", "10k "))]
    assert [row[3] for row in rows] == ["this", "this"]


def test_cli_calibrate_reports_the_measurement_and_adds_this(calibrated, tf, monkeypatch):
    ws, cal = calibrated
    monkeypatch.setattr("twinforge.estimate.calibrate.calibrate", lambda workspace, progress=False: cal)  # measured above
    r = tf("estimate", "--calibrate", "--gpu", "h100", "--model", "demo", "--method", "lora", "--lines", "1k", ws=ws)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("calibrated this machine:") and f"{cal.tokens_per_second:.1f} tokens/s" in r.output
    assert [ln.split()[3] for ln in r.output.splitlines() if ln.startswith("1k ")] == ["h100", "this"]
