"""Measure this machine: a short real LoRA run of the demo model (the embedded Gemma 3 270M) through the
trainer, turned into FLOP/s by the same per-token formula the estimate uses, cached in
`<ws>/estimate/calibration.json` with the machine, torch and model it was measured on.

Two runs train on synthetic examples (token throughput does not depend on what the words are) in one new Python
process, as `twinforge train` starts: the first pays the one-time costs, the second gives the training rate (see
`calibrate`). Wall-clock and process CPU time are both recorded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError
from ..store.workspace import ADAPTER_META, Workspace
from .flops import BATCH_ROWS, Throughput, flops_per_token, lora_params
from .measure import TokenCount, measure_dataset
from .shapes import NAMED

VERSION = 3
DEMO = NAMED["gemma3-270m"]
CAL_STEPS = 6
CAL_MAX_LEN = 128
CAL_EXAMPLES = 64


@dataclass
class Calibration:
    version: int
    measured_at: str
    machine: dict  # cpu, cores, memory_bytes, platform, torch, device
    model: dict  # base, name, hash
    run: dict  # the two runs' steps, tokens, seconds, wall/cpu seconds; max_len, batch, rank, load average
    tokens_per_second: float
    context: float  # mean tokens per calibration example (attention context)
    flops_per_token: float
    flops_per_second: float
    startup_seconds: float
    cpu_tokens_per_second: float  # tokens per second of process CPU time (all threads)
    cpu_startup_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def calibration_path(workspace: Path) -> Path:
    return Workspace(Path(workspace)).estimate / "calibration.json"


def machine() -> dict:
    """What a calibration is only valid for."""
    import torch

    from ..models.device import detect

    dev = detect()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if dev.type == "cuda":
        mem = torch.cuda.get_device_properties(0).total_memory
    else:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "memory_bytes": mem, "platform": platform.platform(), "torch": torch.__version__, "device": dev.name}


def _synthetic_examples(n: int, seed: int = 0) -> list[dict]:
    """Chat examples of varied length from a fixed vocabulary: only their token counts matter here."""
    rng = random.Random(seed)
    words = ("мысль концепт ось инверсия гипотеза правило переход сцена модуль фраза смысл память двойник "
             "idea concept axis inversion hypothesis rule transition scene module phrase meaning memory twin "
             "thinking question answer because therefore however structure pattern level").split()

    def text(k: int) -> str:
        return " ".join(rng.choice(words) for _ in range(k)).capitalize() + "."

    return [{"messages": [{"role": "user", "content": text(rng.randint(8, 30))},
                          {"role": "assistant", "content": text(rng.randint(30, 110))}]} for _ in range(n)]


def write_examples(path: Path, n: int, seed: int = 0) -> Path:
    """`n` synthetic chat examples as a dataset JSONL (what calibration trains on)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for ex in _synthetic_examples(n, seed):
            f.write(json.dumps(ex, ensure_ascii=False) + "\n")
    return path


def measured_tokens(train_file: Path) -> TokenCount:
    return measure_dataset(train_file, DEMO, sample=10_000)


@dataclass
class Measured:
    """One timed run of the trainer: its result, wall-clock and process CPU seconds (all threads) from call to
    return, and whether it used gradient checkpointing."""

    tokens: int
    steps: int
    loop_seconds: float  # the trainer's own step time
    wall_seconds: float
    cpu_seconds: float
    grad_checkpointing: bool
    peak_memory_bytes: int


