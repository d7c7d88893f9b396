"""The tiny suite's builder: a synthetic world and locally pretrained tiny Qwen3 models."""

from typing import Any

from aarlab.suites._spec import Suite
from aarlab.suites.tiny._build import BuildError, build_tiny, discard_world
from aarlab.suites.tiny._consolidate import consolidate_until_ceiling as after_baselines

#: A world whose vanilla PGR of the seed means is outside (0, 1) after the ceiling gate is refused (and redrawn):
#: the suite's acceptance bar holds on every build, not on most (suites/_build.py).
REFUSES_OUTSIDE_BAR = True


def build(suite: Suite, progress: Any, workers: int, _log: Any) -> dict[str, Any]:
    """The builder entry point of ``suites/_build.py`` (see ``BUILDERS`` there)."""
    return build_tiny(suite, progress, workers=workers)


__all__ = ["REFUSES_OUTSIDE_BAR", "BuildError", "after_baselines", "build", "build_tiny", "discard_world"]
