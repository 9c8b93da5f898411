# alkld — two entry points: `make run` (build the release, then serve it) and `make test`.
# A fresh machine needs only Python 3.11, Java (HermiT) and make; everything else is
# installed here, into .venv (and web/node_modules for the query page's assets).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The kgx library lives in its own venv: its pins conflict with .venv's (docs/interop.md).
KGX_STAMP := .venv-kgx/.installed-stamp
# Reproducible builds: the release date in void.ttl is the last commit's date.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: run build serve test install kgx-venv clean

run: build serve

build: $(STAMP)
	$(BIN)/alkld build

serve: $(STAMP)
	$(BIN)/alkld serve

test: $(STAMP) $(KGX_STAMP)
	$(BIN)/pytest

install: $(STAMP)

kgx-venv: $(KGX_STAMP)

$(STAMP): pyproject.toml web/assets.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python scripts/fetch_web_assets.py
	touch $@

$(KGX_STAMP): tests/kgx-requirements.txt
	$(PYTHON) -m venv .venv-kgx
	.venv-kgx/bin/pip install --quiet -r tests/kgx-requirements.txt
	touch $@

clean:
	rm -rf output .pytest_cache