def run_demo(train_file: Path, out_dir: Path, *, steps: int | None, max_len: int, batch_size: int = BATCH_ROWS,
             progress: bool = False) -> Measured:
    """Train the demo model for `steps` steps (None: one epoch) through the real trainer, timed from outside."""
    from ..train.sft import TrainArgs, train_adapter

    args = TrainArgs(base=None, train_file=Path(train_file), val_file=None, out_dir=Path(out_dir), max_steps=steps,
                     max_len=max_len, batch_size=batch_size, name="calibration", save_steps=10**9)
    t0, c0 = time.perf_counter(), time.process_time()
    result = train_adapter(args, progress=progress)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    meta = json.loads((Path(out_dir) / ADAPTER_META).read_text(encoding="utf-8"))
    return Measured(result.tokens, result.steps, result.seconds, wall, cpu,
                    bool(meta["hyperparameters"]["grad_checkpointing"]), result.peak_memory_bytes)


_CHILD = ("import json, sys; from dataclasses import asdict; from pathlib import Path; "
          "from twinforge.estimate.calibrate import run_demo; a = json.loads(sys.argv[1]); "
          "print(json.dumps([asdict(run_demo(Path(a['data']), Path(a['tmp']) / name, steps=steps, "
          "max_len=a['max_len'], batch_size=a['batch'], progress=a['progress'])) for name, steps in a['runs']]))")


def run_fresh(train_file: Path, tmp: Path, runs: list[tuple[str, int | None]], *, max_len: int,
              batch_size: int = BATCH_ROWS, progress: bool = False) -> tuple[list[Measured], float, float]:
    """Runs of the demo model one after another in a new Python process, as `twinforge train` starts: the
    measurements of each run, and the whole process's wall-clock and CPU seconds (interpreter start and imports
    included)."""
    import resource
    import subprocess
    import sys

    args = {"data": str(train_file), "tmp": str(tmp), "runs": runs, "max_len": max_len, "batch": batch_size,
            "progress": progress}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # with progress the child's bars (and any error) go straight to our stderr
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)], stdout=subprocess.PIPE,
                          stderr=None if progress else subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        why = ((proc.stderr or "").strip().splitlines() or ["see the messages above"])[-1]
        raise ConfigError(f"the calibration run failed: {why}", "check that `twinforge train` works on this machine")
    return [Measured(**m) for m in json.loads(lines[-1])], wall, cpu


