# alkld — two entry points: `make run` (build the release, then serve it) and `make test`.
# A fresh machine needs only Python 3.11, Java (HermiT) and make; everything else is
# installed here, into .venv (and web/node_modules for the query page's assets).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Reproducible builds: the release date in void.ttl is the last commit's date.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: run build serve test install clean

run: build serve

build: $(STAMP)
	$(BIN)/alkld build

serve: $(STAMP)
	$(BIN)/alkld serve

test: $(STAMP)
	$(BIN)/pytest

install: $(STAMP)

$(STAMP): pyproject.toml web/assets.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python scripts/fetch_web_assets.py
	touch $@

clean:
	rm -rf output .pytest_cache
