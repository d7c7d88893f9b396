"""``python -m aarlab.agents.search --state DIR --agent NAME``: one search agent process of a campaign."""

from aarlab.agents.search._agent import main

raise SystemExit(main())
