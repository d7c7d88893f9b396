#!/usr/bin/env bash
# Re-take the dashboard screenshots (browser tests against a seeded campaign) and copy them into docs/img.
# Usage: scripts/refresh_dashboard_screenshots.sh   (needs .venv with the dev extra and /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
AARLAB_TEST_ARTIFACTS="$out" .venv/bin/python -m pytest -q tests/dashboard/test_browser.py -k renders
mkdir -p docs/img
for page in overview leaderboard forum agent oversight; do
  cp "$out/dashboard/$page.png" "docs/img/dashboard-$page.png"
done
rm -rf "$out"
ls -l docs/img/dashboard-*.png
