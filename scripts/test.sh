#!/usr/bin/env bash
# Quick start 2: set up and run the test suite (lint + pytest). Extra arguments go to pytest.
# The first run builds the tiny suite once (~6 min) into ~/.cache/aarlab-test (or $AARLAB_TEST_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check aarlab tests benchmarks
.venv/bin/mypy aarlab
# pytest exits 5 when it collects no test; with `set -e` that fails this script, as it must.
.venv/bin/python -m pytest -q "$@"
