# Needs only python3 (with venv and pip) and GNU make: every target that runs code
# first makes .venv and installs the project into it, again when pyproject.toml changes,
# then compiles the numba kernels once (gpux warm), so no first command waits for them.

VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/stamp

.PHONY: demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -e '.[test,lint]'
	$(VENV)/bin/gpux warm
	touch $(STAMP)

# the demo market stays up this long after trading, to look at its page: 10 minutes at a
# terminal, none under CI or without one (make demo DEMO_SECONDS=N to choose)
DEMO_SECONDS ?= $(if $(CI),0,$(shell test -t 0 && echo 600 || echo 0))

demo: $(STAMP)
	$(VENV)/bin/gpux demo --serve $(DEMO_SECONDS)

# everything: the whole suite, then the kernels' tests again as plain Python (coverage).
# gpux warm first (a second or two when the cache is current): after a kernel's source
# changed, the tests would otherwise compile inside their markets' 30 s waits.
test: $(STAMP)
	$(VENV)/bin/gpux warm
	$(PYTHON) -m pytest -q
	NUMBA_DISABLE_JIT=1 $(PYTHON) -m pytest -q -m nojit

# while working: the tests that start no process (no gpux serve, crash drill, demo or browser)
test-fast: $(STAMP)
	$(VENV)/bin/gpux warm
	$(PYTHON) -m pytest -q -m "not slow"

# ruff (pyproject [tool.ruff]) over everything, mypy ([tool.mypy]) over exchange/
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PYTHON) bench/engine.py
	$(PYTHON) bench/journal.py
	$(PYTHON) bench/audit.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
