# make run   : set up everything (venv, pinned dependencies, MNIST) and run the default experiment
# make test  : the same set-up, then the lint (ruff) and the whole test suite (slow real-MNIST runs included)
# make bench : time training epochs against NumPy, PyTorch and JAX, start-up, and a sweep's fixed costs (bench/)
# make sweeps: the three threshold sweeps of the README's results
# make rule-sweeps: the selection rules compared at equal budgets (README, "Which nodes should be kept?")
# make compat-table: --compat 2015 with its defects fixed one at a time (README, "Faithful to 2015")
# make tutorial-mlp: the tutorial's mlp.py (1000 epochs) with the tutorial's draws and with ours

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MNIST  := data/mnist.pkl.gz
ARGS   ?=
# sweeps write outside the checkout, so that `git clean` or a fresh clone never loses one; the same
# command continues an interrupted sweep. Their tables and plots are copied to docs/results/.
SWEEPS ?= $(abspath ..)/transfer-learning-sweeps
RUNS   ?= $(abspath ..)/transfer-learning-runs
SWEEP  := $(PY) -m transfer_learning.sweep
RULES  := --rules all --keep-fractions 0.1,0.25,0.5,0.75 --baselines scratch,finetune,shrink-perturb --seeds 1-20

.PHONY: run test test-fast lint bench sweeps rule-sweeps compat-table tutorial-mlp copy-sweep data clean

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
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0 || echo "torch not installed: PyTorch rows skipped"
	$(PY) -m pip install --quiet --disable-pip-version-check jax==0.10.2 jaxlib==0.10.2 || echo "JAX rows skipped"
	$(PY) bench/epoch.py --modes --threads $(ARGS)
	$(PY) bench/startup.py
	$(PY) bench/sweep.py

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

compat-table: data
	$(PY) -m transfer_learning.compat2015 --ladder $(RUNS)/compat-ladder
	cp $(RUNS)/compat-ladder/ladder.md docs/results/compat-ladder.md

tutorial-mlp: data
	$(PY) mlp_transfer.py --hidden-sizes 500 --learning-rate 0.01 --n-epochs 1000 --source mnist --no-transfer \
		--init-rng legacy --out $(RUNS)/tutorial-mlp-legacy
	$(PY) mlp_transfer.py --hidden-sizes 500 --learning-rate 0.01 --n-epochs 1000 --source mnist --no-transfer \
		--out $(RUNS)/tutorial-mlp-default

copy-sweep:
	cp $(SWEEPS)/$(S)/summary.md docs/results/sweep-$(S).md
	cp $(SWEEPS)/$(S)/results.csv docs/results/sweep-$(S).csv
	cp $(SWEEPS)/$(S)/sweep.png docs/results/sweep-$(S).png

clean:
	rm -rf $(VENV) runs .pytest_cache
