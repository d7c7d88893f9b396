"""Research agents: the sandbox their commands run in (``aarlab.agents.sandbox``) and the offline search
researcher (``aarlab.agents.search``)."""
