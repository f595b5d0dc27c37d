# make run   : set up everything (venv, pinned dependencies, MNIST) and run the default experiment
# make test  : the same set-up, then the lint (ruff) and the whole test suite (slow real-MNIST runs included)
# make test-exact: the tests whose numbers depend on the BLAS kernel (CI runs them under a second kernel too)
# make test-quick: the unit tier (no whole runs, no real data), for a developer's minute
# make bench : time training epochs against NumPy, PyTorch and JAX, start-up, and a sweep's fixed costs (bench/)
# make sweeps: the three threshold sweeps of docs/results.md ("Sweeps: thresholds x 5 seeds")
# make rule-sweeps: the selection rules and the reference arms compared on data replicates (docs/results.md, "The
#   rule comparison"; the rules are described in docs/rules.md)
# make rule-sweeps-first: the same rules under the earlier protocol (first 1,000 examples, one learning rate)
# make mutate: mutation testing of the modules the results rest on (docs/testing.md)
# make study: the transfer map over task pair x width x target size (long: hours; continues where it stopped)
# make compat-table: --compat 2015 with its defects fixed one at a time (README, "Reproducing 2015 and the tutorial";
#   docs/compat-2015.md)
# make tutorial-mlp: the tutorial's mlp.py (1000 epochs) with the tutorial's draws and with ours
# make confirm: the two-stage confirmation study, tuned then confirmed (long: hours over sessions; continues where it
#   stopped; docs/sweeps.md, "Two stages")

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MNIST  := data/mnist.pkl.gz
ARGS   ?=
# The BLAS kernel every committed result was made with (transfer_learning/blas.py, COMMITTED; docs/testing.md,
# "Exact where"). The targets that remake committed results pass it, so they reproduce bit for bit on any x86-64
# CPU with AVX2; `make study PINNED=` runs with the kernel OpenBLAS picks for this CPU instead.
PINNED ?= OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512
# the benchmarks time the kernel OpenBLAS picks for this CPU, as a user's machine runs it (the developers'
# machines set the two variables, for older OpenBLAS builds; they slow this one)
UNPINNED := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
# sweeps write outside the checkout, so that `git clean` or a fresh clone never loses one; the same
# command continues an interrupted sweep. Their tables and plots are copied to docs/results/.
SWEEPS ?= $(abspath ..)/transfer-learning-sweeps
RUNS   ?= $(abspath ..)/transfer-learning-runs
# every committed table's products were computed by OpenBLAS alone (oneDNN's came after, as the default: --gemm)
COMMITTED_GEMM := --gemm openblas
SWEEP  := $(PINNED) $(PY) -m transfer_learning.sweep $(COMMITTED_GEMM)
# the rule sweeps' protocol: 20 replicates, each its own stratified 1,000-example subset (validation 200) and
# initialization; every arm's learning rate chosen by validation; both --reinit-deeper values; the references
# of the transfer literature and Yosinski et al.'s layer arms
RULES  := --target-train-size 1000 --rules all --keep-fractions 0.1,0.25,0.5,0.75 --reinit-deeper no,yes \
	--baselines scratch,finetune,shrink-perturb,linear-probe,lp-ft,l2-sp,keep-layers:1,freeze-layers:1,self-layers:1 \
	--lr-grid 0.01,0.03,0.1,0.3,1 --seeds 1-20
# the protocol of the tables committed before data replicates (docs/results/sweep-rules-*): the first 1,000
# target examples, the whole validation split, learning rate 0.1 for every arm, and the unfused step they were
# computed with (a record of that protocol, kept as published; docs/results.md)
RULES_FIRST := --target-train-size 1000 --subset first --rules all --keep-fractions 0.1,0.25,0.5,0.75 \
	--baselines scratch,finetune,shrink-perturb --seeds 1-20 --kernels unfused

.PHONY: run test test-exact test-fast test-quick lint bench mutate mutate-fast sweeps rule-sweeps rule-sweeps-first study confirm confirm-results compat-table tutorial-mlp copy-sweep data clean

# the pinned dependencies, then the project itself (editable, no other dependency), so that its console scripts
# (mlp-transfer, transfer-sweep, ...: pyproject.toml) are in .venv/bin
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(MNIST): | $(STAMP)
	$(PY) -m transfer_learning.data fetch

data: $(STAMP) $(MNIST)

run: data
	$(PY) mlp_transfer.py $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: data lint
	$(PY) -m pytest --runslow -rs $(ARGS)

# the golden files, resume and sweep exactness, and a committed sweep row made again (docs/testing.md)
EXACT := tests/test_golden.py tests/test_committed_results.py tests/test_resume.py tests/test_sweep.py tests/test_blas.py
test-exact: data
	$(PY) -m pytest --runslow -rs $(EXACT) $(ARGS)

