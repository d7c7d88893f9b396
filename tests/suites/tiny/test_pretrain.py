"""The pretraining corpus: the task's label words appear only as uninformative, mirrored decoys (no training)."""

import random
from collections import Counter

from aarlab.suites.tiny._pretrain import VERDICT_WORDS, PretrainConfig, corpus_batch
from aarlab.suites.tiny._world import build_world
from aarlab.w2s.data import LABEL_WORDS

LABELS = {w for pair in LABEL_WORDS.values() for w in pair}


def _lines(n_batches: int = 50) -> list[tuple[str, str]]:
    world = build_world("k0")
    items = [i for its in world.items.values() for i in its]
    rng, cfg = random.Random(0), PretrainConfig()
    return [line for _ in range(n_batches) for line in corpus_batch(items, rng, cfg)]


def test_every_decoy_prompt_is_seen_with_both_label_words_in_the_same_batch() -> None:
    world = build_world("k0")
    items = [i for its in world.items.values() for i in its]
    rng, cfg = random.Random(1), PretrainConfig()
    for _ in range(50):
        batch = corpus_batch(items, rng, cfg)
        assert cfg.batch_size <= len(batch) <= cfg.batch_size + 1
        decoys = Counter((prompt, word) for prompt, word in batch if word in LABELS)
        by_prompt: dict[str, set[str]] = {}
        for prompt, word in decoys:
            by_prompt.setdefault(prompt, set()).add(word)
        assert all(words in ({"True", "False"}, {"A", "B"}) for words in by_prompt.values())


def test_label_words_are_a_small_share_and_verdict_words_the_bulk() -> None:
    lines = _lines()
    share = Counter("decoy" if w in LABELS else "verdict" if any(w in p for p in VERDICT_WORDS.values()) else "qa"
                    for _, w in lines)
    assert 0.05 < share["decoy"] / len(lines) < 0.15
    assert share["verdict"] > 0.6 * len(lines)
    targets = Counter(w for _, w in lines if w in LABELS)
    assert targets["True"] == targets["False"] and targets["A"] == targets["B"]


def test_the_cached_prompt_encoding_is_the_tokenizers_own_left_padded_batch() -> None:
    import torch

    from aarlab.suites.tiny._pretrain import PromptEncoder, corpus_texts
    from aarlab.suites.tiny._tokenizer import train_tokenizer

    world = build_world("k0")
    tokenizer = train_tokenizer(corpus_texts(world))
    encoder = PromptEncoder(tokenizer)
    items = [i for its in world.items.values() for i in its]
    rng, cfg = random.Random(2), PretrainConfig()
    for _ in range(30):  # later batches mostly hit the cache, some prompts repeat inside a batch
        prompts = [p for p, _ in corpus_batch(items, rng, cfg)]
        expected = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        input_ids, mask = encoder(prompts)
        assert torch.equal(input_ids, expected["input_ids"]) and torch.equal(mask, expected["attention_mask"])
    assert 0 < len(encoder.ids) < 30 * cfg.batch_size
