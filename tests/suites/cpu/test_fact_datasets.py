"""The cpu suite's fact datasets beyond chat (``companies``, ``etymology``): real package data, group-disjoint
splits, answers balanced so that popularity is no cue, and labels that need the build secret."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from aarlab.suites.cpu import build_companies, build_etymology, companies_facts, etymology_facts
from aarlab.suites.cpu._companies import MAX_PER_COUNTRY, SECTORS
from aarlab.suites.cpu._etymology import MAX_PER_LANGUAGE
from aarlab.w2s.data import LABEL_FIELDS, SPLITS, ComparisonExample, Dataset, write_agent_visible

SECRET = "7c" * 32
BUILDS = {"companies": build_companies, "etymology": build_etymology}
FACTS = {"companies": companies_facts, "etymology": etymology_facts}


@pytest.fixture(scope="module", params=sorted(BUILDS))
def built(request: pytest.FixtureRequest) -> tuple[str, Dataset]:
    return request.param, BUILDS[request.param](0, SECRET)


def _right_and_wrong(dataset: Dataset) -> tuple[Counter[str], Counter[str]]:
    rows = [e for s in SPLITS for e in dataset.splits[s]]
    right = Counter(e.first if e.label == "A" else e.second for e in rows)
    wrong = Counter(e.second if e.label == "A" else e.first for e in rows)
    return right, wrong


def test_the_data_comes_from_the_packages_with_the_documented_relations() -> None:
    companies = companies_facts()
    assert Counter(f.relation for f in companies).keys() == {"country", "sector"} and len(companies) > 1500
    assert {f.answer for f in companies if f.relation == "sector"} <= set(SECTORS)
    assert max(Counter(f.answer for f in companies if f.relation == "country").values()) <= MAX_PER_COUNTRY
    words = etymology_facts()
    assert len(words) > 2000 and max(Counter(f.answer for f in words).values()) <= MAX_PER_LANGUAGE
    assert all(f.answer not in dict(f.pool) for f in [*companies, *words])  # the right answer is never a distractor


def test_builds_are_deterministic_need_the_secret_and_keep_groups_in_one_split(built) -> None:
    name, dataset = built
    assert BUILDS[name](0, SECRET).splits == dataset.splits
    assert dataset.splits["test"][0].id == f"{name}-test-00000"
    without = {e.id: e.label for e in BUILDS[name](0).splits["test"]}
    same = [without.get(e.id) == e.label for e in dataset.splits["test"]]
    assert 0.35 < sum(same) / len(same) < 0.65  # the suite file's seed alone labels the test split at chance
    group_of = {f.question: f.group for f in FACTS[name]()}
    groups = {s: {group_of[e.prompt] for e in dataset.splits[s]} for s in SPLITS}
    assert not groups["train_label"] & groups["test"] and not groups["train_unlabel"] & groups["test"]
    assert not groups["train_label"] & groups["train_unlabel"]
    assert len(dataset.splits["test"]) >= 600


def test_popularity_is_no_cue_and_labels_are_balanced(built) -> None:
    _, dataset = built
    right, wrong = _right_and_wrong(dataset)
    for answer, n in right.most_common(3):  # the most frequent right answers are about as frequent as distractors
        assert 0.5 * n < wrong[answer] < 2 * n, answer
    rows = [e for s in SPLITS for e in dataset.splits[s]]
    assert all(isinstance(e, ComparisonExample) and e.first != e.second for e in rows)
    assert 0.4 < sum(e.label == "A" for e in rows) / len(rows) < 0.6


def test_agent_visible_files_carry_no_label_or_relation(built, tmp_path: Path) -> None:
    name, dataset = built
    for path in write_agent_visible(tmp_path / name, dataset):
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert records and not any(LABEL_FIELDS & set(r) or r.get("subset") for r in records), path