# the unit tier: every test but the real-data runs and the whole runs, sweeps and studies on tiny data (the e2e
# marker, tests/conftest.py)
test-quick: $(STAMP)
	$(PY) -m pytest -q -m "not e2e" $(ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -rs $(ARGS)

bench: data
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0 || echo "torch not installed: PyTorch rows skipped"
	$(PY) -m pip install --quiet --disable-pip-version-check jax==0.10.2 jaxlib==0.10.2 || echo "JAX rows skipped"
	$(UNPINNED) $(PY) bench/epoch.py --modes --threads $(ARGS)
	$(UNPINNED) $(PY) bench/startup.py
	$(UNPINNED) $(PY) bench/sweep.py

sweeps: data
	$(SWEEP) --source mnist:0-4 --target mnist:5-9 --target-train-size 1000 --subset first --seeds 1-5 \
		--out $(SWEEPS)/mnist04-59-n1000
	$(SWEEP) --source mnist --target fashion-mnist --seeds 1-5 --out $(SWEEPS)/mnist-fashion
	$(SWEEP) --source mnist --target fashion-mnist --target-train-size 1000 --subset first --seeds 1-5 \
		--out $(SWEEPS)/mnist-fashion-n1000
	for s in mnist04-59-n1000 mnist-fashion mnist-fashion-n1000; do $(MAKE) --no-print-directory copy-sweep S=$$s; done

rule-sweeps: data
	$(SWEEP) --source mnist:0-4 --target mnist:5-9 $(RULES) --out $(SWEEPS)/replicated-rules-mnist04-59-n1000-tanh
	$(SWEEP) --source mnist:0-4 --target mnist:5-9 --activation relu $(RULES) \
		--out $(SWEEPS)/replicated-rules-mnist04-59-n1000-relu
	$(SWEEP) --source mnist --target fashion-mnist $(RULES) --out $(SWEEPS)/replicated-rules-mnist-fashion-n1000-tanh
	for s in replicated-rules-mnist04-59-n1000-tanh replicated-rules-mnist04-59-n1000-relu \
		replicated-rules-mnist-fashion-n1000-tanh; do $(MAKE) --no-print-directory copy-sweep S=$$s; done

rule-sweeps-first: data
	$(SWEEP) --source mnist:0-4 --target mnist:5-9 $(RULES_FIRST) --out $(SWEEPS)/rules-mnist04-59-n1000-tanh
	$(SWEEP) --source mnist:0-4 --target mnist:5-9 --activation relu $(RULES_FIRST) \
		--out $(SWEEPS)/rules-mnist04-59-n1000-relu
	$(SWEEP) --source mnist --target fashion-mnist $(RULES_FIRST) --out $(SWEEPS)/rules-mnist-fashion-n1000-tanh

# mutation testing (long: hours on two cores; not run by CI): mutmut over the modules in pyproject.toml's
# [tool.mutmut], then its per-module table; `make mutate ARGS=<mutant names>` reruns some
mutate: data
	$(PY) -m pip install --quiet --disable-pip-version-check mutmut==3.8.1
	$(VENV)/bin/mutmut run $(ARGS) || true
	$(PY) -m tools.mutation_score

# the same mutants against each module's fast tests (tools/mutate_fast.py): about an hour, a lower bound of make
# mutate's scores; `make mutate-fast ARGS='transfer_learning.rules*'` runs one module's
mutate-fast: data
	$(PY) -m pip install --quiet --disable-pip-version-check mutmut==3.8.1
	$(PY) -m tools.mutate_fast $(ARGS)

# the transfer map (docs/sweeps.md, "Studies"): every task pair x width x target size, 10 replicates a cell; the
# same command continues a stopped study. Its tables and map are copied to docs/results/study/ (the map made before
# with the unfused step, --kernels unfused, is kept in docs/results/unfused/study/ for comparison)
STUDY ?= --sizes 100,300,1000,3000 --replicates 10
study: data
	$(PINNED) $(PY) -m transfer_learning.study $(STUDY) $(COMMITTED_GEMM) --out $(SWEEPS)/study
	mkdir -p docs/results/study
	cp $(SWEEPS)/study/results.csv $(SWEEPS)/study/study.md $(SWEEPS)/study/study.png docs/results/study/
	for c in $(SWEEPS)/study/cells/*/; do n=$$(basename $$c); cp $$c/analysis.json docs/results/study/$$n.analysis.json; \
		cp $$c/conclusions.md docs/results/study/$$n.conclusions.md; cp $$c/results.csv docs/results/study/$$n.csv; done

# the confirmation study (docs/sweeps.md, "Two stages"): 3 task pairs x 2 widths x 3 sizes x tanh and ReLU, tuned on 3
# replicates a cell (seeds 1001..), then confirmed on CONFIRM_REPLICATES fresh ones (seeds 2001..) with the primary
# analysis declared in hypotheses.json first; both stages continue where they stopped. Its files go to
# docs/results/confirm/. oneDNN's products (the default) pinned to AVX2 kernels, as OpenBLAS's are to Haswell's.
CONFIRM ?= --pairs "mnist:0-4>mnist:5-9,fashion-mnist:0-4>fashion-mnist:5-9,mnist>fashion-mnist" \
	--widths 100,100/500,500 --sizes 300,1000,3000 --activations tanh,relu --keep-fractions 0.25,0.5 \
	--primary-sizes 1000,3000 --tune-replicates 3
CONFIRM_REPLICATES ?= 20
# the cells tuned but cut from the confirmation to fit its 8-hour budget (docs/results.md says why these)
CONFIRM_CUT ?= *_n300_*,mnist-fashion-mnist_500-500_*
confirm: data
	$(PINNED) ONEDNN_MAX_CPU_ISA=AVX2 $(PY) -m transfer_learning.study --stage tune $(CONFIRM) \
		--replicates $(CONFIRM_REPLICATES) --out $(SWEEPS)/confirm
	$(PINNED) ONEDNN_MAX_CPU_ISA=AVX2 $(PY) -m transfer_learning.study --stage confirm $(CONFIRM) \
		--cut-cells '$(CONFIRM_CUT)' --replicates $(CONFIRM_REPLICATES) --out $(SWEEPS)/confirm
	$(MAKE) confirm-results

# the confirmation's files into docs/results/confirm/ (make confirm ends with it; alone, for a study run by hand)
confirm-results:
	mkdir -p docs/results/confirm
	cp $(SWEEPS)/confirm/tuned.json $(SWEEPS)/confirm/hypotheses.json $(SWEEPS)/confirm/primary.json \
		$(SWEEPS)/confirm/primary.md $(SWEEPS)/confirm/primary.png $(SWEEPS)/confirm/results.csv \
		$(SWEEPS)/confirm/study.log docs/results/confirm/
	for c in $(SWEEPS)/confirm/confirm/cells/*/; do n=$$(basename $$c); \
		cp $$c/analysis.json docs/results/confirm/$$n.analysis.json; cp $$c/conclusions.md docs/results/confirm/$$n.conclusions.md; done

compat-table: data
	$(PINNED) $(PY) -m transfer_learning.compat2015 --ladder $(RUNS)/compat-ladder $(COMMITTED_GEMM)
	cp $(RUNS)/compat-ladder/ladder.md docs/results/compat-ladder.md

# the tutorial's mlp.py with its draws (--init-rng legacy) and with ours; each run's record is committed to
# docs/results/tutorial-mlp-<init>/ (docs/compat-2015.md)
TUTORIAL_MLP := --hidden-sizes 500 --learning-rate 0.01 --n-epochs 1000 --source mnist --no-transfer
tutorial-mlp: data
	$(PINNED) $(PY) mlp_transfer.py $(TUTORIAL_MLP) $(COMMITTED_GEMM) --init-rng legacy --out $(RUNS)/tutorial-mlp-legacy
	$(PINNED) $(PY) mlp_transfer.py $(TUTORIAL_MLP) $(COMMITTED_GEMM) --out $(RUNS)/tutorial-mlp-default
	for r in legacy default; do mkdir -p docs/results/tutorial-mlp-$$r; \
		cp $(RUNS)/tutorial-mlp-$$r/out.txt $(RUNS)/tutorial-mlp-$$r/results.json $(RUNS)/tutorial-mlp-$$r/config.json \
		$(RUNS)/tutorial-mlp-$$r/curves.png docs/results/tutorial-mlp-$$r/; done

copy-sweep:
	cp $(SWEEPS)/$(S)/summary.md docs/results/sweep-$(S).md
	cp $(SWEEPS)/$(S)/results.csv docs/results/sweep-$(S).csv
	cp $(SWEEPS)/$(S)/sweep.png docs/results/sweep-$(S).png
	if [ -f $(SWEEPS)/$(S)/analysis.json ]; then cp $(SWEEPS)/$(S)/analysis.json docs/results/sweep-$(S).analysis.json; \
		cp $(SWEEPS)/$(S)/conclusions.md docs/results/sweep-$(S).conclusions.md; fi

clean:
	rm -rf $(VENV) runs .pytest_cache
