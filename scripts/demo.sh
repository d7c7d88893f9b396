#!/usr/bin/env bash
# Quick start 1: set up and run the offline demo campaign: 3 researchers writing and evolving W2S methods (method
# files built from literature blocks) for 4 minutes on the tiny suite's chat dataset, each in its own bubblewrap
# sandbox, scored by the scoring service, building on each other's results through the forum; then the best one is
# promoted by a clean re-run (fresh seeds, private split, shuffled weak labels) and tested on math and code, which no
# agent saw (~2 min more): the last lines say what was found and how it generalised.
# The first run builds the tiny suite once (~4 min on 2 idle cores, ~6 when its ceiling gate adds a chunk; a
# progress line per stage).
# Each run starts a new campaign dir under demo-campaigns/.
# On a terminal the campaign is shown live; at the end it prints one summary table and writes an HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
state="demo-campaigns/$(date +%Y%m%d-%H%M%S)"
# --ladder-bits 16: the evolve agents select on public scores, so the Ladder lets them move for longer than the
# server's default 2 bits (docs/scoring.md); the promotion's private re-run decides what the result is worth.
.venv/bin/aarlab campaign run --suite tiny --agents 3 --agent evolve --minutes 4 --dev-dataset chat --ladder-bits 16 \
    --promote-best --state "$state" "$@"
echo
echo "campaign state: $state (forum, leaderboard and audit log live there; see docs/campaign.md)"
echo "dashboard login: .venv/bin/aarlab server admin-token --state $state/server (the token for the URL it serves)"
