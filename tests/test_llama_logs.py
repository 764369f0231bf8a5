"""llama.cpp's load-time notes stay off stderr; its errors do not (backends/llama_logs.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from twinforge.backends import llama_logs


def test_only_errors_and_their_continuations_are_shown():
    warn, error, cont, info = 3, 4, 5, 2
    assert not llama_logs._show(warn) and not llama_logs._show(cont)  # a WARN and the rest of its line
    assert llama_logs._show(error) and llama_logs._show(cont)  # an ERROR and the rest of its line
    assert not llama_logs._show(info) and not llama_logs._show(cont)


LOAD = """
from llama_cpp import Llama
from twinforge.backends import llama_logs
from twinforge.adapters.gguf_lora import base_gguf
{quiet}
llm = Llama(model_path=str(base_gguf(None)), n_ctx=256, verbose=False)
llm.create_completion("Hi", max_tokens=1)
"""


def test_loading_the_embedded_gguf_prints_no_notes():
    pytest.importorskip("llama_cpp")
    try:
        from twinforge.adapters.gguf_lora import base_gguf

        base_gguf(None)
    except Exception as e:  # noqa: BLE001 — the embedded GGUF package is part of the install; say why we skip
        pytest.skip(f"embedded Gemma GGUF not available: {e}")

    def stderr(quiet: str) -> str:
        r = subprocess.run([sys.executable, "-c", LOAD.format(quiet=quiet)], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stderr

    assert "SWA cache" in stderr("")  # llama-cpp-python alone prints the note: the check can fail
    assert stderr("llama_logs.quiet()").strip() == ""
