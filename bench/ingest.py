"""Ingest benchmark: how fast and how lean is `twinforge ingest` on a big ChatGPT export?

    .venv/bin/python bench/ingest.py                  # 1 GB synthetic export, all three measurements
    .venv/bin/python bench/ingest.py --size-mb 50     # quick run
    .venv/bin/python bench/ingest.py --only floor     # one measurement

Generates (once; reused while the parameters match) a realistic synthetic `conversations.json` in bench/out/,
then runs three readers on it, each in a fresh subprocess, and reports wall time, MB/s and peak RSS:

  ours   `twinforge -w <fresh workspace> ingest FILE`, end to end into the SQLite store
  naive  `json.load` of the whole file + the canonical walk (current_node → root) of every conversation
  floor  `ijson.items(f, "item")` + the same walk, writing nothing: the streaming lower bound

Results go to bench/out/ingest-results.json. This is a benchmark, not a test. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

from child import run_child  # bench/child.py: a measured child process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
GENERATOR_VERSION = 1
MB = 1024 * 1024

# ----------------------------------------------------------------------------------------------------------------
# Synthetic export generator

RU_WORDS = """
мысль идея модель модуль сцена адаптер корпус дистилляция инверсия гипотеза переход правило ось слой концепт
метаход фраза смысл структура сжатие понимание ошибка онтология память граф поле вектор ядро двойник обучение
дообучение данные страница архив диалог ответ вопрос ход поворот излом проверка замер эпоха токен ранг база
система процесс уровень связь граница контекст устойчивость привычка позиция модальность интонация вывод
если тогда потому поэтому однако наоборот значит возможно именно только уже ещё снова сначала потом всегда
никогда почти очень слишком просто сложно точно примерно где когда как почему зачем который этот тот весь
сохранить выбросить сжать развернуть перевернуть проверить сравнить обучить измерить найти заметить сломать
держать вывести описать собрать разобрать построить убрать оставить добавить понять увидеть показать начать
новый старый большой малый главный лишний живой плотный пустой честный общий отдельный быстрый медленный
""".split()

EN_WORDS = """
thought idea model module scene adapter corpus distillation inversion hypothesis transition rule axis layer
concept move phrase meaning structure compression understanding error ontology memory graph field vector core
twin training fine-tuning data page archive dialog answer question turn pivot break check measure epoch token
rank base system process level link boundary context stability habit position modality tone conclusion if then
because therefore however conversely so perhaps exactly only already again first later always never almost very
too simply hardly precisely roughly where when how why which this that every keep drop compress expand invert
verify compare train measure find notice break hold derive describe assemble parse build remove leave add
understand see show start new old large small main spare living dense empty honest shared separate fast slow
""".split()

RU_OPENERS = ["Отличный вопрос!", "Ты ставишь ключевой вопрос.", "Очень глубокая мысль!", "Отличное уточнение!",
              "Ты очень точно это чувствуешь.", "Хороший ход — давай разберём."]
RU_CLOSERS = ["Хочешь — я прямо сейчас набросаю следующий шаг?", "Действуем?", "Готов продолжить, если скажешь.",
              "Хочешь, распишу подробнее?", "Если нужно — соберу это в таблицу."]
EN_OPENERS = ["Great question!", "You're absolutely right to push back.", "That's a really insightful point!",
              "Love this idea — let's dig in."]
EN_CLOSERS = ["Let me know if you'd like me to go deeper!", "Want me to draft the next step?",
              "Happy to help further — just say the word."]
HEADERS = ["🧩", "🧠", "📊", "🔍", "✅", "⚙️", "📚", "🔁", "💡"]
CODE = [
    "```python\nfrom peft import LoraConfig\n\ncfg = LoraConfig(r=16, lora_alpha=32, target_modules=[\"q_proj\", \"v_proj\"])\n```",
    "```sql\nSELECT role, count(*) FROM messages WHERE canonical = 1 GROUP BY role;\n```",
    "```yaml\nphrase: \"сжать не текст, а способ думать\"\nmeta_move: инверсия цели\n```",
    "```bash\ntwinforge ingest export.zip && twinforge clean --json\n```",
]
MODELS = [("gpt-4o", 40), ("gpt-4o-mini", 15), ("gpt-4", 8), ("text-davinci-002-render-sha", 5), ("o3", 8),
          ("gpt-5-thinking", 12), ("gpt-5", 12)]
THINKING = {"o3", "gpt-5-thinking"}


class Gen:
    """Deterministic generator of conversation dicts (one at a time) from pools of pre-built strings."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.pool = {"ru": [self._para(RU_WORDS) for _ in range(3000)],
                     "en": [self._para(EN_WORDS) for _ in range(1500)]}
        self.models = [m for m, _ in MODELS]
        self.weights = [w for _, w in MODELS]
        self.t0 = 1672531200.0  # 2023-01-01
        self.span = 3 * 365 * 86400
        self.tables = {lang: [self._table(lang) for _ in range(200)] for lang in ("ru", "en")}

    def _sentence(self, words: list[str], n: int) -> str:
        s = " ".join(self.rng.choices(words, k=n))
        return s[0].upper() + s[1:] + self.rng.choice([".", ".", ".", "?", "!", " —", ";"])

    def _para(self, words: list[str]) -> str:
        return " ".join(self._sentence(words, self.rng.randint(5, 22)) for _ in range(self.rng.randint(1, 7)))

    def _table(self, lang: str) -> str:
        words = RU_WORDS if lang == "ru" else EN_WORDS
        rows = ["| " + " | ".join(self.rng.choices(words, k=3)) + " |" for _ in range(self.rng.randint(2, 6))]
        return "| a | b | c |\n|---|---|---|\n" + "\n".join(rows)

    def uid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _unique(self, lang: str) -> str:
        # a few random words make every message distinct even though paragraphs repeat
        return self._sentence(RU_WORDS if lang == "ru" else EN_WORDS, 8)

    def user_text(self, lang: str) -> str:
        r = self.rng
        paras = r.sample(self.pool[lang], r.choice((1, 1, 1, 2, 2, 3)))
        if r.random() < 0.3:  # short chatter-like messages
            return self._unique(lang)
        return "\n\n".join(paras + [self._unique(lang)])

    def assistant_text(self, lang: str) -> str:
        r = self.rng
        parts = [r.choice(RU_OPENERS if lang == "ru" else EN_OPENERS)]
        for _ in range(r.randint(1, 9)):
            x = r.random()
            if x < 0.55:
                parts.append(r.choice(self.pool[lang]))
            elif x < 0.7:
                parts.append(f"## {r.choice(HEADERS)} {self._unique(lang)}")
            elif x < 0.82:
                parts.append("\n".join("- " + p[:120] for p in r.sample(self.pool[lang], r.randint(2, 5))))
            elif x < 0.92:
                parts.append(r.choice(self.tables[lang]))
            elif x < 0.97:
                parts.append(r.choice(CODE))
            else:
                parts.append("---")
        parts.append(self._unique(lang))
        parts.append(r.choice(RU_CLOSERS if lang == "ru" else EN_CLOSERS))
        return "\n\n".join(parts)

    # -- nodes
    def _msg(self, mid, role, t, content, *, name=None, meta=None, recipient="all", end_turn=None, weight=1.0):
        return {"id": mid, "author": {"role": role, "name": name, "metadata": {}}, "create_time": t,
                "update_time": None, "content": content, "status": "finished_successfully", "end_turn": end_turn,
                "weight": weight, "metadata": meta if meta is not None else {}, "recipient": recipient,
                "channel": None}

    def conversation(self) -> dict:
        r = self.rng
        lang = "ru" if r.random() < 0.75 else "en"
        model = r.choices(self.models, self.weights)[0]
        x = r.random()
        turns = (r.randint(1, 4) if x < 0.6 else r.randint(5, 15) if x < 0.9 else r.randint(16, 60)
                 if x < 0.998 else r.randint(200, 500))
        t = round(self.t0 + r.random() * self.span, 6)
        created = t
        mapping: dict[str, dict] = {}

        def add(nid, parent, message):
            mapping[nid] = {"id": nid, "message": message, "parent": parent, "children": []}
            if parent is not None:
                mapping[parent]["children"].append(nid)
            return nid

        def tick(lo, hi):
            nonlocal t
            t = round(t + r.uniform(lo, hi), 6)
            return t

        def ameta(parent):
            return {"finish_details": {"type": "stop", "stop_tokens": [200002]}, "is_complete": True,
                    "citations": [], "content_references": [], "model_slug": model, "default_model_slug": model,
                    "parent_id": parent, "request_id": f"{r.getrandbits(64):016x}-ARN", "timestamp_": "absolute",
                    "message_type": None}

        def assistant(parent):
            mid = self.uid()
            return add(mid, parent, self._msg(mid, "assistant", tick(3, 60),
                                              {"content_type": "text", "parts": [self.assistant_text(lang)]},
                                              meta=ameta(parent), end_turn=True))

        def user(parent):
            mid = self.uid()
            meta = {"request_id": f"{r.getrandbits(64):016x}-ARN", "message_source": None, "timestamp_": "absolute",
                    "message_type": None} if r.random() < 0.95 else {}
            return add(mid, parent, self._msg(mid, "user", tick(20, 900),
                                              {"content_type": "text", "parts": [self.user_text(lang)]}, meta=meta))

        tip = add("client-created-root", None, None)
        sid = self.uid()
        tip = add(sid, tip, self._msg(sid, "system", None, {"content_type": "text", "parts": [""]},
                                      meta={"is_visually_hidden_from_conversation": True}, end_turn=True, weight=0.0))
        if r.random() < 0.15:
            cid = self.uid()
            about = self._unique(lang)
            tip = add(cid, tip, self._msg(cid, "user", None, {
                "content_type": "user_editable_context", "user_profile": f"User profile:\n```{about}```",
                "user_instructions": f"The user provided the additional info about how they would like you to "
                                     f"respond:\n```{self._unique(lang)}```"},
                meta={"is_visually_hidden_from_conversation": True, "is_user_system_message": True,
                      "user_context_message_data": {"about_user_message": about}}))
        for _ in range(turns):
            parent = tip
            if r.random() < 0.07:  # edited question: the first version keeps its own answer on a dead branch
                assistant(user(parent))
            u = user(parent)
            tip = u
            if model in THINKING:
                th = self.uid()
                tip = add(th, tip, self._msg(th, "assistant", tick(1, 3), {
                    "content_type": "thoughts", "source_analysis_msg_id": self.uid(),
                    "thoughts": [{"summary": self._unique(lang), "content": r.choice(self.pool[lang]),
                                  "chunks": [], "finished": True}]},
                    meta={"reasoning_status": "is_reasoning", "model_slug": model}, end_turn=False))
                rc = self.uid()
                secs = r.randint(2, 90)
                tip = add(rc, tip, self._msg(rc, "assistant", tick(secs, secs + 1), {
                    "content_type": "reasoning_recap", "content": f"Thought for {secs}s"},
                    meta={"reasoning_status": "reasoning_ended", "finished_duration_sec": secs,
                          "model_slug": model}, end_turn=False))
            if r.random() < 0.06:  # code interpreter round trip
                code = r.choice(CODE).split("\n", 1)[1].rsplit("\n", 1)[0]
                cn = self.uid()
                tip = add(cn, tip, self._msg(cn, "assistant", tick(2, 8), {
                    "content_type": "code", "language": "unknown", "response_format_name": None, "text": code},
                    meta=ameta(tip), recipient="python", end_turn=False))
                out = f"{r.randint(0, 10**6):,}\n"
                tn = self.uid()
                tip = add(tn, tip, self._msg(tn, "tool", tick(1, 4), {"content_type": "execution_output", "text": out},
                                             name="python", meta={"is_complete": True, "aggregate_result": {
                                                 "status": "success", "run_id": self.uid(), "code": code,
                                                 "final_expression_output": None, "messages": [],
                                                 "jupyter_messages": []}, "model_slug": model}))
            if r.random() < 0.08:  # regenerated answer: the first one stays as a sibling
                assistant(tip)
            tip = assistant(tip)
        cid = f"{int(created):08x}-{r.getrandbits(16):04x}-800{r.getrandbits(4):x}-{r.getrandbits(16):04x}-" \
              f"{r.getrandbits(48):012x}"
        return {"title": self._unique(lang)[:60], "create_time": created, "update_time": round(t + 1.5, 6),
                "mapping": mapping, "moderation_results": [], "current_node": tip, "plugin_ids": None,
                "conversation_id": cid, "conversation_template_id": None, "gizmo_id": None, "gizmo_type": None,
                "is_archived": False, "is_starred": None, "safe_urls": [], "blocked_urls": [],
                "default_model_slug": model, "conversation_origin": None, "voice": None, "async_status": None,
                "disabled_tool_ids": [], "is_do_not_remember": False, "memory_scope": "global_enabled",
                "sugar_item_id": None, "id": cid}


