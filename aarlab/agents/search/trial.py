"""Entry point ``python -m aarlab.agents.search.trial`` (runs inside an agent's sandbox)."""

from aarlab.agents.search._trial import main

if __name__ == "__main__":
    raise SystemExit(main())
