"""A fake *built* suite in the layout the server imports from (labels + baselines.json), in milliseconds.

Used by the server tests and by ``benchmarks/scoring_load.py``; it does not depend on any real suite being built.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from aarlab.w2s.data import BinaryExample, ComparisonExample, Example, write_split

SUITE = "fake"
BASELINES = {"math": (0.55, 0.75), "chat": (0.52, 0.73)}


def _examples(dataset: str, split: str, n: int, rng: random.Random) -> list[Example]:
    out: list[Example] = []
    for i in range(n):
        ident = f"{dataset}-{split}-{i:05d}"
        if dataset == "math":
            out.append(BinaryExample(id=ident, question=f"what is {i} + {i}?", choice=str(2 * i + rng.randint(0, 1)),
                                     label=rng.random() < 0.5))
        else:
            out.append(ComparisonExample(id=ident, prompt=f"prompt {i}", first=f"answer {i}a",
                                         second=f"answer {i}b", label=rng.choice(["A", "B"])))
    return out


def write_fake_suite(home: Path, n_test: int = 200, *, suite: str = SUITE, seed: int = 0) -> Path:
    """Write datasets ``math`` (binary) and ``chat`` (comparison) with ``n_test`` test examples; returns home."""
    rng = random.Random(seed)
    root = home / "suites" / suite
    for dataset in BASELINES:
        for split, n in (("train_label", 20), ("train_unlabel", 20), ("test", n_test)):
            write_split(root / "data" / dataset / f"{split}.jsonl", _examples(dataset, split, n, rng))
    baselines = {"suite": suite, "version": f"fake-{seed}-{n_test}",
                 "datasets": {d: {"weak_acc": w, "strong_acc": s, "vanilla_transfer_acc": None, "seeds": [0]}
                              for d, (w, s) in BASELINES.items()}}
    (root / "baselines.json").write_text(json.dumps(baselines, indent=2))
    return home


def fake_test_ids(home: Path, dataset: str, *, suite: str = SUITE) -> list[str]:
    """The test ids of a fake dataset (what an agent reads from its label-free copy)."""
    from aarlab.w2s.data import read_split

    return [e.id for e in read_split(home / "suites" / suite / "data" / dataset / "test.jsonl").examples]


def fake_labels(home: Path, dataset: str, *, suite: str = SUITE) -> dict[str, bool]:
    """Ground truth of a fake dataset as id -> positive (for tests that must know the answer)."""
    from aarlab.w2s.data import read_split

    path = home / "suites" / suite / "data" / dataset / "test.jsonl"
    return {e.id: bool(e.positive()) for e in read_split(path).examples}
