"""``campaign run --promote-best``: at a campaign's end, promote its best queued submission and say what it is worth.

The campaign's end queues each agent's best linked submission per dataset (``aarlab promote --queued`` runs them
all, minutes each). With ``--promote-best`` the end also runs *one* of them at once -- the evolve agents' nominee
(:func:`aarlab.agents.evolve._agent.nominee`) when it is queued, else the queued submission with the best public
accuracy (the latest among ties) -- and prints a few lines: its private PGR against vanilla on the same fresh seeds,
whether it learns from the teacher, and how it did on the held-out datasets no agent saw. So a demo ends by saying
what was found and how it generalised, as the seed system's chat -> math / code table does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

if TYPE_CHECKING:
    from aarlab.campaign._promote import PromotionResult


def pick_best(server: Path, queued: list[str], preferred: str | None = None) -> str | None:
    """The queued submission to promote: ``preferred`` when queued, else the best public accuracy (latest among
    ties); None when nothing is queued."""
    from aarlab.server._db import submissions
    from aarlab.server._state import open_state

    if not queued:
        return None
    if preferred in queued:
        return preferred
    state = open_state(server)
    try:
        with state.db.reader.connect() as conn:
            rows = conn.execute(select(submissions.c.id, submissions.c.public_transfer_acc, submissions.c.audit_seq)
                                .where(submissions.c.id.in_(queued))).all()
    finally:
        state.db.dispose()
    return max(rows, key=lambda r: (r.public_transfer_acc, r.audit_seq)).id if rows else None


def promote_best(state: Path, log: Callable[[str], None]) -> PromotionResult | None:
    """Promote the campaign's best queued submission (3 fresh seeds, held-out datasets); None when none is queued.

    Raises :class:`aarlab.campaign._promote.PromotionError` (or a suite error) when it cannot start."""
    from aarlab.agents.evolve._agent import nominee
    from aarlab.campaign._promote import PromotionOptions, promote
    from aarlab.campaign._promote_queue import queued_requests
    from aarlab.campaign._setup import server_dir
    from aarlab.campaign._state import load_campaign
    from aarlab.suites import load_suite
    from aarlab.suites._preflight import check_inputs

    info = load_campaign(state)
    server = server_dir(state)
    found = nominee(state) if info.agent_kind == "evolve" else None
    chosen = pick_best(server, queued_requests(server), found[2].submission if found else None)
    if chosen is None:
        return None
    suite = load_suite(info.suite, Path(info.home))
    check_inputs(suite)
    log(f"promoting {chosen} by a clean re-run (3 fresh seeds, private split, shuffled weak labels, held-out "
        "datasets); a few minutes")
    return promote(server, chosen, suite=suite, suite_ref=info.suite, options=PromotionOptions(), log=log)


def promotion_lines(result: PromotionResult, dev_datasets: list[str] | None = None) -> list[str]:
    """What a promotion says, in three lines: private PGR against vanilla, teacher dependence, generalisation."""
    who = f"{result.agent}'s {result.method} on {result.dataset}"
    if result.status != "promoted":
        return [f"promotion of {who} failed: {result.reason}"]
    pgr = lambda v: "undefined" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"promoted {who} (clean re-run, fresh seeds {', '.join(map(str, result.seeds))}): private PGR "
             f"{pgr(result.private_pgr)} against vanilla's {pgr(result.vanilla_private_pgr)} on the same seeds"
             + ("" if result.private_pgr is not None else " (the fresh seeds' ceiling does not beat their teacher)")]
    p = result.paired
    if p is not None:
        significant = "better than" if p.ci[0] > 0 else "worse than" if p.ci[1] < 0 else "not separable from"
        lines[0] += (f" -- {significant} vanilla (accuracy {p.mean_diff:+.3f} [{p.ci[0]:+.3f}, {p.ci[1]:+.3f}], "
                     f"p {p.p_value:.2g})")
    a = result.ablation
    if a is not None:
        kept = ("no gain over zero-shot to keep" if a.retained is None else "all of its gain over zero-shot lost"
                if a.retained <= 0 else f"{a.retained:.0%} of its gain over zero-shot kept")
        verdict = "it does NOT learn from the teacher" if a.ignores_weak_labels else "it learns from the teacher"
        lines.append(f"on shuffled weak labels it scores {a.shuffled_acc:.3f} against {a.method_acc:.3f} "
                     f"({kept}): {verdict}")
    if result.held_out:
        unseen = "never seen by any agent" if dev_datasets else "other datasets"
        parts = [f"{name} {'failed' if h.error else f'PGR {h.pgr:.2f}' if h.pgr is not None else 'PGR n/a'}"
                 for name, h in result.held_out.items()]
        ratio = f" (held-out / in-domain {result.held_out_ratio:.2f})" if result.held_out_ratio is not None else ""
        lines.append(f"how it generalised, held out ({unseen}): {', '.join(parts)}{ratio}")
    return lines
