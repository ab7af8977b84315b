# The web page (frontend/): npm install from the lock file, the production build into
# frontend/dist (served by the orchestrator at /), its unit tests, and the browser for the
# end-to-end tests. Included by the Makefile; every target is safe to run again.
#
#   make frontend          npm ci (only when the lock file changed) + build (only when sources changed)
#   make frontend-test     Vitest (components, hooks, pages)
#   make browser-setup     Debian's Chromium (apt-get, when missing) + the playwright package in .venv
#   make frontend-e2e      the page in a real browser against a real orchestrator (pytest -m e2e)

FE := frontend
FE_NPM ?= npm
FE_CI_STAMP := $(FE)/node_modules/.ci-stamp
FE_DIST := $(FE)/dist/index.html
FE_SOURCES := $(shell find $(FE)/src $(FE)/public -type f 2>/dev/null) \
	$(FE)/index.html $(FE)/vite.config.ts $(FE)/tsconfig.json $(FE)/openapi.json $(FE)/package.json
FE_PYTHON := $(or $(BIN),.venv/bin)/python
CHROMIUM ?= /usr/bin/chromium

.PHONY: frontend frontend-deps frontend-test frontend-e2e frontend-api browser-setup frontend-clean

frontend: $(FE_DIST)

frontend-deps: $(FE_CI_STAMP)

# npm ci wipes node_modules, so its stamp lives inside: a removed folder means a fresh install.
$(FE_CI_STAMP): $(FE)/package-lock.json $(FE)/package.json
	@command -v $(FE_NPM) >/dev/null || { echo "npm is not installed: install Node.js 20.19+ (it brings npm) to build the web page." >&2; exit 1; }
	cd $(FE) && $(FE_NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

$(FE_DIST): $(FE_CI_STAMP) $(FE_SOURCES)
	cd $(FE) && $(FE_NPM) run build --silent
	touch $@

frontend-test: $(FE_CI_STAMP)
	cd $(FE) && $(FE_NPM) test --silent

# Regenerate frontend/openapi.json from the orchestrator (then the page's types from it).
frontend-api: $(FE_CI_STAMP)
	$(or $(BIN),.venv/bin)/wan-i2v openapi > $(FE)/openapi.json
	cd $(FE) && $(FE_NPM) run gen:api --silent

browser-setup:
	@test -x $(CHROMIUM) || { \
		echo "Installing Debian's Chromium for the browser tests (apt-get) ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@$(FE_PYTHON) -c "import playwright" 2>/dev/null || $(FE_PYTHON) -m pip install --quiet playwright

frontend-e2e: frontend browser-setup
	$(FE_PYTHON) -m pytest -q -m e2e tests/frontend

frontend-clean:
	rm -rf $(FE)/dist $(FE)/node_modules $(FE)/src/lib/api/schema.d.ts
