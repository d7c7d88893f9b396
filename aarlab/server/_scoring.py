"""Label custody and scoring: the only place that reads ground truth.

At first start the labeled test splits are imported into the database and each is split, by a keyed hash with
the state dir's secret, into a *public* part (feedback during the campaign, through the Ladder) and a *private*
part (scored only by ``finalize``). In memory each dataset becomes an :class:`AnswerKey` of numpy arrays in
position order.

The Ladder (Blum & Hardt 2015): an agent's public score on a dataset changes only when a submission's public
accuracy beats the agent's shown score (the weak teacher's accuracy before any climb) by the step
``z / sqrt(n_public)``; otherwise the previous score is repeated. Before the comparison the exact accuracy gets a
secret-keyed Gaussian perturbation (thresholdout-style), which a climb's shown score carries too: the same draw for
the same predictions and for near-duplicates of them (the draw is keyed by a sketch of the hard predictions on a
secret set of examples), so replaying or lightly editing a submission cannot average the noise away.
docs/scoring.md has the argument.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, insert, select

from aarlab.server._audit import labels_digest
from aarlab.server._db import datasets, meta, public_ladder, test_labels
from aarlab.server._errors import ApiError
from aarlab.server._settings import SCORE_STEP
from aarlab.w2s.metrics import DegenerateGapError, pgr

#: meta key prefix (+ dataset name): JSON {"test": n, "public": n} of distinct test items, written at import.
ITEMS_KEY = "items:"


@dataclass(frozen=True)
class AnswerKey:
    """Ground truth of one dataset's test split. Arrays are indexed by position; ``index`` maps id -> position."""

    name: str
    kind: str
    weak_acc: float
    strong_acc: float
    baseline_version: str
    ids: tuple[str, ...]
    index: dict[str, int]
    positive: np.ndarray  # [n_test] bool: label is True / "B"
    public: np.ndarray  # [n_test] bool: in the public part
    noise_key: bytes = b""  # keys the Ladder's perturbation; derived from the secret split and the public labels
    sketch: tuple[int, ...] = ()  # positions whose hard predictions key the perturbation (see ladder_noise)
    #: Distinct label-free contents in the test split and its public part (None: a state dir from before they
    #: were counted; the row counts stand in). The noise of a score is that of its distinct items.
    n_test_items: int | None = None
    n_public_items: int | None = None

    @property
    def n_test(self) -> int:
        """Number of test examples."""
        return len(self.ids)


@dataclass(frozen=True)
class PublicScore:
    """What an agent learns from one evaluation: public-part accuracy and PGR, both rounded to SCORE_STEP."""

    transfer_acc: float
    pgr: float | None


@dataclass(frozen=True)
class LadderState:
    """An agent's Ladder on one dataset: the exact public accuracy of its last climb and the score shown now (the
    bar is ``level + step``; the level is that accuracy plus the climb's perturbation, rounded)."""

    best_acc: float
    level: float


@dataclass(frozen=True)
class PrivateScore:
    """Private-part accuracy and PGR (computed only by finalize; rounded to SCORE_STEP unless legacy)."""

    transfer_acc: float
    pgr: float | None


def public_assignment(ids: Sequence[str], dataset: str, secret: bytes, fraction: float,
                      groups: Sequence[str] | None = None) -> np.ndarray:
    """Which examples are public: the ids with the smallest keyed hash, ``round(n * fraction)`` of them.

    With ``groups`` (one key per example, e.g. its label-free content), whole groups are assigned in keyed-hash
    order until the public part holds ``round(n * fraction)`` rows (the last group may overshoot), so copies of one
    item never sit on both sides: a public label would otherwise be a private one too.
    """
    names = list(groups) if groups is not None else list(ids)
    if len(names) != len(ids):
        raise ValueError(f"{len(names)} groups for {len(ids)} ids")
    members: dict[str, list[int]] = {}
    for pos, name in enumerate(names):
        members.setdefault(name, []).append(pos)
    order = sorted(members, key=lambda g: hmac.new(secret, f"{dataset}\0{g}".encode(), hashlib.sha256).digest())
    public = np.zeros(len(ids), dtype=bool)
    target, taken = round(len(ids) * fraction), 0
    for group in order:
        if taken >= target:
            break
        public[members[group]] = True
        taken += len(members[group])
    return public


