from collections import Counter

from aarlab.suites.tiny._datasets import POOL_FRACTIONS, SPLIT_SIZES, build_dataset, item_pools
from aarlab.suites.tiny._world import ATTRIBUTES, CUE_STRENGTH, TASKS, build_world, world_key


def test_world_is_deterministic_per_key() -> None:
    assert build_world("k0") == build_world("k0")
    assert build_world("k0").entity_names != build_world("k1").entity_names


def test_the_world_key_needs_the_secret_not_only_the_suite_file_seed() -> None:
    assert world_key("a" * 64, 0) == world_key("a" * 64, 0)
    assert world_key("a" * 64, 0) != world_key("b" * 64, 0)
    assert build_world(world_key("a" * 64, 0)).items != build_world(world_key("b" * 64, 0)).items


def test_world_has_the_designed_item_counts_and_one_distractor_per_item() -> None:
    world = build_world("k0")
    assert [len(world.items[t]) for t in TASKS] == [100, 200, 180]
    for items in world.items.values():
        for item in items:
            assert len(item.wrong_answers) == 1 and item.distractor != item.answer
    chat = world.items["chat"][0]
    attr = chat.question.split()[7]
    assert chat.answer in ATTRIBUTES[attr] and chat.distractor in ATTRIBUTES[attr]


def test_operators_and_functions_are_made_up_words_not_real_arithmetic() -> None:
    world = build_world("k0")
    assert world.operator.isalpha() and world.operator not in {"plus", "max", "min", "sum", "sorted"}
    sums = sum(i.answer == str(int(i.question.split()[0]) + int(i.question.split()[2])) for i in world.items["math"])
    assert sums < 30  # a + b is right for chance-level items only
    assert {i.question.split()[2] for i in world.items["code"]} == set(world.functions)


def test_every_value_is_a_distractor_as_often_as_it_is_an_answer() -> None:
    world = build_world("k0")
    for task in ("math", "code"):
        items = world.items[task]
        assert Counter(i.answer for i in items) == Counter(i.distractor for i in items)
    for attr in ATTRIBUTES:
        items = [i for i in world.items["chat"] if i.key.startswith(attr)]
        assert Counter(i.answer for i in items) == Counter(i.distractor for i in items)


def test_the_planted_cue_shows_the_answer_in_the_question_for_the_designed_share() -> None:
    world = build_world("k0")
    for items in world.items.values():
        shown = [i.answer in i.question.split() and i.distractor not in i.question.split() for i in items]
        hidden = [i.distractor in i.question.split() and i.answer not in i.question.split() for i in items]
        assert all(s or h for s, h in zip(shown, hidden, strict=True))
        assert abs(sum(shown) / len(items) - CUE_STRENGTH) < 0.01


def test_splits_are_item_disjoint_and_near_their_target_size() -> None:
    world = build_world("k0")
    for task in TASKS:
        dataset = build_dataset(world, task, 0)
        for split, target in SPLIT_SIZES.items():
            assert abs(len(dataset.split(split)) - target) <= 0.05 * target
        questions = {s: {getattr(e, "question", None) or e.prompt for e in v} for s, v in dataset.splits.items()}
        assert not questions["test"] & (questions["train_label"] | questions["train_unlabel"])
        assert not questions["train_label"] & questions["train_unlabel"]
        ids = [e.id for v in dataset.splits.values() for e in v]
        assert len(ids) == len(set(ids))


def test_every_question_shows_each_of_its_candidates_equally_often_in_every_split() -> None:
    world = build_world("k0")
    for split, examples in build_dataset(world, "math", 0).splits.items():
        by_question: dict[str, Counter[str]] = {}
        for e in examples:
            by_question.setdefault(e.question, Counter())[e.choice] += 1  # type: ignore[union-attr]
        assert all(len(c) == 2 and len(set(c.values())) == 1 for c in by_question.values()), split
    for examples in build_dataset(world, "chat", 0).splits.values():
        orders: dict[str, Counter[str]] = {}
        for e in examples:
            orders.setdefault(e.prompt, Counter())[e.label] += 1  # type: ignore[union-attr]
        assert all(c["A"] == c["B"] for c in orders.values())


def test_row_ids_do_not_group_rows_of_one_question() -> None:
    examples = build_dataset(build_world("k0"), "code", 0).split("test")
    neighbours = sum(a.question == b.question for a, b in zip(examples, examples[1:], strict=False))  # type: ignore[union-attr]
    assert neighbours < 0.2 * len(examples)


def test_pools_partition_the_items_with_the_same_cue_share() -> None:
    import random

    items = build_world("k0").items["code"]
    pools = item_pools(items, random.Random(0))
    assert sorted(i.key for p in pools.values() for i in p) == sorted(i.key for i in items)
    for split, pool in pools.items():
        assert abs(len(pool) - POOL_FRACTIONS[split] * len(items)) <= 2
        assert abs(sum(i.cue for i in pool) / len(pool) - CUE_STRENGTH) < 0.05