def generate(path: Path, size_mb: int, seed: int) -> dict:
    """Write conversations until the file reaches size_mb MiB. Streams: one conversation in memory at a time."""
    import orjson

    target = size_mb * MB
    gen = Gen(seed)
    n_conv = n_nodes = 0
    written = 0
    tmp = path.with_suffix(".part")
    t0 = time.perf_counter()
    with open(tmp, "wb", buffering=8 * MB) as f:
        f.write(b"[")
        written += 1
        while written < target:
            blob = orjson.dumps(gen.conversation())
            if n_conv:
                f.write(b",\n")
                written += 2
            f.write(blob)
            written += len(blob)
            n_conv += 1
            n_nodes += blob.count(b'"children":')
            if sys.stderr.isatty() and n_conv % 500 == 0:
                print(f"\r  generating {written / MB:,.0f} / {size_mb:,} MB", end="", file=sys.stderr)
        f.write(b"]\n")
        written += 2
    os.replace(tmp, path)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return {"generator": GENERATOR_VERSION, "size_mb": size_mb, "seed": seed, "bytes": written,
            "conversations": n_conv, "nodes": n_nodes, "seconds": round(time.perf_counter() - t0, 1)}


def ensure_export(size_mb: int, seed: int) -> tuple[Path, dict]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"conversations-{size_mb}mb-seed{seed}.json"
    meta_path = path.with_name(path.name + ".params.json")
    want = {"generator": GENERATOR_VERSION, "size_mb": size_mb, "seed": seed}
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} == want and meta.get("bytes") == path.stat().st_size:
            print(f"reusing {path.relative_to(ROOT)} ({meta['conversations']:,} conversations, "
                  f"{meta['nodes']:,} nodes)")
            return path, meta
    print(f"generating {path.relative_to(ROOT)} ({size_mb:,} MB, seed {seed}) …")
    meta = generate(path, size_mb, seed)
    meta_path.write_text(json.dumps(meta, indent=1))
    print(f"  {meta['bytes'] / MB:,.0f} MB, {meta['conversations']:,} conversations, {meta['nodes']:,} nodes "
          f"in {meta['seconds']} s")
    return path, meta


