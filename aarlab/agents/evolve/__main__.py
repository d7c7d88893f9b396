"""``python -m aarlab.agents.evolve --state DIR --agent NAME``: one evolve agent process of a campaign."""

from aarlab.agents.evolve._agent import main

raise SystemExit(main())
