"""``python -m aarlab.agents.runtime --state DIR --agent NAME``: one LLM agent process of a campaign."""

from aarlab.agents.runtime._main import main

raise SystemExit(main())
