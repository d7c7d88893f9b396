#!/usr/bin/env bash
# Quick start 1: set up and run the offline demo: every baseline method on the tiny suite (builds it once, ~6 min).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/aarlab w2s compare --suite tiny --seeds 3 "$@"
