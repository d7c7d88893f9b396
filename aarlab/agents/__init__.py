"""Research agents: the sandbox their commands run in (``aarlab.agents.sandbox``)."""
