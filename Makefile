# Clinicdesk — the two commands: `make demo` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint pytest soak system-deps screenshots bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: seed the demo clinic, serve it on embedded SQLite under var/, open the desktop
demo: $(STAMP) system-deps
	sh packaging/demo.sh

## test: lint, types, layering and every test; non-zero on any failure
test: $(STAMP) system-deps lint pytest

system-deps:
	sh packaging/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## pytest: every test, in PYTEST_WORKERS pytest-xdist worker processes (the suite mostly
## waits on sockets, subprocesses and timers, so more workers than cores pay);
## PYTEST_WORKERS=0 runs it in one process; the 25 slowest tests are listed at the end,
## to see where the time goes
PYTEST_WORKERS ?= 4
pytest: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -n $(PYTEST_WORKERS) --durations=25

## soak: the long runs of the soak tests, on SQLite (and PostgreSQL when
## CLINICDESK_TEST_DATABASE_URL is set): 100 booking race rounds, 400 crash trials,
## 40 simulation seeds of 400 steps. Each count can be overridden from the environment.
soak: $(STAMP)
	CLINICDESK_RACE_ROUNDS=$${CLINICDESK_RACE_ROUNDS:-100} \
	CLINICDESK_CRASH_TRIALS=$${CLINICDESK_CRASH_TRIALS:-400} \
	CLINICDESK_SIM_SEEDS=$${CLINICDESK_SIM_SEEDS:-40} \
	CLINICDESK_SIM_STEPS=$${CLINICDESK_SIM_STEPS:-400} \
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m soak -s

## screenshots: the README's pictures, taken from the real desktop under Xvfb
screenshots: $(STAMP) system-deps
	PYTHONPATH=. xvfb-run -a -s "-screen 0 1440x900x24" $(BIN)/python packaging/screenshots.py resources/screenshots
	PYTHONPATH=. $(BIN)/python packaging/web_screenshots.py resources/screenshots

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

## bench: sync, store, availability and diary figures (a table, not a test)
bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m tests.bench
