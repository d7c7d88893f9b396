"""The cpu suite's dataset builders: deterministic, group-disjoint splits, prior-matched distractors, no leakage."""

import json
from collections import Counter
from pathlib import Path

import pytest

from aarlab.suites.cpu import build_chat, build_math, chat_facts
from aarlab.suites.cpu._splits import split_by_group
from aarlab.w2s.data import LABEL_FIELDS, SPLITS, BinaryExample, ComparisonExample, load_dataset, write_agent_visible


@pytest.fixture(scope="module")
def chat():
    return build_chat(0)


@pytest.fixture(scope="module")
def math():
    return build_math(0)


def test_builds_are_deterministic_and_ids_are_stable(chat, math) -> None:
    assert build_chat(0).splits == chat.splits and build_math(0).splits == math.splits
    assert chat.splits["test"][0].id == "chat-test-00000"
    assert build_math(1).splits != math.splits


@pytest.mark.parametrize(("name", "key"), [("chat", lambda e: e.prompt), ("math", lambda e: e.question)])
def test_no_question_crosses_splits(chat, math, name: str, key) -> None:
    dataset = {"chat": chat, "math": math}[name]
    seen = {split: {key(e) for e in dataset.splits[split]} for split in SPLITS}
    assert not seen["train_label"] & seen["train_unlabel"]
    assert not (seen["train_label"] | seen["train_unlabel"]) & seen["test"]


def test_chat_keeps_all_questions_about_one_country_in_one_split(chat) -> None:
    country_of = {f.question: f.group for f in chat_facts()}
    groups = {s: {country_of[e.prompt] for e in chat.splits[s]} for s in SPLITS}
    assert not groups["train_label"] & groups["test"] and not groups["train_unlabel"] & groups["test"]


def test_chat_distractors_are_prior_matched(chat) -> None:
    examples = [e for s in SPLITS for e in chat.splits[s] if e.subset == "city_country"]
    right = Counter(e.first if e.label == "A" else e.second for e in examples)
    wrong = Counter(e.second if e.label == "A" else e.first for e in examples)
    # the most frequent correct answer (China) is also among the most frequent distractors: popularity is no cue
    top = right.most_common(1)[0][0]
    assert wrong[top] > 0.5 * right[top]
    assert all(isinstance(e, ComparisonExample) and e.first != e.second for e in examples)


def test_labels_are_balanced_and_math_answers_are_right_exactly_when_labeled_true(chat, math) -> None:
    for dataset in (chat, math):
        positives = [bool(e.positive()) for s in SPLITS for e in dataset.splits[s]]
        assert 0.4 < sum(positives) / len(positives) < 0.6
    for e in (e for s in SPLITS for e in math.splits[s]):
        assert isinstance(e, BinaryExample)
        value = eval(e.question.removeprefix("What is ").removesuffix("?"))  # noqa: S307 - our own arithmetic
        assert (int(e.choice) == value) == e.label


def test_agent_visible_files_carry_no_label_field(chat, math, tmp_path: Path) -> None:
    for dataset in (chat, math):
        for path in write_agent_visible(tmp_path / dataset.name, dataset):
            records = [json.loads(line) for line in path.read_text().splitlines()]
            assert records and not any(LABEL_FIELDS & set(r) for r in records), path
            assert not any(r.get("subset") for r in records)  # the relation/family is metadata, removed too
        assert not (tmp_path / dataset.name / "train_label.jsonl").exists()


def test_written_datasets_load_back(chat, tmp_path: Path) -> None:
    from aarlab.w2s.data import write_dataset

    write_dataset(tmp_path / "chat", chat)
    assert load_dataset(tmp_path / "chat").splits == chat.splits


def test_group_splits_fill_in_order_and_refuse_too_few_items() -> None:
    import random

    items = [f"g{i // 2}-{i}" for i in range(20)]
    out = split_by_group(items, lambda s: s.split("-")[0], {"a": 6, "b": 6, "c": 4}, random.Random(0))
    assert [len(out[k]) for k in "ab"] == [6, 6] and len(out["c"]) == 8
    with pytest.raises(ValueError, match="cannot fill"):
        split_by_group(items, lambda s: s, {"a": 30}, random.Random(0))


def test_math_wrong_answers_are_prior_matched_within_their_family(math) -> None:
    rows = [e for s in SPLITS for e in math.splits[s]]
    right: dict[str, set[str]] = {}
    for e in rows:
        value = str(eval(e.question.removeprefix("What is ").removesuffix("?")))  # noqa: S307 - our own arithmetic
        right.setdefault(e.subset, set()).add(value)
    for e in rows:
        assert e.choice in right[e.subset]  # a wrong answer is some other expression's value: no magnitude cue
