# Two entry points: `make run` (the main job) and `make test` (the whole suite).
# Both start with `make setup`, which is idempotent.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A GPU machine can pick its own build, e.g. `make setup TORCH_SPEC="torch>=2.4"`.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.setup-done
MODELS ?= models
DATA ?= data

.PHONY: setup run test test-fast bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

PORT ?= 8188

# The web page's build and tests (npm, Chromium) live in their own file.
-include frontend.mk

# The demo video first (prints where the MP4 is), then the ComfyUI-compatible server
# on 127.0.0.1:$(PORT) serving the demo model until Ctrl-C.
run: setup
	$(BIN)/wan-i2v demo --models $(MODELS) --data $(DATA)
	$(BIN)/wan-i2v comfy serve --host 127.0.0.1 --port $(PORT) --models $(MODELS) --data $(DATA)/comfy

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not e2e"

bench: setup
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_video_encode.py

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache
