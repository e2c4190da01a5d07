# Consortium Ledger — one entry point. Every target installs what it needs first (idempotent).
#   make demo                 the main job: one business day on a fresh local chain, an agent
#                             process per institution (ARGS=--in-process: one driver process)
#   make test [CHAIN=ganache] the test suite on anvil (default) or ganache
#   make bench                gas and throughput figures -> bench/RESULTS.md, bench/results.json
#   make coverage             contract coverage; the last line states branch coverage
#   make chain                a local chain that lasts between commands (make chain-stop, chain-status)
SHELL := /bin/bash
CHAIN ?= anvil
ARGS ?=
TESTS ?= tests
# test files spread over this many pytest-xdist workers, each with its own chain on a free port
# (brownie keeps a file's tests on one worker); WORKERS=0 runs them in this one process
WORKERS ?= 2
# coverage traces every transaction (about 20x slower): each contract's unit tests, the access
# matrix (it owns every refusal by role), the security review's regression tests and the
# front-running refusals (quote terms, breaks by another reconciler: 7 tests, ~40 s traced)
COVERAGE_TESTS ?= tests/unit tests/access tests/hostile/test_review_*.py tests/hostile/test_front_running_*.py
PY := .venv/bin/python
BROWNIE := .venv/bin/brownie

ifeq ($(CHAIN),anvil)
  NETWORK := development
else ifeq ($(CHAIN),ganache)
  NETWORK := ganache-local
else
  NETWORK := $(CHAIN)
endif

.PHONY: setup test demo bench coverage console clean lint slither chain chain-stop chain-status

setup:
	@bash tools/setup.sh

test: setup
	$(BROWNIE) test $(TESTS) --network $(NETWORK) -p no:cacheprovider -n $(WORKERS) $(ARGS)

demo: setup
	$(PY) -m consortium.cli demo --network $(NETWORK) $(ARGS)

bench: setup
	$(PY) -m consortium.cli bench --network $(NETWORK) $(ARGS)

# Coverage measures an unoptimized build in build/coverage/ (see src/consortium/devtools/coverage_build.py).
coverage: setup
	rm -f build/coverage/tests.json
	$(BROWNIE) test $(COVERAGE_TESTS) --network development --coverage -p consortium.devtools.coverage_build \
	  -p no:cacheprovider $(ARGS)
	$(PY) -m consortium.cli coverage-summary reports/coverage.json --build build/coverage --missing

# Slither in its own venv (its pins conflict with brownie's), through the project's compiler shim.
slither: setup
	@bash tools/setup.sh slither
	.venv-slither/bin/python tools/slither_check.py

# A local chain that lasts between commands (state in .chain/): deploy, report, verify, besu-export,
# brownie console and brownie run attach to it while it runs.
chain: setup
	$(PY) -m consortium.cli chain start --kind $(CHAIN) $(ARGS)

chain-stop: setup
	$(PY) -m consortium.cli chain stop

chain-status: setup
	$(PY) -m consortium.cli chain status

console: setup
	$(BROWNIE) console

lint: setup
	.venv/bin/ruff check src tests scripts
	.venv/bin/black --check src tests scripts

clean:
	rm -rf build reports .hypothesis
