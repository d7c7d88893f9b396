#!/usr/bin/env bash
# Quick start 2: set up and run the test suite (lint + pytest). Extra arguments go to pytest.
# Tests that need the real tiny suite read it from $AARLAB_TEST_HOME (default ~/.cache/aarlab-test); it is built
# here, as a visible step with its own progress, before pytest starts (once: later runs find it built), so no
# timed test ever builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check aarlab tests benchmarks
.venv/bin/mypy aarlab
export AARLAB_TEST_HOME="${AARLAB_TEST_HOME:-$HOME/.cache/aarlab-test}"
echo "tiny suite for the tests: $AARLAB_TEST_HOME (built once, then reused)"
.venv/bin/aarlab suites build tiny --home "$AARLAB_TEST_HOME"
# pytest exits 5 when it collects no test; with `set -e` that fails this script, as it must.
.venv/bin/python -m pytest -q "$@"
