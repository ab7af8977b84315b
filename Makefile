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

PORT ?= 8000
COMFY_PORT ?= 8188

# The web page's build and tests (npm, Chromium) live in their own file.
-include frontend.mk

# The orchestrator on http://127.0.0.1:$(PORT)/ (API under /api, the web page at /) in dev mode,
# with one embedded ComfyUI-compatible instance on $(COMFY_PORT) serving the demo model (its videos
# are noise). It prints the dev admin's password. Ctrl-C stops everything.
run: setup frontend
	$(BIN)/wan-i2v models make-demo $(MODELS)
	WAN_MODELS_DIR=$(MODELS) DATA_DIR=$(DATA) DATABASE_URL=sqlite:///$(DATA)/orchestrator.db \
	VIDEOS_DIR=$(DATA)/videos UPLOADS_DIR=$(DATA)/uploads EMBEDDED_COMFY_PORT=$(COMFY_PORT) \
	$(BIN)/wan-i2v serve --dev --host 127.0.0.1 --port $(PORT) --embedded 1

# Python tests (unit and end-to-end, the page in Chromium included), then the page's own tests.
test: setup frontend browser-setup
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory frontend-test

test-fast: setup
	$(BIN)/python -m pytest -q -m "not e2e"

bench: setup
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_video_encode.py

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache
