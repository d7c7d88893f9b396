"""The Ladder's answer to one submission, its information budget, and the settings record that lets
``audit verify`` replay every answer.

:mod:`aarlab.server._scoring` holds the pieces (step, keyed perturbation, floor, climb); this module composes
them the one way the submission route and the audit replay both use:

* :class:`LadderRules`: the scoring settings an answer depends on. The server appends a ``scoring.settings``
  audit record at start whenever they differ from the last one recorded, so the chain says which rules scored
  each submission.
* :class:`LadderQuery`: what a submission's predictions give (exact public accuracy, its keyed perturbation),
  computed outside the writer's transaction.
* :func:`ladder_answer`: the climb (or not), the level shown and the information budget after it.

The information budget (docs/scoring.md): each answer is charged :func:`ladder_charge` bits, what it can carry
about the public labels; once the total would pass ``ladder_bits`` the agent's public score on the dataset
freezes for good.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, insert, select, update

from aarlab.server._db import audit_log, audit_payloads, ladder_budget
from aarlab.server._scoring import (
    AnswerKey,
    LadderState,
    ladder_climb,
    ladder_floor,
    ladder_noise,
    ladder_noise_sd,
    ladder_start,
    ladder_step,
    public_accuracy,
    public_score_at,
    score_public,
)
from aarlab.server._settings import SCORE_STEP
from aarlab.server._state import ADMIN_NAME

if TYPE_CHECKING:
    from aarlab.server._writer import Change

#: The audit action that records the scoring rules in force from its record on.
SETTINGS_ACTION = "scoring.settings"


@dataclass(frozen=True)
class LadderRules:
    """The settings a public answer depends on (``ServerSettings`` fields of the same names)."""

    public_feedback: str
    ladder_z: float
    ladder_noise: float
    ladder_chance_z: float
    ladder_bits: float | None

    @classmethod
    def of(cls, settings: Any) -> LadderRules:
        """The rules of a ``ServerSettings`` (or of a recorded payload, a mapping with the same keys)."""
        values: dict[str, Any] = settings if isinstance(settings, dict) else {
            k: getattr(settings, k) for k in ("public_feedback", "ladder_z", "ladder_noise", "ladder_chance_z",
                                               "ladder_bits")}
        get = values.__getitem__
        bits = get("ladder_bits")
        return cls(str(get("public_feedback")), float(get("ladder_z")), float(get("ladder_noise")),
                   float(get("ladder_chance_z")), None if bits is None else float(bits))

    def payload(self) -> dict[str, Any]:
        """The ``scoring.settings`` record's payload."""
        return asdict(self)


#: Gauss-Hermite nodes and weights (probabilists' form) for the expectation in :func:`ladder_charge`.
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(32)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def _entropy_bits(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-300, 1.0)
    q = np.clip(1.0 - p, 1e-300, 1.0)
    return -(p * np.log2(p) + q * np.log2(q))


def _phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def ladder_charge(acc: float, bar: float, noise_sd: float, n_public: int, *, climbed: bool) -> float:
    """Bits about the public labels that one Ladder answer can carry, for an attacker who knows nothing about the
    labels it varies (its uncertainty about a query's accuracy is at most ``tau = 0.5 / sqrt(n_public)``).

    The answer is a climb bit and, on a climb, a level. Modelling the attacker's belief about the query's exact
    accuracy as N(acc, tau^2), the bit carries ``H(E[p]) - E[H(p)]`` with ``p = Phi((a - bar) / noise_sd)``: about
    0 far from the bar either way (an honest model clearly better, or clearly not), most near it (where the sweep
    and boundary attacks sit). A climb's level (accuracy + perturbation, rounded to SCORE_STEP) adds the capacity of
    a Gaussian channel, ``0.5 log2(1 + tau^2 / (noise_sd^2 + SCORE_STEP^2 / 12))``.
    """
    tau = 0.5 / math.sqrt(max(n_public, 1))
    nodes = acc + tau * _GH_NODES
    p = _phi((nodes - bar) / noise_sd) if noise_sd > 0 else (nodes >= bar - 1e-9).astype(float)
    bits = float(_entropy_bits(np.array([float(p @ _GH_WEIGHTS)]))[0] - _entropy_bits(p) @ _GH_WEIGHTS)
    if climbed:
        bits += 0.5 * math.log2(1.0 + tau ** 2 / (noise_sd ** 2 + SCORE_STEP ** 2 / 12))
    return max(0.0, bits)


@dataclass(frozen=True)
class LadderBudget:
    """What an agent has learnt from the Ladder on a dataset (bits) and the submission that froze it, if any."""

    bits: float = 0.0
    frozen_by: str | None = None