# ----------------------------------------------------------------------------------------------------------------
# Baselines (run inside the child process)


def canonical_texts(conv: dict) -> list[str]:
    """Walk current_node → root; keep visible user/assistant text (string parts), in display order."""
    mapping = conv.get("mapping") or {}
    node_id = conv.get("current_node")
    seen = set()
    out = []
    while node_id and node_id in mapping and node_id not in seen:
        seen.add(node_id)
        node = mapping[node_id]
        m = node.get("message")
        if m:
            role = (m.get("author") or {}).get("role")
            content = m.get("content") or {}
            meta = m.get("metadata") or {}
            if (role in ("user", "assistant") and content.get("content_type") in ("text", "multimodal_text")
                    and m.get("recipient", "all") == "all" and not meta.get("is_visually_hidden_from_conversation")):
                text = "\n".join(p for p in content.get("parts") or () if isinstance(p, str))
                if text:
                    out.append(text)
        node_id = node.get("parent")
    out.reverse()
    return out


def child_baseline(kind: str, path: str) -> None:
    counts = {"conversations": 0, "messages": 0, "chars": 0}

    def walk(conv):
        texts = canonical_texts(conv)
        counts["conversations"] += 1
        counts["messages"] += len(texts)
        counts["chars"] += sum(map(len, texts))

    if kind == "naive":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        for conv in data:
            walk(conv)
    else:
        import ijson

        with open(path, "rb") as f:
            for conv in ijson.items(f, "item", use_float=True):
                walk(conv)
        counts["ijson_backend"] = ijson.backend
    print(json.dumps(counts))


