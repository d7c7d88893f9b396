from aarlab.suites.tiny._datasets import CUE_STRENGTH, SPLIT_SIZES, build_dataset, item_pools
from aarlab.suites.tiny._world import ATTRIBUTES, build_world


def test_world_is_deterministic_per_seed() -> None:
    assert build_world(0) == build_world(0)
    assert build_world(0).entity_names != build_world(1).entity_names


def test_world_has_the_designed_item_counts_and_true_answers() -> None:
    world = build_world(0)
    assert [len(world.items[t]) for t in ("math", "code", "chat")] == [100, 200, 180]
    for item in world.items["math"]:
        a, b = (int(x) for x in item.question.split(" + "))
        assert item.answer == str(a + b) and item.answer not in item.wrong_answers
    chat = world.items["chat"][0]
    attr = chat.question.split()[3]
    assert chat.answer in ATTRIBUTES[attr] and chat.answer not in chat.wrong_answers


def test_splits_are_item_disjoint_and_sized() -> None:
    world = build_world(0)
    for task in ("math", "code", "chat"):
        dataset = build_dataset(world, task, 0)
        assert {s: len(v) for s, v in dataset.splits.items()} == SPLIT_SIZES
        questions = {s: {getattr(e, "question", None) or e.prompt for e in v} for s, v in dataset.splits.items()}
        assert not questions["test"] & (questions["train_label"] | questions["train_unlabel"])
        assert not questions["train_label"] & questions["train_unlabel"]
        ids = [e.id for v in dataset.splits.values() for e in v]
        assert len(ids) == len(set(ids))


def test_binary_labels_follow_the_planted_cue() -> None:
    world = build_world(0)
    examples = build_dataset(world, "math", 0).split("train_unlabel")
    cue = [int(e.question.split(" + ")[0]) >= int(e.question.split(" + ")[1]) for e in examples]
    with_cue = [e.label for e, z in zip(examples, cue, strict=True) if z]
    without = [e.label for e, z in zip(examples, cue, strict=True) if not z]
    assert abs(sum(with_cue) / len(with_cue) - CUE_STRENGTH) < 0.06
    assert abs(sum(without) / len(without) - (1 - CUE_STRENGTH)) < 0.06


def test_pools_partition_the_items() -> None:
    import random

    items = build_world(0).items["code"]
    pools = item_pools(items, random.Random(0))
    assert sum(len(p) for p in pools.values()) == len(items)
