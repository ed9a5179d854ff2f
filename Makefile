# netmon: the two commands a newcomer needs are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two installs: `make run` needs the runtime only (`pip install -e .`, a fresh clone starts in
# well under a minute); lint, test and bench add the test extras (playwright, mypy, ...). The
# full install stamps both, so `make run` after `make test` installs nothing. --no-compile:
# Python compiles a module when it is first imported; compiling every installed file up front
# was a third of a fresh clone's install time.
RUN_STAMP := $(VENV)/.installed-run-stamp
STAMP := $(VENV)/.installed-stamp
PIP := $(BIN)/pip install -q --disable-pip-version-check --no-compile
# Debian packages the tests drive for real (installed when missing and run as root); fping for
# the lab's ICMP fault tests (tests/lab/test_lab.py).
TEST_DEBS := nftables iproute2 procps util-linux snmpd snmp fping prometheus prometheus-alertmanager chromium libfaketime nginx kamailio kamailio-tls-modules dovecot-imapd dovecot-pop3d ffmpeg icecast2 libnginx-mod-http-brotli-filter prometheus-blackbox-exporter traceroute mtr-tiny
BENCH_DEBS := fping prometheus-blackbox-exporter prometheus-snmp-exporter prometheus-alertmanager prometheus

.PHONY: run test lint bench soak debs-test debs-bench clean

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -e ".[test]"
	touch $(STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
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
	$(PIP) -e ".[test,bench]"
	$(BIN)/python bench/run_all.py

# Issue 7: 2,000 targets in the namespace lab for 30 minutes with faults flipping (root; not
# part of `make test`). SOAK_MINUTES=10 make soak for a shorter run.
SOAK_MINUTES ?= 30
soak: $(STAMP) debs-test
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
