"""Clean benchmark: how fast and how right is duplicate detection on 100k chat messages?

    .venv/bin/python bench/clean.py                 # 100k synthetic messages, all measurements
    .venv/bin/python bench/clean.py --n 10000       # quick run
    .venv/bin/python bench/clean.py --only ours     # one measurement (repeatable)

Generates (once; reused while the parameters match) synthetic messages in bench/out/ — Russian and English,
realistic lengths, with ~5% planted exact duplicates (case, whitespace, punctuation and markdown changed) and ~5%
planted near-duplicates (a few words substituted, inserted or deleted: a regenerated answer), so the ground
truth is known. Then runs, each in a fresh subprocess, with wall time and peak RSS:

  floor       load the messages and do nothing: what the data alone costs
  ours        twinforge.clean.dedupe: exact_groups + NearDuplicates(threshold 0.8, 128 perms, word 5-grams)
  datasketch  plain datasketch: MinHash (128 perms, word 5-grams of the same normalized words) per message +
              MinHashLSH(threshold 0.8), query every message, union the candidates
  clean       the whole clean stage (twinforge.clean.run.clean_messages) over the same messages, if it exists

and scores the found clusters against the planted duplicates (recall and precision). Results go to
bench/out/clean-results.json. This is a benchmark, not a test. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
GENERATOR_VERSION = 1
EXPORT_VERSION = 3  # of the ChatGPT export the clean stage's workspace is ingested from
MB = 1024 * 1024
THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE = 5
MIN_WORDS = 8

sys.path.insert(0, str(HERE))
from child import run_child  # noqa: E402  (bench/child.py: a measured child process)
from ingest import CODE, EN_CLOSERS, EN_OPENERS, EN_WORDS, HEADERS, RU_CLOSERS, RU_OPENERS, RU_WORDS  # noqa: E402

# ----------------------------------------------------------------------------------------------------------------
# Synthetic messages with planted duplicates


class Gen:
    """Deterministic generator of chat messages: fresh random sentences (no two originals share much), some
    shared boilerplate paragraphs (unrelated messages on one topic overlap a little), openers and closers."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.words = {"ru": RU_WORDS, "en": EN_WORDS}
        self.shared = {lang: [self._para(lang, self.rng.randint(2, 5)) for _ in range(200)] for lang in ("ru", "en")}

    def _sentence(self, lang: str, n: int) -> str:
        s = " ".join(self.rng.choices(self.words[lang], k=n))
        return s[0].upper() + s[1:] + self.rng.choice([".", ".", ".", "?", "!", " —", ";", ","])

    def _para(self, lang: str, sentences: int) -> str:
        return " ".join(self._sentence(lang, self.rng.randint(5, 22)) for _ in range(sentences))

    def _body(self, lang: str, words: int) -> list[str]:
        r = self.rng
        parts: list[str] = []
        left = words
        while left > 0:
            x = r.random()
            if x < 0.06 and words > 60:
                parts.append(r.choice(self.shared[lang]))  # a boilerplate paragraph other messages have too
            elif x < 0.14:
                parts.append(f"## {r.choice(HEADERS)} " + self._sentence(lang, r.randint(3, 8)))
            elif x < 0.24:
                parts.append("\n".join("- **" + self._sentence(lang, r.randint(4, 14)) + "**"
                                       for _ in range(r.randint(2, 5))))
            elif x < 0.27:
                parts.append(r.choice(CODE))
            else:
                parts.append(" ".join(self._sentence(lang, min(left, r.randint(5, 22)))
                                      for _ in range(r.randint(1, 6))))
            left = words - sum(len(p.split()) for p in parts)
        return parts

    def message(self) -> str:
        r = self.rng
        lang = "ru" if r.random() < 0.75 else "en"
        if r.random() < 0.35:  # user: mostly short
            n = max(1, min(600, round(r.lognormvariate(3.2, 1.0))))  # median ~25 words
            return "\n\n".join(self._body(lang, n)) if n > 30 else self._sentence(lang, n)
        n = max(20, min(3000, round(r.lognormvariate(5.7, 0.7))))  # assistant: median ~300 words
        parts = [r.choice(RU_OPENERS if lang == "ru" else EN_OPENERS), *self._body(lang, n),
                 r.choice(RU_CLOSERS if lang == "ru" else EN_CLOSERS)]
        return "\n\n".join(parts)

    # -- planted copies
    def exact_copy(self, text: str) -> str:
        """The same words, in another case, spacing, punctuation and markdown: normalize() makes them equal."""
        r = self.rng
        ops = r.sample(["upper", "lower", "title", "spaces", "punct", "markdown", "emoji"], r.randint(1, 3))
        for op in ops:
            if op == "upper":
                text = text.upper()
            elif op == "lower":
                text = text.lower()
            elif op == "title":
                text = text[:1].swapcase() + text[1:]
            elif op == "spaces":
                text = re.sub(r"\s+", lambda m: r.choice([" ", "  ", "\n", " \n\n "]), text)
            elif op == "punct":
                text = re.sub(r"[.,;!?—](?=\s|$)", lambda m: r.choice(["", ".", "…", "!!", " — ", ","]), text)
            elif op == "markdown":
                text = "**" + text.replace("\n\n", "\n\n> ", 3) + "**"
            else:
                text = f"{r.choice(HEADERS)} {text} {r.choice(HEADERS)}"
        return text

    def near_copy(self, text: str, lang: str) -> str:
        """A regenerated answer: ~0.5–2% of the words substituted, deleted or inserted."""
        r = self.rng
        toks = text.split(" ")
        k = max(1, round(len(toks) * r.uniform(0.005, 0.02)))
        for _ in range(k):
            i = r.randrange(len(toks))
            op = r.random()
            w = r.choice(self.words[lang])
            if op < 0.6:
                toks[i] = w
            elif op < 0.8 and len(toks) > 1:
                del toks[i]
            else:
                toks.insert(i, w)
        return " ".join(toks)


WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    return WORD.findall(text.casefold())


def true_jaccard(a: str, b: str, k: int = SHINGLE) -> float:
    def sh(t):
        w = words_of(t)
        return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)} if len(w) >= k else {tuple(w)}

    x, y = sh(a), sh(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def generate(n: int, seed: int) -> dict:
    """n messages: ~90% originals, ~5% exact copies, ~5% near copies of random originals, in random order."""
    gen = Gen(seed)
    r = gen.rng
    n_exact = n_near = n // 20
    n_orig = n - n_exact - n_near
    texts = [gen.message() for _ in range(n_orig)]
    langs = ["ru" if re.search("[а-яё]", t[:400], re.I) else "en" for t in texts]
    family = list(range(n_orig))
    kind = ["orig"] * n_orig
    for _ in range(n_exact):
        src = r.randrange(n_orig)
        texts.append(gen.exact_copy(texts[src]))
        family.append(src)
        kind.append("exact")
    long_ones = [i for i in range(n_orig) if len(texts[i].split()) >= 50]  # regenerated answers are long
    for _ in range(n_near):
        src = r.choice(long_ones)
        texts.append(gen.near_copy(texts[src], langs[src]))
        family.append(src)
        kind.append("near")
    order = list(range(n))
    r.shuffle(order)  # order[k] = the text at input position k
    pos = {t: k for k, t in enumerate(order)}
    ids = [f"m{k:07d}" for k in range(n)]
    messages = [[ids[k], texts[t]] for k, t in enumerate(order)]
    truth = []  # [source id, copy id, kind, true Jaccard of word 5-grams, words in the shorter of the two]
    for t in range(n_orig, n):
        src = family[t]
        truth.append([ids[pos[src]], ids[pos[t]], kind[t], round(true_jaccard(texts[src], texts[t]), 4),
                      min(len(words_of(texts[src])), len(words_of(texts[t])))])
    family_of = {ids[pos[t]]: ids[pos[family[t]]] for t in range(n)}
    return {"messages": messages, "truth": truth, "family": family_of}


def ensure_messages(n: int, seed: int) -> tuple[Path, dict]:
    """bench/out/clean-messages-<n>-seed<seed>.jsonl (one [id, text] per line) and its .truth.json, made once."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"clean-messages-{n}-seed{seed}.jsonl"
    meta_path = path.with_name(path.name + ".params.json")
    want = {"generator": GENERATOR_VERSION, "n": n, "seed": seed}
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} == want and meta.get("bytes") == path.stat().st_size:
            print(f"reusing {path.relative_to(ROOT)} ({n:,} messages, {meta['words']:,} words)")
            return path, meta
    print(f"generating {path.relative_to(ROOT)} ({n:,} messages, seed {seed}) …", flush=True)
    # in a child: a parent that once held every message would hand its peak RSS on to the children it starts
    # (Linux keeps the high-water mark across fork and exec), and every measurement would read that
    subprocess.run([sys.executable, __file__, "--child", "generate", str(path), str(n), str(seed)], check=True)
    meta = json.loads(meta_path.read_text())
    print(f"  {meta['bytes'] / MB:,.0f} MB, {meta['chars']:,} characters, {meta['words']:,} words (per message "
          f"p10/p50/p90/max {'/'.join(map(str, meta['words_p10_p50_p90_max']))}) in {meta['seconds']} s")
    return path, meta


def child_generate(path: str, n: str, seed: str) -> None:
    import orjson

    path, n, seed = Path(path), int(n), int(seed)
    t0 = time.perf_counter()
    data = generate(n, seed)
    blob = b"".join(orjson.dumps(m) + b"\n" for m in data["messages"])
    path.write_bytes(blob)
    truth_path(path).write_bytes(orjson.dumps({"truth": data["truth"], "family": data["family"]}))
    lens = sorted(len(words_of(t)) for _, t in data["messages"])
    meta = {"generator": GENERATOR_VERSION, "n": n, "seed": seed, "bytes": len(blob),
            "chars": sum(len(t) for _, t in data["messages"]), "words": sum(lens),
            "words_p10_p50_p90_max": [lens[len(lens) // 10], lens[len(lens) // 2], lens[len(lens) * 9 // 10],
                                      lens[-1]],
            "under_min_words": sum(1 for x in lens if x < MIN_WORDS),
            "planted_exact": sum(t[2] == "exact" for t in data["truth"]),
            "planted_near": sum(t[2] == "near" for t in data["truth"]),
            "seconds": round(time.perf_counter() - t0, 1)}
    path.with_name(path.name + ".params.json").write_text(json.dumps(meta, indent=1))


def truth_path(path: Path) -> Path:
    return path.with_name(path.name + ".truth.json")


def load_messages(path: Path) -> list[tuple[str, str]]:
    """Line by line, so the peak is the messages themselves and not a second copy of the file."""
    import orjson

    with open(path, "rb") as f:
        return [tuple(orjson.loads(line)) for line in f]


# ----------------------------------------------------------------------------------------------------------------
# The measured children


def _rss_now_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _done(stats: dict, groups_path: str | None = None, groups: list | None = None) -> None:
    import resource

    stats["peak_rss_in_child_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if groups_path is not None:
        Path(groups_path).write_text(json.dumps(groups, ensure_ascii=False))
    print(json.dumps(stats))


def child_floor(path: str) -> None:
    t0 = time.perf_counter()
    items = load_messages(Path(path))
    _done({"messages": len(items), "load_s": round(time.perf_counter() - t0, 2),
           "rss_after_load_mb": round(_rss_now_mb(), 1)})


def child_ours(path: str, groups_path: str) -> None:
    t0 = time.perf_counter()
    items = load_messages(Path(path))
    stats = {"messages": len(items), "load_s": round(time.perf_counter() - t0, 2),
             "rss_after_load_mb": round(_rss_now_mb(), 1)}
    t0 = time.perf_counter()
    from twinforge.clean.dedupe import NearDuplicates, exact_groups

    t1 = time.perf_counter()
    exact = exact_groups(items)
    t2 = time.perf_counter()
    near = NearDuplicates(threshold=THRESHOLD, num_perm=NUM_PERM, shingle=SHINGLE, min_words=MIN_WORDS).groups(items)
    t3 = time.perf_counter()
    stats.update(import_s=round(t1 - t0, 2), exact_s=round(t2 - t1, 2), near_s=round(t3 - t2, 2),
                 dedupe_s=round(t3 - t1, 2), exact_groups=len(exact), near_clusters=len(near))
    _done(stats, groups_path, {"exact": exact, "near": [[i for i, _ in c] for c in near]})


def child_datasketch(path: str, groups_path: str) -> None:
    """Plain datasketch, the way its docs show it: MinHash per text, MinHashLSH, query each, union candidates.
    Tokens are our normalize()'s words, so both sides compare the same shingles; that tokenizing is timed apart."""
    t0 = time.perf_counter()
    items = load_messages(Path(path))
    stats = {"messages": len(items), "load_s": round(time.perf_counter() - t0, 2),
             "rss_after_load_mb": round(_rss_now_mb(), 1)}
    from datasketch import MinHash, MinHashLSH

    from twinforge.clean.dedupe import normalize

    t1 = time.perf_counter()
    shingled = []
    for key, text in items:
        words = normalize(text).split()
        if len(words) >= MIN_WORDS:
            shingled.append((key, {" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)}))
    t2 = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    hashes = []
    for key, shingles in shingled:
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch(shingles)
        lsh.insert(key, m)
        hashes.append((key, m))
    del shingled
    t3 = time.perf_counter()
    index = {key: i for i, (key, _) in enumerate(hashes)}
    parent = list(range(len(hashes)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for key, m in hashes:
        for other in lsh.query(m):
            a, b = find(index[key]), find(index[other])
            if a != b:
                parent[max(a, b)] = min(a, b)
    clusters: dict[int, list[str]] = {}
    for i, (key, _) in enumerate(hashes):
        clusters.setdefault(find(i), []).append(key)
    t4 = time.perf_counter()
    near = [c for c in clusters.values() if len(c) > 1]
    stats.update(tokenize_s=round(t2 - t1, 2), minhash_insert_s=round(t3 - t2, 2), query_s=round(t4 - t3, 2),
                 minhash_lsh_s=round(t4 - t2, 2), dedupe_s=round(t4 - t1, 2), near_clusters=len(near),
                 lsh_bands_rows=[lsh.b, lsh.r])
    _done(stats, groups_path, {"near": near})


def child_clean(workspace: str) -> None:
    from twinforge.clean.run import clean_messages
    from twinforge.store import Store

    t0 = time.perf_counter()
    with Store(workspace) as store:
        report = clean_messages(store)
    d = report.as_dict()
    d.pop("samples", None)
    _done({"clean_s": round(time.perf_counter() - t0, 2), "report": d})


def chatgpt_export(items: list[tuple[str, str]], family: dict[str, str], path: Path, seed: int) -> None:
    """The messages as a ChatGPT export. A message's role is fixed by its planted family (the clean stage only
    compares messages of one role, so a copy must have its source's role); conversations alternate user and
    assistant (ingest joins consecutive assistant nodes into one answer), 1–20 turns, messages in input order.
    Messages left over when one role runs out become one-message conversations."""
    import orjson

    r = random.Random(seed)
    queues: dict[str, list[tuple[str, str]]] = {"user": [], "assistant": []}
    for mid, text in items:
        queues["user" if int(family[mid][1:]) % 2 == 0 else "assistant"].append((mid, text))
    for q in queues.values():
        q.reverse()  # pop() from the end = input order
    convs = []
    t = 1672531200.0
    while queues["user"] or queues["assistant"]:
        turns = []
        role = "user" if queues["user"] else "assistant"
        for _ in range(r.randint(2, 40) if queues["user"] and queues["assistant"] else 1):
            if not queues[role]:
                break
            turns.append((role, *queues[role].pop()))
            role = "assistant" if role == "user" else "user"
        mapping = {"root": {"id": "root", "message": None, "parent": None, "children": []}}
        prev = "root"
        for role, mid, text in turns:
            t += 30
            mapping[mid] = {"id": mid, "parent": prev, "children": [], "message": {
                "id": mid, "author": {"role": role, "name": None, "metadata": {}}, "create_time": t,
                "content": {"content_type": "text", "parts": [text]}, "status": "finished_successfully",
                "end_turn": role == "assistant", "weight": 1.0, "metadata": {}, "recipient": "all"}}
            mapping[prev]["children"].append(mid)
            prev = mid
        cid = f"c{len(convs):06d}"
        convs.append({"title": f"conversation {len(convs)}", "create_time": t, "update_time": t, "mapping": mapping,
                      "current_node": prev, "conversation_id": cid, "id": cid})
    path.write_bytes(orjson.dumps(convs))


def run_clean(path: Path, meta: dict, seed: int) -> dict:
    """Ingest the messages (as a ChatGPT export) into a fresh workspace once, then time the clean stage on it."""
    try:
        import twinforge.clean.run  # noqa: F401
    except ImportError as e:
        return {"name": "clean", "rc": None, "skipped": f"twinforge.clean.run is not importable yet ({e})"}

    ws = OUT / f"clean-ws-{meta['n']}-seed{seed}"
    stamp = ws / "ingested.json"
    want = {"messages": meta, "export_version": EXPORT_VERSION}
    if not (stamp.exists() and json.loads(stamp.read_text()) == want):
        print(f"  ingesting the messages as a ChatGPT export into {ws.relative_to(ROOT)} (setup, not measured) …",
              flush=True)
        subprocess.run([sys.executable, __file__, "--child", "setup-clean", str(path), str(ws), str(seed)],
                       check=True)
        stamp.write_text(json.dumps(want))
    return measure("clean", [sys.executable, __file__, "--child", "clean", str(ws)])


def child_setup_clean(path: str, workspace: str, seed: str) -> None:
    import shutil

    import orjson

    from twinforge.ingest.run import ingest_paths
    from twinforge.store import Store

    shutil.rmtree(workspace, ignore_errors=True)
    family = orjson.loads(truth_path(Path(path)).read_bytes())["family"]
    export = Path(workspace).with_suffix(".export.json")
    chatgpt_export(load_messages(Path(path)), family, export, int(seed))
    with Store(workspace) as store:
        ingest_paths(store, [export], progress=False)
    export.unlink()


# ----------------------------------------------------------------------------------------------------------------
# Measuring and scoring


def measure(name: str, cmd: list[str]) -> dict:
    """Run cmd as a fresh child (bench/child.py); its last stdout line is its JSON stats."""
    print(f"  {name:10} {' '.join(cmd[1:5])} …", flush=True)
    res = run_child(name, cmd)
    if res["rc"] == 0:
        try:
            res["stats"] = json.loads(res["stdout_tail"].strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
    return res


def _pairs(groups: list[list[str]]) -> set[tuple[str, str]]:
    """Each member paired with its group's first member."""
    return {(g[0], x) for g in groups for x in g[1:]}


def score(groups: list[list[str]], truth: list, family: dict[str, str], texts: dict[str, str],
          want: str) -> dict:
    """Recall of the planted pairs the method should find, precision of the pairs it reports.

    want="near": planted (source, copy) pairs, exact or near copies, with true 5-gram Jaccard >= THRESHOLD and
    both texts >= MIN_WORDS words. want="exact": planted exact copies whose text is not empty after normalize.
    Reported pairs are (group's first, member). precision_planted: both come from one planted family (a source
    and its copies). precision: the pair really is a duplicate — one planted family, or (the generator makes a
    few by chance: short messages, messages made mostly of a shared paragraph) for exact groups the same
    normalized text, for near groups a true Jaccard >= THRESHOLD - 0.1 (an estimate may err by that much)."""
    from twinforge.clean.dedupe import normalize

    where = {x: k for k, g in enumerate(groups) for x in g}
    if want == "near":
        should = [(s, c, kind) for s, c, kind, j, words in truth if j >= THRESHOLD and words >= MIN_WORDS]
    else:
        should = [(s, c, kind) for s, c, kind, j, words in truth if kind == "exact" and words > 0]
    found = [where.get(s, -1) == where.get(c, -2) for s, c, _ in should]
    out = {"should_find": len(should), "found": sum(found), "recall": round(sum(found) / max(len(should), 1), 4)}
    for kind in ("exact", "near"):
        f = [ok for (_, _, k), ok in zip(should, found) if k == kind]
        if f:
            out[f"recall_{kind}_copies"] = round(sum(f) / len(f), 4)
    pairs = sorted(_pairs(groups))
    planted = [family[a] == family[b] for a, b in pairs]
    if want == "near":
        real = [p or true_jaccard(texts[a], texts[b]) >= THRESHOLD - 0.1 for (a, b), p in zip(pairs, planted)]
    else:
        real = [p or normalize(texts[a]) == normalize(texts[b]) for (a, b), p in zip(pairs, planted)]
    out.update(reported_pairs=len(pairs), planted_pairs=sum(planted),
               precision_planted=round(sum(planted) / max(len(pairs), 1), 4),
               precision=round(sum(real) / max(len(pairs), 1), 4))
    return out


def report(results: dict[str, dict], meta: dict) -> list[dict]:
    rows = []
    for name in ("floor", "ours", "datasketch", "clean"):
        r = results.get(name)
        if not r or r.get("rc") != 0:
            continue
        st = r.get("stats", {})
        work = st.get("dedupe_s", st.get("clean_s"))
        rows.append({"name": name, "wall": r["wall_s"], "work": work,
                     "msgs_s": meta["n"] / work if work else None, "rss": r["peak_rss_mb"],
                     "rss_over_load": r["peak_rss_mb"] - st["rss_after_load_mb"] if "rss_after_load_mb" in st
                     else None,
                     "near_recall": (r.get("score_near") or {}).get("recall"),
                     "near_precision": (r.get("score_near") or {}).get("precision"),
                     "exact_recall": (r.get("score_exact") or {}).get("recall"),
                     "exact_precision": (r.get("score_exact") or {}).get("precision")})

    def f(v, fmt):
        return "—" if v is None else format(v, fmt)

    print()
    print(f"{'run':12}{'wall s':>8}{'dedupe s':>10}{'msgs/s':>10}{'peak RSS MB':>13}{'RSS over data':>15}"
          f"{'near recall':>13}{'near prec.':>12}{'exact recall':>14}{'exact prec.':>13}")
    for row in rows:
        print(f"{row['name']:12}{row['wall']:>8.1f}{f(row['work'], '.2f'):>10}{f(row['msgs_s'], ',.0f'):>10}"
              f"{row['rss']:>13.0f}{f(row['rss_over_load'], '.0f'):>15}{f(row['near_recall'], '.4f'):>13}"
              f"{f(row['near_precision'], '.4f'):>12}{f(row['exact_recall'], '.4f'):>14}"
              f"{f(row['exact_precision'], '.4f'):>13}")
    for name, r in results.items():
        st = r.get("stats") or {}
        if name == "ours" and st:
            print(f"ours        exact_groups {st['exact_s']} s ({st['exact_groups']:,} groups), NearDuplicates.groups "
                  f"{st['near_s']} s ({st['near_clusters']:,} clusters); loading the messages {st['load_s']} s")
        if name == "datasketch" and st:
            print(f"datasketch  normalize+shingle {st['tokenize_s']} s, MinHash+insert {st['minhash_insert_s']} s, "
                  f"query+union {st['query_s']} s (b, r = {st['lsh_bands_rows']}); MinHash+LSH alone "
                  f"{st['minhash_lsh_s']} s")
        if name == "clean" and st:
            print(f"clean       {st['report'].get('messages_by_reason')}")
        if r.get("skipped"):
            print(f"{name:12}skipped: {r['skipped']}")
        elif r.get("rc") not in (0, None):
            print(f"{name:12}failed: {r.get('stderr_tail', '').strip()[-300:]}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="messages (default 100000)")
    ap.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    ap.add_argument("--only", choices=("floor", "ours", "datasketch", "clean"), action="append",
                    help="run only this measurement (repeatable)")
    ap.add_argument("--generate-only", action="store_true", help="only make sure the messages exist")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        {"floor": child_floor, "ours": child_ours, "datasketch": child_datasketch, "clean": child_clean,
         "generate": child_generate, "setup-clean": child_setup_clean}[kind](*rest)
        return 0

    path, meta = ensure_messages(args.n, args.seed)
    if args.generate_only:
        return 0
    which = args.only or ["floor", "ours", "datasketch", "clean"]
    print(f"measuring on {args.n:,} messages ({os.cpu_count()} CPUs):")
    results: dict[str, dict] = {}
    for name in ("floor", "ours", "datasketch"):
        if name in which:
            cmd = [sys.executable, __file__, "--child", name, str(path)]
            if name != "floor":
                cmd.append(str(OUT / f"clean-groups-{name}.json"))
            results[name] = measure(name, cmd)
    if "clean" in which:
        results["clean"] = run_clean(path, meta, args.seed)

    import orjson

    t = orjson.loads(truth_path(path).read_bytes())
    texts = dict(load_messages(path))
    for name in ("ours", "datasketch"):
        r = results.get(name)
        if r and r.get("rc") == 0:
            groups = json.loads((OUT / f"clean-groups-{name}.json").read_text())
            r["score_near"] = score(groups["near"], t["truth"], t["family"], texts, "near")
            if "exact" in groups:
                r["score_exact"] = score(groups["exact"], t["truth"], t["family"], texts, "exact")
    rows = report(results, meta)

    doc = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "file": str(path.relative_to(ROOT)), "messages": meta,
           "params": {"threshold": THRESHOLD, "num_perm": NUM_PERM, "shingle": SHINGLE, "min_words": MIN_WORDS},
           "python": sys.version.split()[0], "cpus": os.cpu_count(), "results": results,
           "table": [{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in rows]}
    res_path = OUT / "clean-results.json"
    res_path.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    print(f"\nresults: {res_path.relative_to(ROOT)}")
    return 0 if all(r.get("rc") in (0, None) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
