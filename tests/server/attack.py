"""Differential attacks on the scoring service's score channel, within the agents' budgets.

Used by ``tests/server/test_attack.py`` and ``benchmarks/label_leak.py``. Every attack returns an
:class:`AttackResult`: the labels it guesses where it has evidence, its default guess elsewhere (what it would
answer knowing nothing, so "labels recovered" counts only what the score channel taught it), and what it saw.

* :func:`boundary_attack`: binary-search a prefix of flipped predictions to a score boundary, then flip one
  example per query; a moved score reveals one label (the strongest attack on plain rounding).
* :func:`boosting_attack`: random perturbations of a base; every query whose score rose marks its perturbation as
  better than chance (Blum & Hardt's boosting attack on leaderboards).
* :func:`sweep_attack`: an attacker with a real model sits just under the Ladder's bar (the weak teacher's
  accuracy + one step, then its last climb + one step) by degrading its model, and sweeps up with fresh random
  perturbations until one climbs, then repositions under the next bar while its model can reach it.
* :func:`private_attack`: after finalize, read every private score an agent token can reach (leaderboard rows,
  receipts) for crafted one-flip submissions under distinct method names.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from aarlab.client import ScoringClient, ScoringError


@dataclass
class AttackResult:
    """The attacker's label guesses where it has evidence, its default elsewhere, and every score it saw."""

    guesses: dict[str, bool]
    default: dict[str, bool] | bool
    certain: set[str] = field(default_factory=set)
    transcript: list[float] = field(default_factory=list)
    submissions: int = 0

    def guess(self, example_id: str) -> bool:
        """The attacker's final guess for one example."""
        return self.guesses.get(example_id, self.prior(example_id))

    def prior(self, example_id: str) -> bool:
        """What the attacker would guess without the score channel."""
        return self.default if isinstance(self.default, bool) else self.default[example_id]


class Oracle:
    """One agent's view of the score channel: submit a set of ids predicted positive, get the public score."""

    def __init__(self, client: ScoringClient, dataset: str, ids: list[str], budget: int) -> None:
        self.client, self.dataset, self.ids, self.budget = client, dataset, ids, budget
        self.transcript: list[float] = []

    def score(self, positive: set[str], method: str = "attack") -> float | None:
        """Public score of predicting positive exactly for ``positive``; None when out of budget."""
        if len(self.transcript) >= self.budget:
            return None
        try:
            receipt = self.client.submit(self.dataset, {i: 1.0 if i in positive else 0.0 for i in self.ids},
                                         method=method)
        except ScoringError as err:
            if err.status == 429:
                return None
            raise
        self.transcript.append(receipt.public_transfer_acc)
        return receipt.public_transfer_acc


