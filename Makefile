# The two commands the README opens with: `make run` and `make test`.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test bench pretrained clean

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

# The shipped default model and its card (attire/pretrained/): `attire train --preset default
# --seed 0`, several minutes of CPU. Run it on a quiet machine: the card records the load.
pretrained: install
	$(PYTHON) scripts/make_pretrained.py

clean:
	rm -rf $(VENV) build *.egg-info
