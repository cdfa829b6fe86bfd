# The two commands README promises: `make run` (the platform with demo data) and
# `make test` (the whole suite on PostgreSQL and Redis).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/prm
export REDIS_URL_TEST ?= redis://127.0.0.1:6379/0
# Three pytest-xdist workers on the two cores: a third of the time the tests wait on
# PostgreSQL, Redis, Chromium or a subprocess; PYTEST_WORKERS= for one process. Work
# stealing: a worker that runs dry takes tests queued for a busy one (the suite ends
# with a few long browser and fault tests, which otherwise leave workers idle).
PYTEST_WORKERS ?= -n 3 --dist worksteal

.PHONY: run test install lint format messages bench soak clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	bin/run

test: $(STAMP)
	@if command -v node >/dev/null; then node --test tests/snippet/; \
		else echo "node not found: snippet tests skipped"; fi
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)} \
		$(PY) -m pytest $(PYTEST_WORKERS) $(ARGS)

# Click ingestion vs a bare 204 view under gunicorn + wrk; writes BENCHMARKS.md.
# bench/pages.py: console and cabinet pages on a tenant built by prm_bigdata (reused).
# Knobs: BENCH_SECONDS (60), BENCH_WORKERS, BENCH_WORKER_CLASS, ... (bench/clicks.py).
bench: $(STAMP)
	$(PY) bench/clicks.py
	$(PY) bench/rewards.py
	$(PY) bench/statements.py
	$(PY) bench/crm.py
	$(PY) bench/pages.py
	$(PY) bench/antifraud.py

# Ten minutes of clicks, leads and conversions at half the measured maximum, memory
# sampled every 10 s (bench/soak.py; SOAK_SECONDS to change the length).
soak: $(STAMP)
	$(PY) bench/soak.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: $(STAMP)
	$(PY) manage.py makemessages -l ru --no-obsolete --ignore '.venv/*' --ignore 'staticfiles/*' \
		--ignore 'tests/*' --ignore 'bench/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
