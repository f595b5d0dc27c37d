# make run   : set up everything (venv, pinned dependencies, MNIST) and run the default experiment
# make test  : the same set-up, then the whole test suite (slow real-MNIST runs included)
# make bench : time training epochs against NumPy and PyTorch (see bench/epoch.py)
# make sweeps: the three threshold sweeps of the README's results (about 20 min on 2 cores)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MNIST  := data/mnist.pkl.gz
ARGS   ?=

.PHONY: run test test-fast bench sweeps data clean

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

sweeps: data
	$(PY) -m transfer_learning.sweep --source mnist:0-4 --target mnist:5-9 --target-train-size 1000 \
		--seeds 1,2,3,4,5 --out sweeps/mnist04-59-n1000
	$(PY) -m transfer_learning.sweep --source mnist --target fashion-mnist --seeds 1,2,3,4,5 \
		--out sweeps/mnist-fashion
	$(PY) -m transfer_learning.sweep --source mnist --target fashion-mnist --target-train-size 1000 \
		--seeds 1,2,3,4,5 --out sweeps/mnist-fashion-n1000

clean:
	rm -rf $(VENV) runs .pytest_cache
