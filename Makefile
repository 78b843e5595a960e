# One entry point for every task. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TZ := UTC
# jsii (aws-cdk-lib) prints an end-of-life banner on every run on Node 20; synth works the same.
# Upgrade Node to 22+ when your machine allows and this line can go.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install demo test synth deploy bench mutation lint clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rung simulate samples/accounts.csv --replies samples/replies.csv \
		--payments samples/payments.csv --start 2026-12-01T00:00:00Z --days 35 --out out/demo

# The report test renders report.html in Debian's headless Chromium.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install chromium (or RUNG_SKIP_BROWSER=1)"; exit 1; fi; }

test: $(STAMP) browser
	$(BIN)/python -m pytest

synth: $(STAMP)
	$(BIN)/python -m infra.app

deploy: $(STAMP)
	npx --yes aws-cdk@2 deploy --require-approval broadening

bench: $(STAMP)
	$(BIN)/python -m bench.run

# Mutation testing of the compliance core, one module at a time (not part of `make test`).
mutation: $(STAMP)
	$(BIN)/python -m mutation.run

lint: $(STAMP)
	$(BIN)/ruff check functions rung infra tests bench mutation
	$(BIN)/ruff format --check functions rung infra tests bench mutation
	$(BIN)/mypy functions rung

clean:
	rm -rf $(VENV) cdk.out out build .pytest_cache .hypothesis
