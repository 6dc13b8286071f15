# Every target sets up its own virtualenv: a fresh machine needs nothing but python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MUSIC ?=
HOST ?= 127.0.0.1
PORT ?= 8050

.PHONY: run test bench lint clean setup

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch is pinned to the CPU wheel; an unpinned torch pulls gigabytes of CUDA packages.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

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
	$(BIN)/python bench/scan.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
