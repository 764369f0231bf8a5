"""Child processes die with their parent: a forked worker must not outlive a killed command.

On Linux the kernel sends the child SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG), however the parent
dies — kill -9 included. The kernel means the parent *thread*, so this is asked for only when the main thread
forked (a worker thread may end while its children still work for the process). Elsewhere, and for children of
other threads, closing the pipe ends a child does not use still makes its next write fail (EPIPE) once the parent
is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1


def forking_from_main() -> bool:
    """Call in the parent, just before forking: the argument for die_with_parent."""
    return threading.current_thread() is threading.main_thread()


def die_with_parent(forked_from_main: bool) -> None:
    """Call first thing in a forked child."""
    if not forked_from_main or not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
