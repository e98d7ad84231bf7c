# The README's two commands: `make demo` (the main job) and `make test`.
# Both install what they need first (scripts/bootstrap.sh: uv + npm ci).
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
# Use the shared development powers of tau when it is there (CI and dev machines);
# otherwise the project generates its own, clearly labelled insecure one.
SHARED_PTAU := $(abspath ../shared/ptau/dev_bn128_16.ptau)
ifeq ($(origin DARKPOOL_PTAU), undefined)
ifneq ($(wildcard $(SHARED_PTAU)),)
export DARKPOOL_PTAU := $(SHARED_PTAU)
endif
endif

.PHONY: setup demo test lint bench

setup:
	@scripts/bootstrap.sh

# The export is kept (ledger-export/ is git-ignored), so the darkpool-verify
# command the demo prints at the end can be run as printed.
demo: setup
	uv run darkpool demo --ledger-out ledger-export/demo

lint: setup
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy

test: lint
	@uv run pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

bench: setup
	uv run python -m benchmarks
