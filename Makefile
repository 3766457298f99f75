# One command sets up and runs each job; `make install` is quick when nothing changed.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-slow demo bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test]'
	# facenet-pytorch pins an old torch but works with ours: install it without its pins.
	$(PY) -m pip install -q --no-deps facenet-pytorch==2.6.0
	touch $(STAMP)

test: install lint
	$(PY) -m pytest -q

# Adds the ONNX export check of every registered network (about 10 more minutes on 2 cores).
test-slow: install
	INCEPTION_ZOO_SLOW=1 $(PY) -m pytest -q tests/test_export.py

demo: install
	$(PY) -m inception_zoo.demo

# Side by side with timm and torchvision on this machine (about 80 minutes on 2 CPU cores).
bench: install
	$(PY) benchmarks/inference.py --markdown
	$(PY) benchmarks/train_step.py --markdown
	$(PY) benchmarks/allocator.py --pairs 3 --calls 3 --markdown
	$(PY) benchmarks/int8.py --markdown
	$(PY) benchmarks/optimizer_step.py --markdown
	$(PY) benchmarks/serve_load.py --markdown

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: install
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
