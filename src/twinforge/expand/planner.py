"""The volume planner: how many examples of each generated view each module needs to reach a target volume.

`plan()` is a pure function of its inputs — the number of modules, what each view yields per kept example
(pages, lines, and the unique share of them, uniqueness.py), each view's pass rate through the quality gate,
a per-module cap on a view's examples, and a generation throughput — so it can be checked by hand and run
offline (`twinforge expand --dry-run --target-pages 15000 --modules 1000 --tokens-per-second 2500`).

The target counts UNIQUE pages (or lines) by default: repeated wording is not volume. Template views cost no
generation, so they are taken as they are (their measured yield per module, their shared text counted once);
the generated views fill the rest, in proportion to their caps. A view's requests per module are its kept
examples ÷ its pass rate. A target above what the caps allow is unreachable with these modules, and the plan
says how many modules it would take.

A request of depth or paper_applied gives three examples (generated.EXAMPLES_PER_ASK), so its requests per
module are a third of its kept examples ÷ the pass rate; paper_applied asks once per module at most.

The `measure_*` functions read the inputs from a store (store/expand_reads.py): per-view yields from the examples
it holds, pass rates from the gate's rejects (example_rejects), request sizes and throughput from the call cache
(llm_calls) and the runs that wrote it. What is not measured is an assumed figure, and the plan says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

import orjson

from ..records import PAGE_CHARS
from ..store import Store, expand_reads
from ..store.example_rejects import view_pass_rates
from .config import GENERATED_VIEWS
from .generated import EXAMPLES_PER_ASK, MAX_ASKS
from .views import VIEWS

GENERATED = tuple(GENERATED_VIEWS)  # the model-written views
# Assumed figures for a generated view nothing has measured yet (each use is flagged "assumed" in the plan).
ASSUMED_PASS_RATE = 0.7  # share of generated candidates the quality gate keeps
ASSUMED_UNIQUE = 0.8  # model-written text mostly new; the question may reuse the module's own phrases
ASSUMED_PROMPT_TOKENS = 700  # module JSON + instructions + a few source turns
ASSUMED_OUTPUT_TOKENS = 350  # one question and its answer
ASSUMED_CHARS_PER_TOKEN = 3.6  # Qwen tokenizer on English/Russian prose (text/tokens.py)
ASSUMED_LINES_PER_PAGE = 18
MAX_PER_MODULE = 12  # past this, one module's generated examples of a view mostly restate each other
MIN_HISTORY_TOKENS = 200  # a run that wrote fewer answer tokens than this is too short to time


@dataclass
class ViewYield:
    """What one view gives per kept example, and what producing it costs."""

    view: str
    generated: bool
    pages: float  # pages per kept example
    lines: float  # non-empty lines per kept example
    unique: float  # unique share: unique pages ÷ pages of this view's text
    pass_rate: float = 1.0  # kept ÷ (kept + rejected) by the quality gate
    cap: int = MAX_PER_MODULE  # kept examples per module at most
    per_request: int = 1  # examples one request gives (depth, paper_applied: 3)
    prompt_tokens: float = 0.0  # per generation request
    output_tokens: float = 0.0
    assumed: list[str] = field(default_factory=list)  # which of these figures are assumed, not measured


@dataclass
class Throughput:
    answer_tokens_per_second: float  # answer tokens per second, all servers together
    basis: str  # where the figure comes from, in words
    prompt_tokens_per_second: float | None = None  # None: prompt reading is inside the answer figure (measured)


@dataclass
class ViewPlan:
    view: str
    per_module: int  # kept examples per module
    requests_per_module: int  # generation requests per module (kept ÷ examples per request ÷ pass rate)
    examples: int
    requests: int
    pages: float
    unique_pages: float
    lines: float
    prompt_tokens: int
    output_tokens: int


@dataclass
class Plan:
    unit: str  # "pages" | "lines"
    unique: bool  # the target counts unique content
    target: float
    modules: int
    base: float  # what the template views give, in the target's unit
    reachable: bool
    most: float  # the most these modules can give with the caps
    modules_needed: int | None  # for an unreachable target, at the same per-module yield
    views: list[ViewPlan]
    requests: int
    prompt_tokens: int
    output_tokens: int
    seconds: float | None
    throughput_basis: str
    assumed: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def _per_example(y: ViewYield, unit: str, unique: bool) -> float:
    amount = y.pages if unit == "pages" else y.lines
    return amount * (y.unique if unique else 1.0)


def plan(target: float, unit: str, modules: int, template_per_module: float, views: list[ViewYield],
         throughput: Throughput | None, unique: bool = True) -> Plan:
    """Kept examples of each generated view per module to reach `target` (pages or lines, unique by default).

    `template_per_module`: what the template views give per module, in the target's unit (measured together,
    so their shared text counts once)."""
    if unit not in ("pages", "lines"):
        raise ValueError(f"unit must be pages or lines, not {unit!r}")
    gen = [v for v in views if v.generated and v.cap > 0 and _per_example(v, unit, unique) > 0]
    base = template_per_module * modules
    per_module_most = template_per_module + sum(v.cap * _per_example(v, unit, unique) for v in gen)
    most = per_module_most * modules
    need = max(target - base, 0.0)
    room = most - base
    share = min(need / room, 1.0) if room > 0 else 0.0
    out = []
    for v in gen:
        k = min(math.ceil(share * v.cap - 1e-9), v.cap)  # rounded up: the target is a floor
        r = math.ceil(k / (v.pass_rate * v.per_request) - 1e-9) if k else 0
        n = k * modules
        out.append(ViewPlan(v.view, k, r, n, r * modules, round(n * v.pages, 2), round(n * v.pages * v.unique, 2),
                            round(n * v.lines, 1), round(r * modules * v.prompt_tokens),
                            round(r * modules * v.output_tokens)))
    prompt = sum(p.prompt_tokens for p in out)
    answer = sum(p.output_tokens for p in out)
    seconds = None
    if throughput is not None:
        seconds = answer / throughput.answer_tokens_per_second
        if throughput.prompt_tokens_per_second:
            seconds += prompt / throughput.prompt_tokens_per_second
        seconds = round(seconds, 1)
    reachable = target <= most + 1e-9
    return Plan(unit, unique, target, modules, round(base, 2), reachable, round(most, 2),
                None if reachable or per_module_most <= 0 else math.ceil(target / per_module_most), out,
                sum(p.requests for p in out), prompt, answer, seconds,
                throughput.basis if throughput else "no throughput: give --tokens-per-second or --calibrate",
                _assumed(gen))


def _assumed(views: list[ViewYield]) -> list[str]:
    """Each assumed figure once, with the views it stands in for."""
    by: dict[str, list[str]] = {}
    for v in views:
        for a in v.assumed:
            by.setdefault(a, []).append(v.view)
    return [f"{a} ({', '.join(vs)})" for a, vs in by.items()]


def parse_amount(text: str) -> float:
    """'15000', '15k', '1.5M' → a number (k = 1,000, M = 1,000,000)."""
    s = str(text).strip().replace(",", "").replace("_", "")
    scale = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}.get(s[-1:], 1.0)
    if scale != 1.0:
        s = s[:-1]
    try:
        value = float(s) * scale
    except ValueError:
        raise ValueError(f"{text!r} is not an amount: give a number, optionally with k or M (15k, 1M)") from None
    if value <= 0:
        raise ValueError(f"{text!r}: give an amount above zero")
    return value


# --- measured inputs ------------------------------------------------------------------------------------------


def measure_pass_rates(store: Store) -> dict[str, tuple[int, int]]:
    """generated view → (kept, rejected) by the quality gate; empty where the gate has not run."""
    return {v: kr for v, kr in view_pass_rates(store).items() if v in GENERATED}


def measure_requests(store: Store) -> dict[str, tuple[float, float, int]]:
    """view → (mean prompt tokens, mean answer tokens, calls) of the call cache's generated-view calls
    (their prompt_version starts with the view's name, e.g. paraphrase.v1)."""
    out = {}
    for c in expand_reads.call_sizes(store):
        view = c.prompt_version.split(".")[0]
        if view in GENERATED and c.calls:
            out[view] = (c.prompt_tokens, c.completion_tokens, c.calls)
    return out


def view_yields(volumes: dict, store: Store, views: list[str], cap: int = MAX_PER_MODULE) -> list[ViewYield]:
    """Each configured generated view's yield: measured from the store's examples, rejects and calls where it
    has them, assumed otherwise (and flagged)."""
    rates = measure_pass_rates(store)
    sizes = measure_requests(store)
    lines = _lines_per_example(store)
    out = []
    for v in views:
        if v not in GENERATED:
            continue
        per = EXAMPLES_PER_ASK.get(v, 1)
        most = per * MAX_ASKS[v] if v in MAX_ASKS else cap
        y = ViewYield(v, True, 0.0, 0.0, ASSUMED_UNIQUE, cap=min(cap, most), per_request=per)
        b = volumes.get("views", {}).get(v)
        if b and b["examples"]:
            y.pages = b["pages"] / b["examples"]
            y.unique = (b["unique_pages"] or 0) / b["pages"] if b["pages"] else 0.0
            y.lines = lines.get(v, 0.0)
        else:
            y.pages = ASSUMED_OUTPUT_TOKENS * ASSUMED_CHARS_PER_TOKEN / PAGE_CHARS / per
            y.lines = y.pages * ASSUMED_LINES_PER_PAGE
            y.assumed += [f"{y.pages:.2f} pages per example", f"unique share {ASSUMED_UNIQUE:g}"]
        kept, rejected = rates.get(v, (0, 0))
        if kept + rejected:
            y.pass_rate = max(kept, 1) / (kept + rejected)  # never 0: a view the gate refuses whole still plans
        else:
            y.pass_rate = ASSUMED_PASS_RATE
            y.assumed.append(f"pass rate {ASSUMED_PASS_RATE:g} (unmeasured)")
        if v in sizes:
            y.prompt_tokens, y.output_tokens = sizes[v][:2]
        else:
            y.prompt_tokens, y.output_tokens = ASSUMED_PROMPT_TOKENS, ASSUMED_OUTPUT_TOKENS
            y.assumed.append(f"{ASSUMED_PROMPT_TOKENS} prompt + {ASSUMED_OUTPUT_TOKENS} answer tokens per request")
        out.append(y)
    return out


def _lines_per_example(store: Store) -> dict[str, float]:
    acc: dict[str, list[int]] = {}
    for e in expand_reads.example_texts(store.db):
        n = sum(1 for m in orjson.loads(e.messages) for line in m["content"].splitlines() if line.strip())
        a = acc.setdefault(e.view, [0, 0])
        a[0] += n
        a[1] += 1
    return {v: n / k for v, (n, k) in acc.items() if k}


def template_yield(volumes: dict, store: Store, modules: int, unit: str, unique: bool) -> float:
    """What the template views give per module now, in the unit (their shared text counted once)."""
    b = volumes.get("kinds", {}).get("template")
    if not b or not modules:
        return 0.0
    if unit == "pages":
        return ((b["unique_pages"] or 0.0) if unique else b["pages"]) / modules
    lines = _lines_per_example(store)
    raw = sum(lines.get(v, 0.0) * vb["examples"] for v, vb in volumes["views"].items() if v in VIEWS)
    share = (b["unique_pages"] or 0.0) / b["pages"] if unique and b["pages"] else 1.0
    return raw * share / modules


def throughput_from_history(store: Store, backend: str, model: str | None) -> Throughput | None:
    """Answer tokens per second of the latest finished run whose model calls this backend answered: the
    answer tokens the call cache recorded during the run ÷ the run's wall time (so it includes the stage's own
    work, and reads on the slow side)."""
    for run in expand_reads.finished_runs(store, 50):
        t = expand_reads.call_totals(store, backend, model, run.started_at, run.finished_at)
        seconds = (datetime.fromisoformat(run.finished_at) - datetime.fromisoformat(run.started_at)).total_seconds()
        if t.completion_tokens >= MIN_HISTORY_TOKENS and seconds > 0:
            return Throughput(t.completion_tokens / seconds, f"measured from the call cache: run #{run.id} "
                              f"({run.stage}) got {t.completion_tokens:,} answer tokens ({t.prompt_tokens:,} prompt "
                              f"tokens, {t.calls} calls) from {backend}{' ' + model if model else ''} in "
                              f"{seconds:,.0f} s of wall time")
    return None


def calibrate(backend, prompt: str, requests: int, max_tokens: int = 128) -> Throughput:
    """A short calibration: `requests` copies of a representative request at once (enough to fill every
    server's slots), answer tokens ÷ wall time. Prompt reading is inside the figure."""
    from ..backends.base import BackendError, Request

    batch = [Request([{"role": "user", "content": f"{prompt}\n\n(variant {i})"}], max_tokens=max_tokens,
                     temperature=0.7) for i in range(requests)]
    start = time.perf_counter()
    results = backend.complete_many(batch)
    seconds = time.perf_counter() - start
    done = [r for r in results if not isinstance(r, BackendError)]
    if not done:
        raise BackendError(f"calibration failed: {results[0]}", "check the backend, or give --tokens-per-second")
    tokens = sum(r.completion_tokens or 0 for r in done)
    prompt_tokens = sum(r.prompt_tokens or 0 for r in done)
    return Throughput(tokens / seconds, f"calibrated now: {len(done)} requests to {backend.name} {backend.model} "
                      f"at once gave {tokens:,} answer tokens ({prompt_tokens:,} prompt tokens) in {seconds:.1f} s")
