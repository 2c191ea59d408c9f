# Two commands matter: `make run` (the demo on the bundled sample) and `make test`.
# Both create .venv and install what they need on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The BigQuery emulator the tests start lives in its own environment (tests/bigquery_emulator.py).
BQ_VENV := .venv-bqemulator
BQ_STAMP := $(BQ_VENV)/.installed

.PHONY: install install-bqemulator run test lint bench bench-quick bench-large clean eval-dedup eval-stories report-screenshot

$(STAMP): requirements.txt requirements-dev.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

install: $(STAMP)

$(BQ_STAMP): requirements-bqemulator.txt
	$(PYTHON) -m venv $(BQ_VENV)
	$(BQ_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BQ_VENV)/bin/python -m pip install --quiet -r requirements-bqemulator.txt
	touch $(BQ_STAMP)

install-bqemulator: $(BQ_STAMP)

run: $(STAMP)
	$(VENV)/bin/newsbeam demo --output out $(ARGS)

test: $(STAMP) $(BQ_STAMP)
	$(PY) -m ruff check .
	NEWSBEAM_REQUIRE_BIGQUERY_EMULATOR=1 $(PY) -m pytest

# A PNG of the newest run's report.html, as headless Chromium shows it (Debian: apt-get install chromium).
report-screenshot: $(STAMP)
	test -f out/latest || $(MAKE) run
	$(PY) -m tests.browser out/$$(cat out/latest)/report.html out/report.png

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf out build dist *.egg-info .pytest_cache .ruff_cache

eval-dedup: $(STAMP)
	$(PY) -m bench.eval_dedup

# Stories on ../shared/corpora/reprints-dev (event folds) and on the sample; --via-cli also checks `newsbeam stories`.
eval-stories: $(STAMP)
	$(PY) -m bench.eval_stories --via-cli

# Everything side by side, with the 10,000-article fetch-and-extract run (about 35 minutes on 2 cores).
bench: $(STAMP)
	$(PY) -m bench.run

# The same without the 10,000-article run (about 23 minutes).
bench-quick: $(STAMP)
	$(PY) -m bench.run --day-articles 0

bench-large: $(STAMP)
	$(PY) -m bench.run --large
