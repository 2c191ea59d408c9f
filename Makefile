# Two commands matter: `make run` (the demo on the bundled sample) and `make test`.
# Both create .venv and install what they need on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench bench-large clean eval-dedup

$(STAMP): requirements.txt requirements-dev.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/newsbeam demo --output out

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf out build dist *.egg-info .pytest_cache .ruff_cache

eval-dedup: $(STAMP)
	$(PY) -m bench.eval_dedup

bench: $(STAMP)
	$(PY) -m bench.run

bench-large: $(STAMP)
	$(PY) -m bench.run --large
