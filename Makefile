# One entry point for every task. Each target creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TZ := UTC
# jsii (aws-cdk-lib) prints an end-of-life banner on every run on Node 20; synth works the same.
# Upgrade Node to 22+ when your machine allows and this line can go.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install demo test test-runtime synth deploy bench bench-scale mutation lint clean browser aws-calls

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

# Two workers: the machines this runs on (CI included) have two cores. Each line of dots ends
# with how many tests have run of how many ("[ 480/2210]").
test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -o console_output_style=count

# Regenerates docs/aws-calls.md from a recorded local-world run (review the difference).
aws-calls: $(STAMP)
	RUNG_WRITE_AWS_CALLS=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/integration/test_access_in_local_world.py -k docs_list

# The suite again on the Lambda runtime's Python (the stack deploys python3.13), in its own
# virtualenv. python3.13 is taken from PATH, else from pyenv (infra/runtime_python.py, the same
# lookup that precompiles the Lambda asset's bytecode).
RUNTIME_PYTHON_VERSION := 3.13
RUNTIME_VENV := .venv-$(RUNTIME_PYTHON_VERSION)
RUNTIME_STAMP := $(RUNTIME_VENV)/.installed

$(RUNTIME_STAMP): pyproject.toml
	@py=$$($(PYTHON) -m infra.runtime_python $(RUNTIME_PYTHON_VERSION)) || exit 1; \
	test -x $(RUNTIME_VENV)/bin/python || "$$py" -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RUNTIME_VENV)/bin/python -m pip install --quiet -e ".[dev]"
	touch $(RUNTIME_STAMP)

# What ships to Lambda is tested again there. Run once, by `make test`: the stack's synthesis
# (tests/infra, the deployer's Python), what runs only on the operator's machine (operator_only)
# and the long whole-ladder simulations (slow), whose handler paths the other tests cover.
test-runtime: $(RUNTIME_STAMP)
	$(RUNTIME_VENV)/bin/python -m pytest -n 2 -p no:cacheprovider --ignore=tests/infra \
		-m "not operator_only and not slow"

synth: $(STAMP)
	$(BIN)/python -m infra.app

deploy: $(STAMP)
	npx --yes aws-cdk@2 deploy --require-approval broadening

# Every benchmark but the long ones, under ten minutes on two cores (bench/run.py).
bench: $(STAMP)
	$(BIN)/python -m bench.run

# The 100,000-account, 30-day simulation alone (about ten minutes): its section only.
bench-scale: $(STAMP)
	$(BIN)/python -m bench.run --only bench.scale

# Mutation testing of the compliance core, one module at a time (not part of `make test`).
mutation: $(STAMP)
	$(BIN)/python -m mutation.run

# ruff on every Python directory; mypy --strict (pydantic plugin) on functions, rung and infra,
# as pyproject.toml [tool.mypy] configures it.
lint: $(STAMP)
	$(BIN)/ruff check functions rung infra tests bench mutation
	$(BIN)/ruff format --check functions rung infra tests bench mutation
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(RUNTIME_VENV) cdk.out out build .pytest_cache .hypothesis .cache