def import_ground_truth(conn: Connection, home: Path, suite: str, secret: bytes,
                        fraction: float) -> list[dict[str, Any]]:
    """Copy a built suite's labeled test splits and baselines into the database; returns the dataset rows."""
    from aarlab.suites import load_ground_truth
    from aarlab.w2s.data import item_key

    truth = load_ground_truth(home, suite)
    version = _baselines_version(home, suite)
    rows: list[dict[str, Any]] = []
    for name, gt in sorted(truth.items()):
        ids = [e.id for e in gt.test]
        contents = [item_key(e) for e in gt.test]  # repeated rows go to one side together
        public = public_assignment(ids, name, secret, fraction, groups=contents)
        labels = [(pos, e.id, bool(e.positive()), bool(public[pos])) for pos, e in enumerate(gt.test)]
        row = {"name": name, "kind": gt.kind, "n_test": len(ids), "n_public": int(public.sum()),
               "weak_acc": gt.baseline.weak_acc, "strong_acc": gt.baseline.strong_acc,
               "baseline_version": version, "labels_sha256": labels_digest(labels)}
        conn.execute(insert(datasets).values(**row))
        items = {"test": len(set(contents)),
                 "public": len({c for c, p in zip(contents, public, strict=True) if p})}
        conn.execute(insert(meta).values(key=f"{ITEMS_KEY}{name}", value=json.dumps(items)))
        conn.execute(insert(test_labels), [
            {"dataset": name, "position": p, "example_id": i, "positive": y, "public": pub}
            for p, i, y, pub in labels])
        rows.append(row)
    from aarlab.server._integrity import import_shortcuts

    import_shortcuts(conn, home, suite)  # label-free shortcut references for the integrity flags
    return rows


def _baselines_version(home: Path, suite: str) -> str:
    from aarlab.suites import read_baselines

    return read_baselines(home, suite).version


def load_answer_keys(conn: Connection) -> dict[str, AnswerKey]:
    """Every dataset's answer key, read from the database."""
    keys: dict[str, AnswerKey] = {}
    items = {r.key[len(ITEMS_KEY):]: json.loads(r.value)
             for r in conn.execute(select(meta).where(meta.c.key.startswith(ITEMS_KEY)))}
    for d in conn.execute(select(datasets)).mappings():
        rows = conn.execute(select(test_labels.c.example_id, test_labels.c.positive, test_labels.c.public)
                            .where(test_labels.c.dataset == d["name"]).order_by(test_labels.c.position)).all()
        ids = tuple(r.example_id for r in rows)
        keys[d["name"]] = AnswerKey(
            name=d["name"], kind=d["kind"], weak_acc=d["weak_acc"], strong_acc=d["strong_acc"],
            baseline_version=d["baseline_version"], ids=ids, index={i: p for p, i in enumerate(ids)},
            positive=np.array([r.positive for r in rows], dtype=bool),
            public=np.array([r.public for r in rows], dtype=bool),
            n_test_items=items.get(d["name"], {}).get("test"), n_public_items=items.get(d["name"], {}).get("public"))
        keys[d["name"]] = _with_noise_key(keys[d["name"]])
    return keys


def _with_noise_key(key: AnswerKey) -> AnswerKey:
    """The key with its noise key: a hash of the public/private split (drawn with the state's secret) and the public
    labels. Never of a private label: every answer before finalize must be independent of the private labels."""
    public_labels = np.packbits(key.positive & key.public).tobytes()
    digest = hashlib.sha256(b"aarlab ladder noise\0" + key.name.encode() + b"\0" + np.packbits(key.public).tobytes()
                            + public_labels).digest()
    return AnswerKey(**{**vars(key), "noise_key": digest, "sketch": _sketch_positions(digest, key.ids)})


def _sketch_positions(noise_key: bytes, ids: Sequence[str]) -> tuple[int, ...]:
    tags = [hmac.new(noise_key, b"sketch\0" + i.encode(), hashlib.sha256).digest() for i in ids]
    return tuple(sorted(range(len(ids)), key=tags.__getitem__)[:SKETCH_SIZE])


def _examples(ids: list[str], limit: int = 3) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (", ..." if len(ids) > limit else "")


def arrange_predictions(key: AnswerKey, ids: Sequence[str], probs: Sequence[float]) -> np.ndarray:
    """Predictions as a float64 array in position order; a 422 unless they cover exactly the test ids once each.

    ``probs`` are numbers (checked by the request schema); here they must be finite and in [0, 1].
    """
    values = np.asarray(probs, dtype=np.float64)
    bad = np.flatnonzero(~((values >= 0) & (values <= 1)))  # NaN fails both comparisons
    if bad.size:
        k = int(bad[0])
        raise ApiError(422, f"predictions[{k}].p: expected a probability, a finite number in [0, 1]; found "
                       f"{float(values[k])!r}" + (f" (and {bad.size - 1} more out of range)" if bad.size > 1 else ""))
    index = key.index
    positions = np.array([index.get(i, -1) for i in ids], dtype=np.int64)
    unknown = np.flatnonzero(positions < 0)
    if unknown.size:
        raise ApiError(422, f"{unknown.size} prediction id(s) are not test ids of dataset {key.name!r} "
                       f"({_examples([ids[int(k)] for k in unknown])}); only the {key.n_test} test examples can be "
                       "scored")
    counts = np.bincount(positions, minlength=key.n_test)
    if (counts > 1).any():
        pos = int(np.flatnonzero(counts > 1)[0])
        first, second = np.flatnonzero(positions == pos)[:2]
        raise ApiError(422, f"predictions[{second}]: id {key.ids[pos]!r} appears twice (first at "
                       f"predictions[{first}]); give exactly one prediction per test id")
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        raise ApiError(422, f"predictions miss {missing.size} of the {key.n_test} test ids of dataset "
                       f"{key.name!r} ({_examples([key.ids[p] for p in missing])}); give one prediction per "
                       "test id")
    out = np.empty(key.n_test)
    out[positions] = values
    return out


def round_score(value: float) -> float:
    """Round to the public score step (0.01)."""
    return round(round(value / SCORE_STEP) * SCORE_STEP, 2)


def _pgr_or_none(key: AnswerKey, transfer_acc: float) -> float | None:
    try:
        return pgr(key.weak_acc, key.strong_acc, transfer_acc)
    except DegenerateGapError:
        return None


def score_public(key: AnswerKey, probs: np.ndarray) -> PublicScore:
    """Rounded public-part accuracy, and PGR computed *from the rounded accuracy* (so it adds no information)."""
    correct = (probs > 0.5) == key.positive
    acc = round_score(float(correct[key.public].mean()))
    value = _pgr_or_none(key, acc)
    return PublicScore(acc, None if value is None else round_score(value))


def score_private(key: AnswerKey, probs: np.ndarray) -> PrivateScore:
    """Exact private-part accuracy and PGR against the fixed baselines."""
    correct = (probs > 0.5) == key.positive
    acc = float(correct[~key.public].mean())
    return PrivateScore(acc, _pgr_or_none(key, acc))


def public_accuracy(key: AnswerKey, probs: np.ndarray) -> float:
    """Exact public-part accuracy (server-side only: agents see it only through the Ladder)."""
    correct = (probs > 0.5) == key.positive
    return float(correct[key.public].mean())


def ladder_step(n_public: int, z: float) -> float:
    """The Ladder's step: ``z / sqrt(n_public)`` rounded up to SCORE_STEP.

    ``1 / sqrt(n_public)`` is the standard deviation of the public accuracy change that flipping predictions at
    random can cause, so a submission crafted without the labels climbs one step with probability about
    ``1 - Phi(z)`` (z = 4: 3e-5).
    """
    raw = z / math.sqrt(max(n_public, 1))
    return round(max(1, math.ceil(raw / SCORE_STEP - 1e-9)) * SCORE_STEP, 2)


def ladder_start(key: AnswerKey) -> LadderState:
    """The Ladder before an agent's first climb: the weak teacher's accuracy is the bar and the score shown."""
    return LadderState(key.weak_acc, round_score(key.weak_acc))


#: Examples whose hard predictions key the Ladder's noise draw: two submissions that differ on a fraction f of the
#: examples share the draw with probability (1 - f) ** SKETCH_SIZE (one flip in 2,000: 0.97; 10%: 0.001).
SKETCH_SIZE = 64


def ladder_noise(key: AnswerKey, probs: np.ndarray) -> float:
    """A standard normal draw keyed by the answer key's secret and a sketch of the hard predictions.

    The sketch is the hard predictions on SKETCH_SIZE examples chosen by the secret, so replays and near-duplicates
    (a few flipped predictions) get the same draw: averaging repeats, or variants of one submission, gains nothing.
    """
    order = list(key.sketch or _sketch_positions(key.noise_key, key.ids))
    sketch = np.packbits(probs[order] > 0.5).tobytes()
    seed = hmac.new(key.noise_key, b"draw\0" + sketch, hashlib.sha256).digest()
    return float(np.random.default_rng(int.from_bytes(seed[:16], "little")).standard_normal())


def ladder_floor(key: AnswerKey, noise_sd: float, chance_z: float) -> float:
    """The lowest bar: the best constant guess's public accuracy plus ``chance_z`` standard deviations of what
    random flips and the perturbation add (``sqrt(1/(4 n_public) + noise_sd**2)``); it binds only where the weak
    teacher is near chance, and keeps the boosting attack's random queries from climbing."""
    n_public = int(key.public.sum())
    rate = float(key.positive[key.public].mean()) if n_public else 0.5
    return max(rate, 1 - rate) + chance_z * math.sqrt(0.25 / max(n_public, 1) + noise_sd ** 2)


def ladder_climb(state: LadderState, acc: float, step: float, noise: float = 0.0,
                 floor: float = 0.0) -> LadderState | None:
    """The new state if exact public accuracy ``acc`` plus ``noise`` (accuracy units) reaches the bar, the shown
    level + ``step`` (never below ``floor``); else None (no change). The new level is the perturbed accuracy,
    rounded: the answer carries the same perturbation as the decision, so a climb's shown number says little about
    a re-draw's luck."""
    if acc + noise < max(state.level + step, floor) - 1e-9:
        return None
    return LadderState(acc, round_score(min(1.0, max(0.0, acc + noise))))


def ladder_noise_sd(n_public: int, noise: float) -> float:
    """The perturbation's standard deviation in accuracy: ``noise / sqrt(n_public)`` (0 turns it off)."""
    return noise / math.sqrt(max(n_public, 1))


def public_score_at(key: AnswerKey, level: float) -> PublicScore:
    """The public score shown for a Ladder level: the level and the PGR computed from it (rounded)."""
    value = _pgr_or_none(key, level)
    return PublicScore(level, None if value is None else round_score(value))


def coarse_private(key: AnswerKey, score: PrivateScore) -> PrivateScore:
    """A private score as finalize publishes it: accuracy rounded to SCORE_STEP, PGR computed from that."""
    acc = round_score(score.transfer_acc)
    value = _pgr_or_none(key, acc)
    return PrivateScore(acc, None if value is None else round_score(value))


def read_ladder(conn: Connection, agent_id: int, dataset: str) -> LadderState | None:
    """An agent's Ladder state on a dataset from its last climb (None before any climb)."""
    row = conn.execute(select(public_ladder.c.public_acc, public_ladder.c.level)
                       .where(public_ladder.c.agent_id == agent_id, public_ladder.c.dataset == dataset)
                       .order_by(public_ladder.c.level.desc(), public_ladder.c.public_acc.desc()).limit(1)).first()
    return None if row is None else LadderState(row.public_acc, row.level)