def child_ours_lib(path: str, workspace: str) -> None:
    from twinforge.ingest.run import ingest_paths
    from twinforge.store import Store

    with Store(workspace) as store:
        ingest_paths(store, [Path(path)], progress=False)


# ----------------------------------------------------------------------------------------------------------------
# Measuring


def measure(name: str, cmd: list[str]) -> dict:
    """Run cmd as a fresh child (bench/child.py): wall time and its own peak RSS."""
    print(f"  {name:6} {' '.join(cmd[:6])}{' …' if len(cmd) > 6 else ''}", flush=True)
    return run_child(name, cmd)


def store_counts(workspace: Path) -> dict:
    import sqlite3

    db = workspace / "twin.db"
    if not db.exists():
        return {}
    con = sqlite3.connect(db)
    try:
        out = {"conversations": con.execute("SELECT count(*) FROM conversations").fetchone()[0],
               "messages_all_branches": con.execute("SELECT count(*) FROM messages").fetchone()[0],
               "messages": con.execute("SELECT count(*) FROM messages WHERE canonical = 1").fetchone()[0]}
    except sqlite3.Error as e:
        out = {"error": str(e)}
    finally:
        con.close()
    out["db_mb"] = round(sum(f.stat().st_size for f in workspace.glob("twin.db*")) / MB, 1)
    return out


