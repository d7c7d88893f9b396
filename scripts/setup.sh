#!/usr/bin/env bash
# Create .venv (if missing) and install aarlab into it. Usage: scripts/setup.sh [dev]
# torch 2.13.0 is installed first on its own so that pip takes the CPU build when one is available locally and
# never pulls a different build through another package's requirement.
set -euo pipefail
cd "$(dirname "$0")/.."
# quietly WHAT CMD...: one line says WHAT is being done; CMD's own output goes to a log shown only on failure.
quietly() {
  local what=$1 log
  shift
  log=$(mktemp)
  echo "$what ..." >&2
  if "$@" >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  cat "$log" >&2
  rm -f "$log"
  return 1
}
# apt_install PKG...: one line says what is installed; apt's and debconf's output only on failure.
apt_install() {
  quietly "installing $* with apt-get" bash -c 'DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"' apt_install "$@"
}
# Agents' commands run under bubblewrap (aarlab.agents.sandbox); install it when we can, else say how.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt_install bubblewrap || echo "warning: could not install bubblewrap; run: apt-get install bubblewrap" >&2
  else
    echo "warning: bubblewrap (bwrap) is missing; agents' sandboxes will not start." \
         "Install the package: sudo apt-get install bubblewrap" >&2
  fi
fi
# Dev/test: the dashboard's browser tests drive Debian's chromium (never `playwright install`).
if [ "${1:-}" = "dev" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt_install chromium || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "warning: /usr/bin/chromium is missing; browser tests will be skipped (sudo apt-get install chromium)" >&2
  fi
fi
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  quietly "creating .venv (first run: installing packages takes a few minutes)" "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  quietly "installing torch 2.13.0 (CPU) into .venv" .venv/bin/python -m pip install --quiet "torch==2.13.0"
fi
extra=""
if [ "${1:-}" = "dev" ]; then extra="[dev]"; fi
quietly "installing aarlab${extra} and its dependencies into .venv" .venv/bin/python -m pip install --quiet -e ".${extra}"
