# netmon: the two commands a newcomer needs are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Debian packages the tests drive for real (installed when missing and run as root).
TEST_DEBS := nftables iproute2 procps util-linux snmpd snmp prometheus prometheus-alertmanager chromium libfaketime
BENCH_DEBS := fping prometheus-blackbox-exporter prometheus-snmp-exporter prometheus-alertmanager prometheus

.PHONY: run test lint bench soak debs-test debs-bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/netmon run --config settings.toml --lab

debs-test:
	@scripts/ensure-debs $(TEST_DEBS)

debs-bench:
	@scripts/ensure-debs $(BENCH_DEBS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) debs-test lint
	$(BIN)/pytest

bench: $(STAMP) debs-bench
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test,bench]"
	$(BIN)/python bench/run_all.py

# Issue 7: 2,000 targets in the namespace lab for 30 minutes with faults flipping (root; not
# part of `make test`). SOAK_MINUTES=10 make soak for a shorter run.
SOAK_MINUTES ?= 30
soak: $(STAMP) debs-test
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
