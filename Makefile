# Two commands do everything: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
DEMO_WS ?= twin-demo
# llama-cpp-python compiles on install. A portable AVX2 build: a -march=native build turns on ggml's AMX kernels on
# Sapphire-Rapids-class CPUs, which segfault on the first decode (ggml-org/llama.cpp#20824). For a GPU build set
# e.g. CMAKE_ARGS="-DGGML_CUDA=on" (CUDA) or "-DGGML_HIP=on" (ROCm) when running make.
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
export CMAKE_ARGS

.PHONY: venv demo test docs bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install -q -e '.[test,bench]'
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

clean:
	rm -rf $(DEMO_WS) build dist src/*.egg-info
