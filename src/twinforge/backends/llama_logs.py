"""Keep llama.cpp's load-time notes off stderr, and its real errors on it.

llama-cpp-python (0.3.x) maps ggml's log levels from an older enum: with `verbose=False` it prints ggml's WARN lines
(level 3, which it takes for ERROR) and hides its ERROR lines (level 4, taken for DEBUG). So every model load
spilled harmless notes — tensors that "cannot be used with preferred buffer type CPU_REPACK", "using full-size
SWA cache", a control-looking token — that read like failures, while "failed to load model" stayed silent. This
callback prints ggml's errors (and their continuation lines) only.
"""

from __future__ import annotations

import ctypes
import sys

# ggml.h: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (the rest of the previous message)
_ERROR, _CONT = 4, 5
_installed = None  # the ctypes callback must outlive the call, or llama.cpp would call freed memory
_last_shown = False


def _show(level: int) -> bool:
    global _last_shown
    if level != _CONT:
        _last_shown = level == _ERROR
    return _last_shown


def quiet() -> None:
    """Install the callback (once per process). Call after importing llama_cpp, which installs its own."""
    global _installed
    if _installed is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if _show(level):
            print(text.decode("utf-8", errors="replace"), end="", flush=True, file=sys.stderr)

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    _installed = callback