def _boundary(oracle: Oracle, order: list[str]) -> tuple[int, float, float] | None:
    """k, r(k), r(k+1) such that flipping order[k] on top of order[:k] moves the score."""
    n = len(order)
    base = oracle.score(set())
    if base is None:
        return None
    lo, hi, high = 0, None, None
    for k in (n, n // 2, n // 4, 3 * n // 4):
        value = oracle.score(set(order[:k]))
        if value is None:
            return None
        if value != base:
            hi, high = k, value
            break
    if hi is None:
        return None
    while hi - lo > 1:  # invariant: r(lo) == base != r(hi)
        mid = (lo + hi) // 2
        value = oracle.score(set(order[:mid]))
        if value is None:
            return None
        if value == base:
            lo = mid
        else:
            hi, high = mid, value
    return lo, base, high


def boundary_attack(client: ScoringClient, dataset: str, ids: list[str], budget: int, seed: int = 0) -> AttackResult:
    """Spend up to ``budget`` evaluations locating a score boundary, then test one example per query."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    oracle = Oracle(client, dataset, ids, budget)
    found = _boundary(oracle, order)
    if found is None:
        return AttackResult({}, False, set(), oracle.transcript, len(oracle.transcript))
    k, at, above = found
    edge_label = above > at  # flipping order[k] to "positive" raised the score: its label is positive
    prefix = set(order[:k])
    if oracle.score(prefix) != at:  # the channel has state (the Ladder climbed): a moved score names no example
        return AttackResult({}, False, set(), oracle.transcript, len(oracle.transcript))
    guesses = {order[k]: edge_label}
    certain = {order[k]}
    for candidate in order[k + 1:]:
        value = oracle.score(prefix | {candidate})
        if value is None:
            break
        if value != at:
            guesses[candidate] = edge_label
            certain.add(candidate)
        else:  # private, or public with the other label: the other label is the better guess
            guesses[candidate] = not edge_label
    return AttackResult(guesses, False, certain, oracle.transcript, len(oracle.transcript))


def _vote(votes: Counter[str], flipped: Iterable[str], query: set[str], sign: int) -> None:
    for i in flipped:
        votes[i] += sign if i in query else -sign


def boosting_attack(client: ScoringClient, dataset: str, ids: list[str], budget: int, seed: int = 0, *,
                    base: set[str] | None = None, free: list[str] | None = None,
                    votes: Counter[str] | None = None) -> AttackResult:
    """Random re-draws of the ``free`` ids (all by default) around ``base``; a query that raised the score votes
    for its predictions on the ids it re-drew, and becomes the new base (``votes`` may be shared by colluders)."""
    rng = random.Random(seed)
    free = list(ids) if free is None else free
    current = set(base or ())
    oracle = Oracle(client, dataset, ids, budget)
    best = oracle.score(current)
    votes = Counter() if votes is None else votes
    while best is not None:
        drawn = {i for i in free if rng.random() < 0.5}
        query = (current - set(free)) | drawn
        value = oracle.score(query)
        if value is None:
            break
        if value > best:
            _vote(votes, free, query, +1)
            best, current = value, query
    guesses = {i: v > 0 for i, v in votes.items() if v != 0}
    default = {i: i in (base or ()) for i in ids}
    return AttackResult(guesses, default, set(), oracle.transcript, len(oracle.transcript))


def sweep_attack(client: ScoringClient, dataset: str, ids: list[str], budget: int, seed: int = 0, *,
                 model: dict[str, bool], confident: list[str], model_acc: float, weak: float, step: float,
                 n_public: int, noise_sd: float = 0.0, first_bar: float | None = None,
                 votes: Counter[str] | None = None) -> AttackResult:
    """An attacker whose model's expected public accuracy ``model_acc`` is above the Ladder's bar degrades it
    (flipping confident predictions) to sit ~2.5 spreads under the bar, then lowers the degradation a quarter
    spread per query, re-drawing every unconfident prediction each time. A query that climbs votes for its
    re-drawn predictions (against them if its shown score is below the query's expected accuracy), and the
    attacker repositions under the next bar (shown level + ``step``) while its model can still reach it. The
    spread is the standard deviation of a query's public accuracy around its expectation: the re-draws' and the
    server's noise (``noise_sd``, public in the settings); ``first_bar`` is the first bar where the server's floor
    (chance + 4 sd) is above ``weak + step``."""
    rng = random.Random(seed)
    conf = list(confident)
    rng.shuffle(conf)
    free = [i for i in ids if i not in set(confident)]
    base = {i for i in conf if model[i]}
    share = n_public / len(ids)
    spread = ((len(free) * share) ** 0.5 / 2 / n_public) ** 2 + noise_sd ** 2
    spread = max(spread ** 0.5, 0.5 / n_public)
    level, bar = round(weak, 2), weak + step if first_bar is None else first_bar
    target = bar - 2.5 * spread
    oracle = Oracle(client, dataset, ids, budget)
    votes = Counter() if votes is None else votes
    while True:
        # Flipping one confident prediction costs 1/len(ids) of expected public accuracy.
        k = max(0, min(len(conf), round(len(ids) * (model_acc - target))))
        drawn = {i for i in free if rng.random() < 0.5}
        query = (base ^ set(conf[:k])) | drawn
        value = oracle.score(query)
        if value is None:
            break
        if value > level:  # a climb: this query's re-draws were right more often than chance...
            expected = model_acc - k / len(ids)  # ...unless the shown score (perturbed) says they were unlucky
            _vote(votes, free, query, +1 if value + 0.005 >= expected else -1)
            level, bar = value, value + step
            target = bar - 2.5 * spread
        else:
            target += spread / 4
    guesses = {i: v > 0 for i, v in votes.items() if v != 0}
    return AttackResult(guesses, dict(model), set(), oracle.transcript, len(oracle.transcript))


def private_attack(client: ScoringClient, dataset: str, ids: list[str], budget: int, seed: int = 0) -> list[str]:
    """Before finalize: a base submission and one-flip variants under distinct method names (so each would get
    its own final row). Returns the flipped ids in order; :func:`read_private` interprets them after finalize."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    oracle = Oracle(client, dataset, ids, budget)
    oracle.score(set(), method="probe-base")
    probes = []
    for k, candidate in enumerate(order[: budget - 1]):
        if oracle.score({candidate}, method=f"probe-{k}") is None:
            break
        probes.append(candidate)
    return probes


def read_private(client: ScoringClient, dataset: str, probes: list[str]) -> AttackResult:
    """After finalize: every private score the agent's token can read, turned into labels by differencing."""
    seen: dict[str, float] = {}
    for row in client.leaderboard().rows:
        if row.dataset == dataset and row.private_transfer_acc is not None:
            seen[row.method] = row.private_transfer_acc
    for receipt in client.submissions():  # a receipt never carries a private score; any field that did is read
        extra = receipt.model_dump()
        if receipt.dataset == dataset and extra.get("private_transfer_acc") is not None:
            seen.setdefault(receipt.method, extra["private_transfer_acc"])
    base = seen.get("probe-base")
    guesses, certain = {}, set()
    for k, candidate in enumerate(probes):
        value = seen.get(f"probe-{k}")
        if base is None or value is None or value == base:
            continue
        guesses[candidate] = value > base  # predicting it positive raised the private accuracy: it is positive
        certain.add(candidate)
    return AttackResult(guesses, False, certain, sorted(seen.values()), len(probes) + 1)


def recovery(result: AttackResult, labels: dict[str, bool], public: dict[str, bool],
             submissions: int | None = None) -> dict[str, float]:
    """Labels the score channel taught the attacker, per part: correct guesses minus those of its own default
    guess on the same examples, and per submission; plus how many labels it is certain of and its guess accuracy
    above the best constant guess."""
    spent = submissions if submissions is not None else result.submissions
    out: dict[str, float] = {"submissions": float(spent)}
    for part, want in (("public", True), ("private", False)):
        ids = [i for i in labels if public[i] == want]
        learnt = sum((result.guess(i) == labels[i]) - (result.prior(i) == labels[i]) for i in ids)
        rate = sum(labels[i] for i in ids) / len(ids)
        acc = sum(result.guess(i) == labels[i] for i in ids) / len(ids)
        out[f"{part}_learnt"] = float(learnt)
        out[f"{part}_per_submission"] = learnt / max(spent, 1)
        out[f"{part}_certain"] = float(sum(public[i] == want for i in result.certain))
        out[f"{part}_guess_acc"] = acc
        out[f"{part}_above_chance"] = acc - max(rate, 1 - rate)
    return out
