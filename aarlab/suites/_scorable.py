"""Whether the scoring service can score a built dataset: the rule of its ``gap-too-small`` flag, at build time.

The service flags every submission on a dataset whose gap strong_acc - weak_acc is too small for PGR to mean
anything, or whose public PGR has one SE above 0.25 (its public split's distinct items over the gap). A suite built
so is a benchmark on which every honest method is flagged: on tiny, before its math teacher knew less, 2 of 5 fresh
worlds were (math gap 0.167 and 0.194 on ~30 public questions, SE 0.27). A builder that refuses worlds outside the
bar (``REFUSES_OUTSIDE_BAR``) refuses those too; the public split is estimated at the service's default fraction.
"""

from __future__ import annotations

from typing import Any

from aarlab.suites._spec import Suite

#: The scoring service's default public fraction (`aarlab server init --public-fraction`).
DEFAULT_PUBLIC_FRACTION = 0.5


def unscorable(suite: Suite, results: dict[str, dict[str, Any]], experimental: list[str]) -> list[str]:
    """One line per dataset held to the bar on which the service would flag every submission ``gap-too-small``."""
    from aarlab.server._integrity import Baselines, gap_flag
    from aarlab.w2s.data import distinct_items, load_dataset

    lines = []
    for name, r in results.items():
        if name in experimental:
            continue
        n = distinct_items(load_dataset(suite.data_path(name)).split("test"))
        flag = gap_flag(Baselines(r["weak_acc"], r["strong_acc"], n, round(n * DEFAULT_PUBLIC_FRACTION)))
        if flag is not None:
            lines.append(f"{name}: {flag.detail} ({n} distinct test items, ~{round(n * DEFAULT_PUBLIC_FRACTION)} "
                         "public)")
    return lines
