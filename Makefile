# make run   : set up everything (venv, pinned dependencies, MNIST) and run the default experiment
# make test  : the same set-up, then the whole test suite (slow real-MNIST runs included)
# make bench : time training epochs against NumPy and PyTorch (see bench/epoch.py)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MNIST  := data/mnist.pkl.gz
ARGS   ?=

.PHONY: run test test-fast bench data clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

$(MNIST): | $(STAMP)
	$(PY) -m transfer_learning.data fetch

data: $(STAMP) $(MNIST)

run: data
	$(PY) mlp_transfer.py $(ARGS)

test: data
	$(PY) -m pytest --runslow $(ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest $(ARGS)

bench: data
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0 || echo "torch not installed: PyTorch column skipped"
	$(PY) bench/epoch.py --modes $(ARGS)
	$(PY) bench/startup.py

clean:
	rm -rf $(VENV) runs .pytest_cache