def calibrate(workspace: Path, *, steps: int = CAL_STEPS, max_len: int = CAL_MAX_LEN,
              batch_size: int = BATCH_ROWS, examples: int = CAL_EXAMPLES, progress: bool = False) -> Calibration:
    """Two runs of the demo model (steps//3, then steps steps) in one new process; writes
    `<ws>/estimate/calibration.json`.

    The first run pays what a new `twinforge train` process pays once (imports, the first step's one-time costs,
    loading the model, saving); the second, in the warmed process, gives the training rate: its tokens ÷ its step
    time. Start-up is the whole process's time less the second run and less the first run's tokens at that rate.
    Wall-clock time is what a user waits; process CPU time (all threads; the second run's split between steps and
    the rest taken in proportion to wall time) stays true when other programs share the cores."""
    from ..models.base import base_hash, resolve_base

    if steps < 2:
        raise ConfigError(f"calibration needs at least 2 steps, got {steps}")
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="twinforge-cal-") as tmp:
        data = write_examples(Path(tmp) / "train.jsonl", examples)
        (short, long), wall, cpu = run_fresh(data, Path(tmp), [("a", max(1, steps // 3)), ("b", steps)],
                                             max_len=max_len, batch_size=batch_size, progress=progress)
        tokens = measured_tokens(data)
    load = max(load0, os.getloadavg()[0])
    if long.loop_seconds <= 0 or long.wall_seconds <= 0:
        raise ConfigError("the calibration run took no measurable time", "run --calibrate again")
    tps = long.tokens / long.loop_seconds
    cpu_tps = long.tokens / (long.cpu_seconds * long.loop_seconds / long.wall_seconds)
    context = tokens.per_line(max_len)
    fpt, _ = flops_per_token(DEMO, context=context, checkpointing=long.grad_checkpointing,
                             n_lora=lora_params(DEMO, 8, "attn"), labelled=tokens.labelled_share(max_len))
    cal = Calibration(
        version=VERSION, measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), machine=machine(),
        model={"base": "embedded", "name": DEMO.name, "hash": base_hash(resolve_base(None))},
        run={"steps": [short.steps, long.steps], "tokens": [short.tokens, long.tokens],
             "seconds": [short.loop_seconds, long.loop_seconds],
             "wall_seconds": [short.wall_seconds, long.wall_seconds],
             "cpu_seconds": [short.cpu_seconds, long.cpu_seconds], "process_wall_seconds": wall,
             "process_cpu_seconds": cpu, "max_len": max_len, "batch_size": batch_size, "rank": 8,
             "grad_checkpointing": long.grad_checkpointing, "peak_memory_bytes": long.peak_memory_bytes,
             "load_average": load},
        tokens_per_second=tps, context=context, flops_per_token=fpt, flops_per_second=tps * fpt,
        startup_seconds=max(0.0, wall - long.wall_seconds - short.tokens / tps),
        cpu_tokens_per_second=cpu_tps,
        cpu_startup_seconds=max(0.0, cpu - long.cpu_seconds - short.tokens / cpu_tps))
    save(workspace, cal)
    return cal


def save(workspace: Path, cal: Calibration) -> Path:
    path = calibration_path(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cal.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load(workspace: Path | None) -> Calibration | None:
    """The cached calibration when it was measured here (same CPU/GPU, core count and torch); None otherwise."""
    if workspace is None:
        return None
    path = calibration_path(workspace)
    if not path.is_file():
        return None
    try:
        cal = Calibration(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        return None
    if cal.version != VERSION:
        return None
    here = machine()
    if any(cal.machine.get(k) != here[k] for k in ("cpu", "cores", "torch", "device")):
        return None
    from ..models.base import base_hash
    from ..models.embedded import TRAINABLE_FOLDER, cache_dir

    folder = cache_dir() / TRAINABLE_FOLDER
    if (folder / "config.json").is_file() and base_hash(folder) != cal.model.get("hash"):
        return None  # another demo model than the one measured
    return cal


def calibrated_throughput(workspace: Path | None) -> Throughput:
    cal = load(workspace)
    if cal is None:
        where = calibration_path(workspace) if workspace else "the workspace"
        raise ConfigError(f"this machine is not calibrated (no valid {where})",
                          "run `twinforge estimate --calibrate` once (about a minute), or pick a --gpu profile")
    m = cal.machine
    cpu = m["device"] == "cpu"
    busy = cal.run["load_average"] > m["cores"]
    basis = (f"calibrated {cal.measured_at}: {cal.tokens_per_second:.1f} tokens/s measured training "
             f"{cal.model['name']} (LoRA r={cal.run['rank']}, runs of {cal.run['steps'][0]} and {cal.run['steps'][1]} "
             f"steps of {cal.run['batch_size']}×{cal.run['max_len']} tokens) on {m['device']} ({m['cpu']}, "
             f"{m['cores']} cores, torch {m['torch']}) × {cal.flops_per_token:.3g} FLOPs/token = "
             f"{cal.flops_per_second / 1e9:.3g} GFLOP/s; other models and lengths scaled by their FLOPs per token"
             + (f"; the machine was busy (load {cal.run['load_average']:.1f} on {m['cores']} cores), so wall-clock "
                "times are those of a shared machine: calibrate again when it is idle" if busy else ""))
    has_bnb = importlib.util.find_spec("bitsandbytes") is not None
    return Throughput(cal.flops_per_second, basis, m["memory_bytes"], 0.85 if cpu else 0.92,
                      "fp32" if cpu else "bf16", 1, cal.startup_seconds, has_bnb,
                      f"this machine ({m['device']})", "this",
                      cpu_flops_per_second=cal.cpu_tokens_per_second * cal.flops_per_token,
                      cpu_overhead_seconds=cal.cpu_startup_seconds)
