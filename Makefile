# Two commands for a newcomer: `make run` and `make test`. Needs only python3 (3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench venv migrate demo messages clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ledgerdesk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	@touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(BIN)/ledgerdesk migrate

demo: migrate
	$(BIN)/ledgerdesk demo --if-empty

run: demo
	$(BIN)/ledgerdesk serve

# The demo on a local blockchain (needs Node.js for npm): two anvil nodes with real
# transactions, each quoted in a conversation whose chip shows its status (docs/chain.md).
.PHONY: run-chain
run-chain: migrate
	@[ -n "$$LEDGERDESK_ANVIL" ] || command -v anvil >/dev/null || scripts/install-anvil >/dev/null
	$(BIN)/python -m ledgerdesk.demo_data.chain

# Two workers, one test file each at a time: the suite waits on subprocesses, chain
# nodes and browsers as much as it computes, and module fixtures stay per file.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(MAKE) --no-print-directory lint

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/api_bench.py

# Re-extract UI strings after changing templates; then translate the new ones in the .po.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location --sort-output \
		-o src/ledgerdesk/web/locales/messages.pot .
	$(BIN)/pybabel update -i src/ledgerdesk/web/locales/messages.pot -d src/ledgerdesk/web/locales \
		--no-fuzzy-matching

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
