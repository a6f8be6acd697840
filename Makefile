# Two entry points do all the set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: demo test bench bench-peers fuzz clean
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

# The same benchmarks with JAX and TensorFlow 1.x (tf.compat.v1) beside tensorkiln in one run: they
# live in their own venv outside the project (large, and not dependencies); tensorkiln runs from
# this tree there.
PEERS_VENV ?= $(HOME)/peers-venv
bench-peers:
	[ -x $(PEERS_VENV)/bin/python ] || python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -c "import jax, tensorflow, llvmlite, lark" 2>/dev/null || \
		$(PEERS_VENV)/bin/pip install -q numpy llvmlite lark jax jaxlib tensorflow-cpu
	$(PEERS_VENV)/bin/python benchmarks/run.py

fuzz: $(TESTSTAMP)
	$(VPY) tools/fuzz.py --minutes $(MINUTES)

clean:
	rm -rf $(VENV) build *.egg-info
