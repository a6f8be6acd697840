# Two entry points do all the set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: demo test bench fuzz clean
MINUTES ?= 5

$(VPY):
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

$(STAMP): $(VPY) pyproject.toml
	$(VPY) -m pip install -q -e .
	touch $(STAMP)

$(TESTSTAMP): $(STAMP)
	$(VPY) -m pip install -q -e '.[test]'
	touch $(TESTSTAMP)

demo: $(STAMP)
	$(VPY) examples/demo.py

test: $(TESTSTAMP)
	$(VPY) -m pytest -n 2 tests

bench: $(STAMP)
	$(VPY) benchmarks/run.py

fuzz: $(TESTSTAMP)
	$(VPY) tools/fuzz.py --minutes $(MINUTES)

clean:
	rm -rf $(VENV) build *.egg-info
