# The two commands the README opens with: `make run` and `make test`.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test bench clean

install: $(STAMP)

# Reinstall only when the project's metadata changes; torch is pinned first so that
# pip takes the CPU build on disk instead of pulling a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q torch==2.13.0
	$(PYTHON) -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

run: install
	$(PYTHON) -m attire data
	$(PYTHON) -m attire train

test: install
	$(PYTHON) -m pytest

bench: install
	$(PYTHON) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
