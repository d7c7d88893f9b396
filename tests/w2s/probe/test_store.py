"""Probe-lane feature cache: keys cover everything that changes the numbers; entries come back memory-mapped."""

from pathlib import Path

import numpy as np

from aarlab.w2s.probe import FeatureStore, feature_key

READING = {"model": "dir:abc", "kind": "causal_lm", "layer": 9, "pooling": "last", "dtype": "float32",
           "chat_template": False, "max_length": 256}


def test_feature_keys_change_with_model_layer_pooling_and_texts() -> None:
    base, _ = feature_key(READING, ["a", "b"])
    assert feature_key(dict(READING), ["a", "b"])[0] == base
    for change in ({"model": "dir:other"}, {"layer": 12}, {"pooling": "mean"}, {"kind": "encoder"},
                   {"max_length": 128}, {"dtype": "bfloat16"}, {"chat_template": True}):
        assert feature_key({**READING, **change}, ["a", "b"])[0] != base, change
    assert feature_key(READING, ["b", "a"])[0] != base
    assert feature_key(READING, ["a", "b", "c"])[0] != base
    assert feature_key(READING, ["ab"])[0] != feature_key(READING, ["a", "b"])[0]


def test_a_stored_matrix_comes_back_memory_mapped_with_its_metadata(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)
    key, parts = feature_key(READING, ["x", "y"])
    assert store.get(key) is None
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    store.put(key, matrix, parts)
    again = FeatureStore(tmp_path).get(key)
    assert isinstance(again, np.memmap) and np.array_equal(again, matrix)
    assert '"layer": 9' in (tmp_path / key / "meta.json").read_text()


def test_a_store_without_a_root_keeps_nothing() -> None:
    store = FeatureStore(None)
    key, parts = feature_key(READING, ["x"])
    assert store.put(key, np.ones((1, 2), dtype=np.float32), parts).shape == (1, 2)
    assert store.get(key) is None
