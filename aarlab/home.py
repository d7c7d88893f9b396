"""Where aarlab keeps built suites and cached artifacts (the *home* directory).

Resolution order: an explicit path (``--home`` on the command line) > ``$AARLAB_HOME`` > ``~/.cache/aarlab``.
"""

from __future__ import annotations

import os
from pathlib import Path


def resolve_home(explicit: Path | str | None = None) -> Path:
    """The aarlab home directory (created if missing)."""
    if explicit is not None:
        home = Path(explicit)
    elif os.environ.get("AARLAB_HOME"):
        home = Path(os.environ["AARLAB_HOME"])
    else:
        home = Path.home() / ".cache" / "aarlab"
    home = home.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home

