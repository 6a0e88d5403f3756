# Two entry points do all the set-up: `make demo` and `make test`.
# `make env` builds or reuses the pinned environment (tools/setup_env.sh) and is
# called by both; you never need to run it by hand.
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
PY := $(ROOT)/.venv/bin/python
PYTEST_ARGS ?=

.PHONY: env test demo clean-env

env:
	@bash $(ROOT)/tools/setup_env.sh

test: env
	@cd $(ROOT) && $(PY) -m pytest tests $(PYTEST_ARGS)

demo: env
	@cd $(ROOT) && bash demo/run_demo.sh

# Removes this clone's link only; the shared environment stays in the cache.
clean-env:
	rm -f $(ROOT)/.venv
