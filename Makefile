# Two commands for a fresh machine: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint services bench clean

$(BIN)/pos-adapter: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/pos-adapter services
	$(BIN)/pos-adapter demo

test: $(BIN)/pos-adapter services lint
	$(BIN)/pytest -q

lint: $(BIN)/pos-adapter
	$(BIN)/ruff check .
	$(BIN)/mypy

# Start RabbitMQ and PostgreSQL when they are installed here but not running.
services:
	@./scripts/ensure-services

bench: $(BIN)/pos-adapter services
	$(BIN)/python -m bench.commands
	$(BIN)/python -m bench.changes

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
