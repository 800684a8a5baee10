# The README's two commands: `make run` serves Shipcall, `make test` proves it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHIPCALL_PORT ?= 5000
export SHIPCALL_PORT

.PHONY: run test lint

# Reinstall only when the dependencies change; the stamp records the last install.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi users setup-link
	@# The worker (spreadsheet sync, deadline reminders) runs beside gunicorn and stops with it.
	$(BIN)/flask --app wsgi worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

test: $(VENV)/.installed
	$(BIN)/python -m pytest
	if [ -n "$$SHIPCALL_TEST_POSTGRES_URL" ]; then \
		$(BIN)/python -m pytest --database-url "$$SHIPCALL_TEST_POSTGRES_URL"; \
	fi

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports
