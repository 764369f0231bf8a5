"""Eval runs in the workspace: a row in `eval_runs` (+ its generations) and `<ws>/reports/eval-<id>/`.

The report is written into a temporary folder and renamed inside the transaction that inserts the row, so a
crash leaves neither a row without its report nor a report without its row."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ..errors import ConfigError
from ..store import Store
from ..store.db import now_iso


def report_dir(store: Store, run_id: int) -> Path:
    return store.ws.reports / f"eval-{run_id}"


def save_run(store: Store, run) -> None:
    from .report import write_report

    run.created_at = now_iso()
    d = run.as_dict()
    reports = store.ws.reports
    reports.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".eval-", dir=reports))
    try:
        with store.transaction() as db:
            cur = db.execute(
                "INSERT INTO eval_runs (created_at, dataset, models, probes, metrics, active, failures, config, "
                "seconds, scenes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.created_at, run.dataset, _j(d["models"]), _j(d["probes"]), _j(d["metrics"]), _j(d["active"]),
                 _j(d["failures"]), _j(d["config"]), run.seconds, _j(d.get("scenes") or {})))
            run.id = cur.lastrowid
            db.executemany(
                "INSERT INTO eval_generations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run.id, g.model, g.probe_id, g.mode, g.text, g.raw, g.new_tokens, g.seconds, g.engine)
                 for g in run.generations])
            final = report_dir(store, run.id)
            run.report_path = final / "index.html"
            write_report(tmp, run.as_dict())
            if final.exists():  # left by a run whose row was rolled back
                shutil.rmtree(final)
            tmp.rename(final)
            db.execute("UPDATE eval_runs SET report_path = ? WHERE id = ?", (str(run.report_path), run.id))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        run.id, run.report_path = None, None
        raise


def _j(x) -> str:
    return json.dumps(x, ensure_ascii=False, default=str)


def list_runs(store: Store) -> list[dict]:
    rows = store.db.execute("SELECT * FROM eval_runs ORDER BY id").fetchall()
    out = []
    for r in rows:
        failures = json.loads(r["failures"])
        out.append({"id": r["id"], "created_at": r["created_at"], "dataset": r["dataset"],
                    "models": [m["name"] for m in json.loads(r["models"])],
                    "probes": len(json.loads(r["probes"])), "failures": len(failures),
                    "inactive": [a["model"] for a in json.loads(r["active"]) if not a["active"]],
                    "report": r["report_path"]})
    return out


def load_run(store: Store, run_id: int | str) -> dict:
    try:
        rid = int(str(run_id).removeprefix("eval-"))
    except ValueError as e:
        raise ConfigError(f"eval run {run_id!r} is not a run id", "see `twinforge eval list`") from e
    r = store.db.execute("SELECT * FROM eval_runs WHERE id = ?", (rid,)).fetchone()
    if r is None:
        raise ConfigError(f"no eval run {rid} in {store.workspace}", "see `twinforge eval list`")
    gens = store.db.execute("SELECT * FROM eval_generations WHERE run_id = ? ORDER BY model, probe_id, mode",
                            (rid,)).fetchall()
    return {"id": r["id"], "created_at": r["created_at"], "dataset": r["dataset"], "seconds": r["seconds"],
            "report": r["report_path"], "models": json.loads(r["models"]), "probes": json.loads(r["probes"]),
            "metrics": json.loads(r["metrics"]), "active": json.loads(r["active"]),
            "failures": json.loads(r["failures"]), "config": json.loads(r["config"]),
            "scenes": json.loads(r["scenes"] or "{}"),
            "generations": [dict(g) for g in gens]}
