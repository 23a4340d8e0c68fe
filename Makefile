# Everyday commands. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000

export OPPORTUNE_DEV ?= 1

.PHONY: help install install-dev assets migrate seed run test lint format check worker beat smoke laptop-check compose-check security backup restore bench clean

help:
	@echo "make run     install, migrate, load demo data, serve http://$(HOST):$(PORT)"
	@echo "make test    install dev dependencies and run the whole test suite"
	@echo "make lint    ruff check + format check, Django checks, migrations check"
	@echo "make worker  Celery worker (needs REDIS_URL);  make beat  Celery beat"
	@echo "make smoke   production smoke test: gunicorn, worker and beat with DEBUG off"
	@echo "make laptop-check  make run's SQLite setup: seed the demo, open every page"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The project ships no importable package (it runs from this folder), so a plain install of
# its dependencies is enough; an editable one would only add setuptools' warning.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(BIN)/pip install --quiet .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet ".[dev]"
	@touch $@

install: $(VENV)/.installed assets
install-dev: $(VENV)/.installed-dev assets

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

static/vendor/.built: node_modules/.package-lock.json scripts/copy-vendor.mjs
	npm run --silent build
	@touch $@

assets: static/vendor/.built

migrate: install
	$(PY) manage.py migrate --no-input

seed: migrate
	$(PY) manage.py seed_demo --if-empty

run: seed
	@$(PY) manage.py demo_logins --url http://$(HOST):$(PORT)
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

# The suite runs in parallel, one worker per core (pytest-xdist): each worker has its own
# test database and Redis database (conftest.py). PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
test: install-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist load $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: install
	$(BIN)/celery -A config worker --loglevel=info

beat: install
	$(BIN)/celery -A config beat --loglevel=info

# Production mode as the Docker image runs it (scripts/entrypoint.sh), checked over HTTP; needs
# PostgreSQL and Redis (SMOKE_DATABASE_URL, SMOKE_REDIS_URL). Not under OPPORTUNE_DEV.
# The laptop setup (make run's SQLite database, no Redis): migrate, seed the demo, open every
# page as each role. The suite runs on PostgreSQL; this proves the SQLite path.
laptop-check: install-dev
	env -u DATABASE_URL -u REDIS_URL $(PY) scripts/laptop_check.py

smoke: install assets
	env -u OPPORTUNE_DEV $(PY) scripts/smoke.py

# Security gates: bandit (no medium or high finding without a reasoned `# nosec` on its line),
# the dependency audit (fails on a known vulnerability; says so when it cannot look) and
# Django's deployment checks with production settings (no warning allowed).
security: install-dev
	$(BIN)/bandit -q -c pyproject.toml -r accounts pipeline forecasting notifications imports api workspace config scripts bench --severity-level medium
	$(PY) scripts/audit_dependencies.py
	env -u OPPORTUNE_DEV -u DEBUG ALLOWED_HOSTS=crm.example.com \
	  SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	  $(PY) manage.py check --deploy --fail-level WARNING

# Backup and restore of DATABASE_URL with pg_dump / pg_restore (see README).
backup:
	scripts/backup.sh $(FILE)

restore:
	@test -n "$(FILE)" && test -n "$(TARGET)" || { echo "usage: make restore FILE=backups/x.dump TARGET=postgres://user@host:5432/new_db" >&2; exit 2; }
	scripts/restore.sh "$(FILE)" "$(TARGET)"

compose-check:
	SECRET_KEY=compose-check docker-compose config --quiet

clean:
	rm -rf $(VENV) node_modules static/vendor staticfiles db.sqlite3
