"""An adaptive differential attack on the scoring service's public feedback, within one agent's budget.

The attack is the strongest simple one against rounded scores: binary-search a prefix of flipped predictions
whose public accuracy sits exactly at a rounding boundary, then flip one more example per query; a query whose
rounded score moves reveals that the example is public and has the boundary example's label. Everything it
learns comes from public labels; its guesses on private examples are a function of a transcript that private
labels never influence (``test_attack.py`` checks exactly that).

Run as a script for the figures in docs/scoring.md: ``python -m tests.server.attack``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aarlab.client import ScoringClient, ScoringError


@dataclass
class AttackResult:
    """The attacker's label guesses, which it is sure of, and every score it saw."""

    guesses: dict[str, bool]
    certain: set[str]
    transcript: list[float] = field(default_factory=list)


class _Oracle:
    def __init__(self, client: ScoringClient, dataset: str, ids: list[str], budget: int) -> None:
        self.client, self.dataset, self.ids, self.budget = client, dataset, ids, budget
        self.transcript: list[float] = []

    def score(self, positive: set[str]) -> float | None:
        """Rounded public accuracy of predicting positive exactly for ``positive``; None when out of budget."""
        if len(self.transcript) >= self.budget:
            return None
        try:
            receipt = self.client.submit(self.dataset, {i: 1.0 if i in positive else 0.0 for i in self.ids},
                                         method="attack")
        except ScoringError as err:
            if err.status == 429:
                return None
            raise
        self.transcript.append(receipt.public_transfer_acc)
        return receipt.public_transfer_acc


def _boundary(oracle: _Oracle, order: list[str]) -> tuple[int, float, float] | None:
    """k, r(k), r(k+1) such that flipping order[k] on top of order[:k] moves the rounded score."""
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
    """Spend up to ``budget`` evaluations recovering labels; guesses cover every id."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    oracle = _Oracle(client, dataset, ids, budget)
    found = _boundary(oracle, order)
    if found is None:
        return AttackResult({i: False for i in ids}, set(), oracle.transcript)
    k, at, above = found
    edge_label = above > at  # flipping order[k] to "positive" raised the score: its label is positive
    prefix = set(order[:k])
    majority = oracle.transcript[0] < 0.5  # all-negative predictions score the public negative rate
    guesses = {i: majority for i in ids}
    guesses[order[k]] = edge_label
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
    return AttackResult(guesses, certain, oracle.transcript)


def recovery(result: AttackResult, labels: dict[str, bool], public: dict[str, bool]) -> dict[str, float]:
    """Accuracy of the guesses on the public and private parts, and how far each is above chance."""
    out: dict[str, float] = {}
    for part, want in (("public", True), ("private", False)):
        ids = [i for i in labels if public[i] == want]
        acc = sum(result.guesses[i] == labels[i] for i in ids) / len(ids)
        rate = sum(labels[i] for i in ids) / len(ids)
        out[f"{part}_guess_acc"] = acc
        out[f"{part}_above_chance"] = acc - max(rate, 1 - rate)  # chance: the best constant guess
    out["queries"] = len(result.transcript)
    out["certain_labels"] = len(result.certain)
    return out


def main(n_test: int = 2000, budget: int = 50) -> None:
    """Attack a fresh server on a fake suite of ``n_test`` examples and print what the attack recovered."""
    import tempfile
    import threading
    from pathlib import Path

    from aarlab.server import ServerSettings, add_agent, init_state, listen
    from tests.server.conftest import wait_ready
    from tests.server.fakesuite import SUITE, fake_labels, fake_test_ids, write_fake_suite
    from tests.server.helpers import public_mask

    with tempfile.TemporaryDirectory() as tmp:
        home, state = write_fake_suite(Path(tmp) / "home", n_test), Path(tmp) / "state"
        init_state(state, suite=SUITE, home=home).db.dispose()
        token = add_agent(state, "attacker", budget)
        listener = listen(state, ServerSettings(rate_per_s=1000, rate_burst=1000), port=0)
        thread = threading.Thread(target=listener.run, daemon=True)
        thread.start()
        wait_ready(listener.urls[0])
        try:
            with ScoringClient(listener.urls[0], token) as client:
                result = boundary_attack(client, "math", fake_test_ids(home, "math"), budget + 10)
        finally:
            listener.server.should_exit = True
            thread.join()
        figures = recovery(result, fake_labels(home, "math"), public_mask(state, "math"))
    print(f"n_test={n_test} budget={budget}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                                         for k, v in figures.items()))


if __name__ == "__main__":
    main()
