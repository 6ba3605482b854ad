# Two commands for a fresh machine: `make demo` and `make test`. Each installs what it needs:
# the demo the package alone, the tests the package with its test tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint services bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps: what each install was for, redone when pyproject.toml changes.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# A developer's setup: the package and its test tools.
$(BIN)/pos-adapter: $(VENV)/.installed-test
	touch $@

demo: $(VENV)/.installed-demo services
	$(BIN)/pos-adapter demo

test: $(VENV)/.installed-test services lint
	$(BIN)/pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

# Start RabbitMQ and PostgreSQL when they are installed here but not running.
services:
	@./scripts/ensure-services

bench: $(VENV)/.installed-test services
	$(BIN)/python -m bench.commands
	$(BIN)/python -m bench.changes
	$(BIN)/python -m bench.startup

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