def read_ladder_budget(conn: Connection, agent_id: int, dataset: str) -> LadderBudget:
    """An agent's Ladder information budget on a dataset (zero and unfrozen before its first submission)."""
    row = conn.execute(select(ladder_budget.c.bits, ladder_budget.c.frozen_by)
                       .where(ladder_budget.c.agent_id == agent_id, ladder_budget.c.dataset == dataset)).first()
    return LadderBudget() if row is None else LadderBudget(row.bits, row.frozen_by)


def write_ladder_budget(conn: Connection, agent_id: int, dataset: str, before: LadderBudget,
                        after: LadderBudget) -> None:
    """Store ``after`` (insert on an agent's first submission on the dataset, else update)."""
    values = {"bits": after.bits, "frozen_by": after.frozen_by}
    if before == LadderBudget() and conn.execute(select(ladder_budget.c.bits).where(
            ladder_budget.c.agent_id == agent_id, ladder_budget.c.dataset == dataset)).first() is None:
        conn.execute(insert(ladder_budget).values(agent_id=agent_id, dataset=dataset, **values))
    else:
        conn.execute(update(ladder_budget).where(ladder_budget.c.agent_id == agent_id,
                                                 ladder_budget.c.dataset == dataset).values(**values))


@dataclass(frozen=True)
class LadderQuery:
    """A submission's predictions as the Ladder reads them: exact public accuracy, its keyed perturbation in
    accuracy units, and the dataset's step, perturbation scale and floor under the rules."""

    acc: float
    noise: float
    step: float
    noise_sd: float
    floor: float
    #: Distinct public items (public rows where the state did not count items): the labels an answer can carry
    #: information about. Repeated rows share one label, so counting rows would undercharge.
    n_public: int

    @classmethod
    def of(cls, key: AnswerKey, probs: np.ndarray, rules: LadderRules) -> LadderQuery:
        """Read ``probs`` (position order) against ``key`` under ``rules``."""
        n_public = int(key.public.sum())
        sd = ladder_noise_sd(n_public, rules.ladder_noise)
        return cls(public_accuracy(key, probs), ladder_noise(key, probs) * sd, ladder_step(n_public, rules.ladder_z),
                   sd, ladder_floor(key, sd, rules.ladder_chance_z), key.n_public_items or n_public)


@dataclass(frozen=True)
class LadderAnswer:
    """What one submission gets: the level shown, the climb it made (None: none) and the budget after it."""

    transfer_acc: float
    pgr: float | None
    climbed: LadderState | None = None
    budget: LadderBudget | None = None  # None: the rules have no Ladder (legacy, none)

    @property
    def frozen(self) -> bool:
        """The agent's public score on the dataset is frozen (its information budget is spent)."""
        return self.budget is not None and self.budget.frozen_by is not None


def ladder_answer(key: AnswerKey, probs: np.ndarray, query: LadderQuery, rules: LadderRules, state: LadderState | None,
                  spent: LadderBudget, submission_id: str) -> LadderAnswer:
    """The public answer to ``probs`` for an agent whose Ladder is ``state`` (None before any climb) with ``spent``
    of its information budget; ``submission_id`` is this submission's (named if it freezes the budget)."""
    if rules.public_feedback == "legacy":
        score = score_public(key, probs)
        return LadderAnswer(score.transfer_acc, score.pgr)
    if rules.public_feedback == "none":  # every receipt shows the weak teacher's accuracy
        score = public_score_at(key, ladder_start(key).level)
        return LadderAnswer(score.transfer_acc, score.pgr)
    state = state or ladder_start(key)
    climbed, charged = None, spent
    if spent.frozen_by is None:
        climbed = ladder_climb(state, query.acc, query.step, query.noise, query.floor)
        bar = max(state.level + query.step, query.floor)
        charged = LadderBudget(spent.bits + ladder_charge(query.acc, bar, query.noise_sd, query.n_public,
                                                          climbed=climbed is not None))
        if rules.ladder_bits is not None and charged.bits > rules.ladder_bits:  # would pass the budget: freeze
            climbed, charged = None, LadderBudget(spent.bits, submission_id)
    score = public_score_at(key, (climbed or state).level)
    return LadderAnswer(score.transfer_acc, score.pgr, climbed, charged)


def record_rules(rules: LadderRules) -> Callable[[Change], None]:
    """A change that appends a ``scoring.settings`` record when ``rules`` differ from the last one recorded
    (the server applies it at start, before any submission is scored under them)."""

    def apply(change: Change) -> None:
        last = change.conn.execute(
            select(audit_payloads.c.payload).join(audit_log, audit_log.c.seq == audit_payloads.c.seq)
            .where(audit_log.c.action == SETTINGS_ACTION).order_by(audit_log.c.seq.desc()).limit(1)).scalar()
        if last is None or json.loads(last) != rules.payload():
            change.audit(ADMIN_NAME, SETTINGS_ACTION, rules.payload())

    return apply
