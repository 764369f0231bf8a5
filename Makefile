# Two commands do everything: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
DEMO_WS ?= twin-demo
# llama-cpp-python compiles on install, for this machine's CPU (-march=native) with ggml's AMX kernels switched off:
# on Sapphire-Rapids-class CPUs they segfault on the first decode (ggml-org/llama.cpp#20824). Measured on the 2-core
# VM: 1.45x the portable AVX2 build's speed on a 1.7k-token prompt, +6% decoding. A compiler that does not know the
# AMX flags (GCC < 11, or not x86) emits no AMX code anyway. For a GPU build set e.g. CMAKE_ARGS="-DGGML_CUDA=on"
# (CUDA) or "-DGGML_HIP=on" (ROCm) when running make.
NO_AMX := $(shell echo | cc -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -x c -E - >/dev/null 2>&1 && echo '-mno-amx-tile -mno-amx-int8 -mno-amx-bf16')
# -DLLAVA_BUILD=OFF: twinforge reads text only, and the multimodal library is a large part of the compile.
ifneq ($(NO_AMX),)
CMAKE_ARGS ?= -DGGML_NATIVE=ON -DLLAVA_BUILD=OFF -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
else
CMAKE_ARGS ?= -DGGML_NATIVE=ON -DLLAVA_BUILD=OFF
endif
LLAMA_REQ = $(shell grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml)
# The compiled wheel is kept per version and build flags (pip's own cache would hand back a wheel built with other
# CMAKE_ARGS), so another clone on this machine installs it in seconds instead of compiling for ~10 CPU-minutes.
# Where the home folder cannot be written, the wheel goes to build/wheels.
LLAMA_WHEELS ?= $(HOME)/.cache/twinforge/wheels/$(shell printf '%s %s' "$(LLAMA_REQ)" "$(CMAKE_ARGS)" | sha1sum | cut -c1-12)
export CMAKE_ARGS

.PHONY: venv demo test docs bench gpu-check clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	W='$(LLAMA_WHEELS)'; { mkdir -p "$$W" 2>/dev/null && [ -w "$$W" ]; } || W=build/wheels; \
	{ ls "$$W"/llama_cpp_python-*.whl >/dev/null 2>&1 || CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	  $(BIN)/pip wheel -q --no-cache-dir --no-deps -w "$$W" '$(LLAMA_REQ)'; } && \
	$(BIN)/pip install -q --no-cache-dir --find-links "$$W" '$(LLAMA_REQ)'
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

venv: $(STAMP)

# Runs the whole pipeline on the bundled sample archive, offline, on CPU.
demo: $(STAMP)
	$(BIN)/twinforge -w $(DEMO_WS) demo --input examples/sample-archive

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Regenerates docs/cli.md from --help (a test checks it is current).
docs: $(STAMP)
	$(BIN)/python -m twinforge.cli.docs > docs/cli.md

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

# Real LoRA/QLoRA steps on one CUDA or ROCm GPU against `twinforge estimate`, one table (< 8 min; CPU parts only
# on a machine without a GPU). Send back the table and bench/out/gpu-check.json.
gpu-check: $(STAMP)
	$(BIN)/python bench/gpu_check.py

clean:
	rm -rf $(DEMO_WS) build dist src/*.egg-info
