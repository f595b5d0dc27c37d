# make run   : set up everything (venv, pinned dependencies, MNIST) and run the default experiment
# make test  : the same set-up, then the lint (ruff) and the whole test suite (slow real-MNIST runs included)
# make bench : time training epochs against NumPy and PyTorch (see bench/epoch.py)
# make sweeps: the three threshold sweeps of the README's results
# make rule-sweeps: the selection rules compared at equal budgets (README, "Which nodes should be kept?")

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MNIST  := data/mnist.pkl.gz
ARGS   ?=
# sweeps write outside the checkout, so that `git clean` or a fresh clone never loses one; the same
# command continues an interrupted sweep. Their tables and plots are copied to docs/results/.
SWEEPS ?= $(abspath ..)/transfer-learning-sweeps
SWEEP  := $(PY) -m transfer_learning.sweep
RULES  := --rules all --keep-fractions 0.1,0.25,0.5,0.75 --baselines scratch,finetune,shrink-perturb --seeds 1-20

.PHONY: run test test-fast lint bench sweeps rule-sweeps data clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

$(MNIST): | $(STAMP)
	$(PY) -m transfer_learning.data fetch

data: $(STAMP) $(MNIST)

run: data
	$(PY) mlp_transfer.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: data lint
	$(PY) -m pytest --runslow $(ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest $(ARGS)

bench: data
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0 || echo "torch not installed: PyTorch column skipped"
	$(PY) bench/epoch.py --modes $(ARGS)
	$(PY) bench/startup.py

sweeps: data
	$(SWEEP) --source mnist:0-4 --target mnist:5-9 --target-train-size 1000 --seeds 1-5 \
		--out $(SWEEPS)/mnist04-59-n1000
	$(SWEEP) --source mnist --target fashion-mnist --seeds 1-5 --out $(SWEEPS)/mnist-fashion
	$(SWEEP) --source mnist --target fashion-mnist --target-train-size 1000 --seeds 1-5 \
		--out $(SWEEPS)/mnist-fashion-n1000
	for s in mnist04-59-n1000 mnist-fashion mnist-fashion-n1000; do $(MAKE) --no-print-directory copy-sweep S=$$s; done

rule-sweeps: data
	$(SWEEP) --source mnist:0-4 --target mnist:5-9 --target-train-size 1000 $(RULES) \
		--out $(SWEEPS)/rules-mnist04-59-n1000-tanh
	$(SWEEP) --source mnist:0-4 --target mnist:5-9 --target-train-size 1000 --activation relu $(RULES) \
		--out $(SWEEPS)/rules-mnist04-59-n1000-relu
	$(SWEEP) --source mnist --target fashion-mnist --target-train-size 1000 $(RULES) \
		--out $(SWEEPS)/rules-mnist-fashion-n1000-tanh
	for s in rules-mnist04-59-n1000-tanh rules-mnist04-59-n1000-relu rules-mnist-fashion-n1000-tanh; do \
		$(MAKE) --no-print-directory copy-sweep S=$$s; done

copy-sweep:
	cp $(SWEEPS)/$(S)/summary.md docs/results/sweep-$(S).md
	cp $(SWEEPS)/$(S)/results.csv docs/results/sweep-$(S).csv
	cp $(SWEEPS)/$(S)/sweep.png docs/results/sweep-$(S).png

clean:
	rm -rf $(VENV) runs .pytest_cache