def run_ours(path: Path, via: str, keep: bool) -> dict:
    ws = OUT / f"ws-{os.getpid()}"
    shutil.rmtree(ws, ignore_errors=True)
    if via == "cli":
        exe = Path(sys.executable).parent / "twinforge"
        exe = str(exe) if exe.exists() else shutil.which("twinforge")
        if not exe:
            return {"name": "ours", "rc": None, "error": "no `twinforge` executable next to this Python or on PATH; "
                                                       "install the package (make venv) or use --ours-via lib"}
        cmd = [exe, "-w", str(ws), "ingest", str(path)]
    else:
        cmd = [sys.executable, __file__, "--child", "ours-lib", str(path), str(ws)]
    res = measure("ours", cmd)
    res["store"] = store_counts(ws)
    if keep:
        res["workspace"] = str(ws)
    else:
        shutil.rmtree(ws, ignore_errors=True)
    return res


def report(results: dict[str, dict], size_bytes: int) -> list[dict]:
    rows = []
    for name in ("ours", "naive", "floor"):
        r = results.get(name)
        if not r or r.get("rc") != 0:
            continue
        rows.append({"name": name, "mb_s": size_bytes / MB / r["wall_s"], "rss": r["peak_rss_mb"], "wall": r["wall_s"]})
    base = {row["name"]: row for row in rows}
    print()
    print(f"{'reader':8}{'wall s':>9}{'MB/s':>9}{'peak RSS MB':>13}{'speed ×naive':>14}{'speed ×floor':>14}"
          f"{'RSS ×naive':>12}{'RSS ×floor':>12}")
    for row in rows:
        def ratio(key, other):
            o = base.get(other)
            return f"{row[key] / o[key]:.2f}" if o else "—"

        print(f"{row['name']:8}{row['wall']:>9.1f}{row['mb_s']:>9.1f}{row['rss']:>13.0f}"
              f"{ratio('mb_s', 'naive'):>14}{ratio('mb_s', 'floor'):>14}{ratio('rss', 'naive'):>12}"
              f"{ratio('rss', 'floor'):>12}")
    for name in ("ours", "naive", "floor"):
        r = results.get(name) or {}
        counts = r.get("store") or r.get("counts")
        if r.get("rc") == 0 and counts:
            print(f"{name:8}" + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in counts.items()))
    for name in ("ours", "naive", "floor"):
        r = results.get(name)
        if r and r.get("rc") != 0:
            print(f"{name:8}failed: {r.get('error') or r.get('stderr_tail', '').strip()[-300:]}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024, help="size of the synthetic export in MiB (default 1024)")
    ap.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    ap.add_argument("--only", choices=("ours", "naive", "floor"), action="append",
                    help="run only this measurement (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the workspace `ours` ingested into (bench/out/ws-*)")
    ap.add_argument("--ours-via", choices=("cli", "lib"), default="cli",
                    help="cli: the twinforge executable (default); lib: ingest_paths() in a child Python")
    ap.add_argument("--generate-only", action="store_true", help="only make sure the export exists")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind in ("naive", "floor"):
            child_baseline(kind, rest[0])
        elif kind == "ours-lib":
            child_ours_lib(*rest)
        return 0

    path, meta = ensure_export(args.size_mb, args.seed)
    if args.generate_only:
        return 0
    size = path.stat().st_size
    which = args.only or ["ours", "naive", "floor"]
    print(f"measuring on {size / MB:,.0f} MB ({os.cpu_count()} CPUs):")
    results: dict[str, dict] = {}
    for name in ("ours", "naive", "floor"):
        if name not in which:
            continue
        if name == "ours":
            results[name] = run_ours(path, args.ours_via, args.keep)
        else:
            r = measure(name, [sys.executable, __file__, "--child", name, str(path)])
            if r["rc"] == 0:
                try:
                    r["counts"] = json.loads(r["stdout_tail"].strip().splitlines()[-1])
                except (ValueError, IndexError):
                    pass
            results[name] = r
    rows = report(results, size)

    doc = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "file": str(path.relative_to(ROOT)), "file_bytes": size,
           "export": meta, "python": sys.version.split()[0], "cpus": os.cpu_count(), "results": results,
           "table": [{k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()} for row in rows]}
    res_path = OUT / "ingest-results.json"
    res_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    print(f"\nresults: {res_path.relative_to(ROOT)}")
    return 0 if all(r.get("rc") == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
