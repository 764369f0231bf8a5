"""Run one measured reader as a fresh child process: wall time and its own peak RSS (shared by the benches)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time


def run_child(name: str, cmd: list[str]) -> dict:
    """cmd as a child; wall time, CPU times and the child's own peak RSS (wait4 gives per-child rusage)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # read the pipes on threads so a chatty child cannot block; then reap it with wait4 for its rusage
    bufs = {"out": b"", "err": b""}

    def pump(stream, key):
        bufs[key] = stream.read()

    threads = [threading.Thread(target=pump, args=(p.stdout, "out")),
               threading.Thread(target=pump, args=(p.stderr, "err"))]
    for th in threads:
        th.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    for th in threads:
        th.join()
    p.returncode = rc = os.waitstatus_to_exitcode(status)
    rss_mb = ru.ru_maxrss / 1024 if sys.platform != "darwin" else ru.ru_maxrss / 1024 / 1024
    res = {"name": name, "cmd": cmd, "rc": rc, "wall_s": round(wall, 2), "user_s": round(ru.ru_utime, 2),
           "sys_s": round(ru.ru_stime, 2), "peak_rss_mb": round(rss_mb, 1),
           "stdout_tail": bufs["out"].decode("utf-8", "replace")[-2000:],
           "stderr_tail": bufs["err"].decode("utf-8", "replace")[-2000:]}
    if rc != 0:
        print(f"    FAILED rc={rc}: {res['stderr_tail'].strip()[-600:]}")
    return res
