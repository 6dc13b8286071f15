# Every target sets up its own virtualenv: a fresh machine needs nothing but python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MUSIC ?=
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: run test bench lint clean setup lock

LOCK := requirements.lock
PIP_VERSION := 26.3

# Installs exactly what the suite passed with: requirements.lock pins every package with its
# hashes (made by `make lock` from pyproject.toml's ranges). torch is not in the lock (pip-compile
# notes it as "not pinned"): it is pinned to the CPU wheel here and installed first, because an
# unpinned torch pulls gigabytes of CUDA packages.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip==$(PIP_VERSION)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@# a dependency added to pyproject.toml but not to the lock fails here, not in a test
	$(BIN)/python -m pip check
	touch $(STAMP)

# Re-resolve pyproject.toml's ranges to today's releases; run `make test`, commit both if green.
# (Only a virtualenv is needed: the lock is what a changed pyproject.toml is waiting for.)
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q pip==$(PIP_VERSION) pip-tools
	$(BIN)/pip-compile -q --generate-hashes --no-emit-index-url --unsafe-package torch --extra test \
	  --strip-extras --output-file $(LOCK) pyproject.toml

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	(apt-get update -qq && apt-get install -y -qq chromium) || \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq chromium) || \
	  echo "warning: could not install chromium; browser tests will skip" >&2

# The MPD tests drive Debian's mpd (a private instance: own port, socket and music folder, null
# audio output); the system service it comes with is not started here.
MPD := /usr/bin/mpd
$(MPD):
	(apt-get update -qq && apt-get install -y -qq --no-install-recommends mpd) || \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends mpd) || \
	  echo "warning: could not install mpd; the MPD tests will skip" >&2

setup: $(STAMP)

run: $(STAMP)
	@test -n "$(MUSIC)" || (echo "usage: make run MUSIC=<folder>" >&2; exit 1)
	$(BIN)/segue scan "$(MUSIC)"
	$(BIN)/segue status
	$(BIN)/segue serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(CHROMIUM) $(MPD)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/scan_speed.py --runs 3 --scaling 1,2

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
