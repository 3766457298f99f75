# One command sets up and runs each job; the set-up steps are quick when nothing changed.
# Everything installs with the versions pinned in constraints.txt.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q -c constraints.txt
DEMO_STAMP := $(VENV)/.installed-train
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install install-test test test-slow demo experiments bench catalog figures lint format clean

# The package with the training and diagram extras: what `make demo` and `make figures` need (no test tools).
install: $(DEMO_STAMP)
# The package with every extra, the reference implementations and the test tools.
install-test: $(TEST_STAMP)

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(DEMO_STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) -e '.[train,diagram]'
	touch $@

$(TEST_STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) -e '.[test]'
	# facenet-pytorch pins an old torch but works with ours: install it without its pins.
	$(PIP) --no-deps facenet-pytorch
	touch $@

test: install-test lint
	$(PY) -m pytest -q

# Adds the ONNX export check of every registered network (about 10 more minutes on 2 cores).
test-slow: install-test
	INCEPTION_ZOO_SLOW=1 $(PY) -m pytest -q tests/test_export.py

demo: install
	$(PY) -m inception_zoo.demo --overwrite

# The Inception-v4 paper's residual findings at small scale (docs/experiments.md): writes the
# figures and tables in docs/experiments/; about 12 + 11 minutes on one thread of a 2-core machine.
experiments: install
	$(PY) experiments/residual_speed.py
	$(PY) experiments/residual_scaling.py

# The facts `inception-zoo list` and `weights` read without loading torch; a test says when to rerun this.
catalog: install
	$(PY) -m inception_zoo.catalog

# docs/gallery.md and docs/figures/: every network and every distinct module, drawn from the code; a test says
# when to rerun this.
figures: install
	$(PY) -m inception_zoo.diagrams docs

# Side by side with the peers (timm, torchvision, pytorch-fid, torch-fidelity, clean-fid) on this machine
# (about 2 hours on 2 CPU cores).
bench: install-test
	$(PY) benchmarks/inference.py --markdown
	$(PY) benchmarks/train_step.py --markdown
	$(PY) benchmarks/allocator.py --pairs 3 --calls 3 --markdown
	$(PY) benchmarks/int8.py --markdown
	$(PY) benchmarks/optimizer_step.py --markdown
	$(PY) benchmarks/serve_load.py --markdown
	$(PY) benchmarks/predict.py --markdown
	$(PY) benchmarks/fid.py --markdown

lint: install-test
	$(VENV)/bin/ruff check src tests benchmarks experiments
	$(VENV)/bin/ruff format --check src tests benchmarks experiments

format: install-test
	$(VENV)/bin/ruff format src tests benchmarks experiments
	$(VENV)/bin/ruff check --fix src tests benchmarks experiments

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
