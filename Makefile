# sauti: `make demo` (set up + run the default experiment), `make test` (set up + all tests).
# Works on a fresh Debian/Ubuntu machine: Debian packages are installed when run as root,
# otherwise the exact apt-get command is printed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= data/demo
JOBS ?= 2
APT_PACKAGES := sox libsox-fmt-all espeak-ng
# the web-demo test drives a headless Chromium (tests/test_inference.py)
test: APT_PACKAGES += chromium chromium-driver
# the REPORT.latex test compiles a PDF with pdflatex and reads it back with pdftotext
test: APT_PACKAGES += texlive-latex-base poppler-utils
# the separation corpus renders tracker music (resources/demo/build_separation_corpus.sh)
test: APT_PACKAGES += openmpt123

.PHONY: setup system-deps venv deep check-deep lock demo-data demo test lint format benchmark clean benchmark-shards benchmark-dag benchmark-nkululeko benchmark-worker benchmark-deep benchmark-ssl benchmark-separation benchmark-examples

setup: system-deps venv

system-deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "sauti needs Debian packages:$$missing"; \
	    echo "  run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi; \
	if ! apt-cache show asterisk-core-sounds-en-wav >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq; \
	  else echo "the demo corpus downloads Debian packages: run 'sudo apt-get update' once"; exit 1; fi; \
	fi

# Python packages come from the lock files (exact versions + PyPI hashes, `make lock`):
# requirements/main.txt = base + dev, requirements/deep.txt = base + dev + deep. --no-deps: the
# lock is the complete set, so pip installs exactly it and resolves nothing on its own.
PIP_LOCKED := $(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r

venv: $(BIN)/.installed

$(BIN)/.installed: requirements/main.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "sauti's lock files need Python >= 3.11 (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP_LOCKED) requirements/main.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	# byte-compiled once here, as pip does for installed packages (an editable install is not)
	$(BIN)/python -m compileall -q src
	@touch $@

# The neural side (MODEL.type mlp/cnn/finetune, embedding features, SSL, self-training with deep
# models): torch + torchaudio + transformers + speechbrain + resemblyzer.
deep: $(BIN)/.installed-deep

$(BIN)/.installed-deep: $(BIN)/.installed requirements/deep.txt
	$(PIP_LOCKED) requirements/deep.txt
	@touch $@

# One line: torch, torchaudio and speechbrain import (a broken wheel pair stops here, not in pytest).
check-deep: deep
	@$(BIN)/python tools/check_deep_stack.py

# Refresh the lock files and the conda envs after a change of pyproject.toml's dependencies.
# Pins already in the lock are kept unless pyproject.toml excludes them; `make lock
# LOCK_FLAGS=--upgrade` moves everything to the newest allowed release. Resolved for every
# platform (--universal) and Python >= 3.11; tested on Linux x86_64 with Python 3.11. deep.txt is
# resolved first and constrains main.txt, so main.txt is a subset of deep.txt with equal pins.
LOCK := $(BIN)/uv pip compile --no-config --quiet --universal --python-version 3.11 \
  --generate-hashes --override requirements/overrides.txt --custom-compile-command "make lock" \
  $(LOCK_FLAGS) pyproject.toml

lock: | $(BIN)/.installed
	$(LOCK) --extra dev --extra deep -o requirements/deep.txt
	$(LOCK) --extra dev -c requirements/deep.txt -o requirements/main.txt
	$(BIN)/python tools/lock_envs.py

demo-data: system-deps
	bash resources/demo/build_demo_corpus.sh $(DEMO_DIR)

demo: setup demo-data
	$(BIN)/snakemake --configfile config/config.yaml -j$(JOBS)
	@echo; echo "results: results/demo_gender/ (open results/demo_gender/report.html)"
	@$(BIN)/python -c "import json; m = json.load(open('results/demo_gender/metrics.json'))['test']; print(f\"test UAR {m['uar']:.3f}, accuracy {m['accuracy']:.3f} on {m['n']} samples\")"

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	# the layers contract in pyproject.toml: sauti.app > workflow > stages > ml > config > core
	$(BIN)/lint-imports
	$(BIN)/snakemake --lint --configfile config/config.yaml >/dev/null
	$(BIN)/snakefmt --check Snakefile workflow/rules
	# the docs site: --strict fails on a broken link or a missing included file
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

test: setup check-deep demo-data lint
	SAUTI_DEMO_DIR=$(DEMO_DIR) $(BIN)/pytest -q -rs  # -rs: say why a test was skipped (SLURM)

benchmark: setup demo-data
	$(BIN)/python benchmarks/bench_rerun.py

# the demo corpus's documented experiments, first runs (writes benchmarks/results/examples.md;
# the mlp example needs the deep stack)
benchmark-examples: setup deep demo-data
	$(BIN)/python benchmarks/bench_examples.py

# Scale-out benchmarks (not part of `make test`): shard speed-up, DAG size, sauti vs Nkululeko.
benchmark-shards: setup demo-data
	$(BIN)/python benchmarks/bench_shards.py

benchmark-dag: venv
	$(BIN)/python benchmarks/dag_scale.py

# training throughput of the torch models (writes benchmarks/results/deep_train.md)
benchmark-deep: setup deep demo-data
	$(BIN)/python benchmarks/bench_deep_train.py

# SSL speaker embeddings, 5 seeds each: the demo digits and spoken sentences
# (writes benchmarks/results/ssl_speaker.md and ssl_sentences.md)
benchmark-ssl: setup deep demo-data
	bash resources/demo/build_sentence_corpus.sh data/sentences
	$(BIN)/python benchmarks/bench_ssl_speaker.py --seeds 42 43 44 45 46
	$(BIN)/python benchmarks/bench_ssl_speaker.py --config config/examples/ssl_sentences.yaml \
	  --seeds 42 43 44 45 46 --out benchmarks/results/ssl_sentences.md

# voice/background separation, 3 seeds: teacher, students per round, with and without the VAD
# filter (writes benchmarks/results/separation.md; builds data/separation from Debian packages)
benchmark-separation: setup deep demo-data
	bash resources/demo/build_separation_corpus.sh data/separation
	$(BIN)/python benchmarks/bench_separation.py --seeds 1 2 3 --rounds 2 --steps 120

benchmark-nkululeko: setup demo-data
	bash resources/demo/build_large_corpus.sh data/large
	$(BIN)/python benchmarks/bench_nkululeko.py

# `sauti run` with and without the warm worker (writes benchmarks/results/worker.md)
benchmark-worker: setup demo-data
	$(BIN)/python benchmarks/bench_worker.py

format: venv
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/snakefmt Snakefile workflow/rules

clean:
	rm -rf results .snakemake
