# The two commands of the README: `make run` and `make test`. Both set everything up first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The installer: uv, pinned, resolves and installs the pinned set (constraints.txt) in about
# 12 s where pip takes about 50 s; the same packages at the same versions.
UV_VERSION := 0.13.9
INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt
# Python writes a module's bytecode the first time a process imports it, as it does by default.
# Where the environment sets PYTHONDONTWRITEBYTECODE, as on this machine, nothing would write it,
# and every process would compile every module it imports, every time it starts: about 5 s of
# CPU for each start of Prefect's server, 1 to 2 s for each command and flow-run process.
# Compiling every package at install instead (uv's --compile-bytecode) costs 17 s of set-up and
# compiles twice the modules that anything here imports.
unexport PYTHONDONTWRITEBYTECODE
# The project's own modules, compiled by `setup` before its processes start together (well under
# a second when nothing changed).
SOURCES := app flows models expectations deployments tests bench

.PHONY: run test test-fast bench setup browser clean cluster cluster-setup test-cluster

$(BIN)/uv:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml constraints.txt | $(BIN)/uv
	$(INSTALL) -e ".[test]"
	touch $(STAMP)

# The web tests drive Debian's chromium through Playwright (never `playwright install`): its
# headless shell for the pages (a quarter of the CPU a page), with a CJK font so that pages and
# screenshots render Chinese rather than empty boxes; and the desktop chromium with its Chinese
# (chromium-l10n) so that a date input reads 年/月/日 as a Chinese worker's does.
browser:
	test -x /usr/bin/chromium && test -x /usr/bin/chromium-headless-shell \
		&& test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \
		&& test -f /usr/lib/chromium/locales/zh-CN.pak || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		chromium chromium-headless-shell chromium-l10n fonts-noto-cjk)

setup: browser $(STAMP)
	$(BIN)/python -m compileall -q -j 0 $(SOURCES) > /dev/null

run: setup
	$(BIN)/protect up

# Everything: tests/unit and the tests against a real Prefect server and runner, the case store
# on SQLite and PostgreSQL, the command line and the pages in chromium. On TEST_WORKERS
# processes (pytest-xdist), each with a Prefect server, runner and store of its own; the tests
# marked `last` wait for the others and read what every worker left (tests/conftest.py).
TEST_WORKERS ?= 2
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The fast tier: tests/unit only, pure code with no server, process, database or browser
# (tests/unit/conftest.py fails a test that reaches for one), in well under a minute.
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/unit

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) | $(BIN)/uv
	$(INSTALL) -e ".[test,bench]"
	touch $(BENCH_STAMP)

# The benchmarks at their default sizes, under ten minutes; `make bench FULL=1` runs the full
# sizes (about 21 minutes). Figures and the command of each: docs/BENCHMARKS.md.
bench: setup $(BENCH_STAMP)
	$(BIN)/python -m bench $(if $(FULL),--full)

# The scaled-out topology on this machine: PostgreSQL :5432 and Redis :6379, two in-process
# executors (`protect cluster up --runner process` for a work pool instead; docs/operations.md).
CLUSTER_STAMP := $(VENV)/.installed-cluster

$(CLUSTER_STAMP): $(STAMP) | $(BIN)/uv
	$(INSTALL) -e ".[test,cluster]"
	touch $(CLUSTER_STAMP)

cluster-setup: $(CLUSTER_STAMP)

cluster: cluster-setup
	$(BIN)/protect cluster up

# The fault tests and the stop on Ctrl-C or SIGTERM, on a private PostgreSQL and Redis of
# their own (5 to 10 minutes; CI runs them after `make test`).
test-cluster: cluster-setup
	PROTECT_CLUSTER_TESTS=1 $(BIN)/python -m pytest tests/cluster -m cluster

clean:
	rm -rf var .pytest_cache
