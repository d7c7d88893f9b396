from pathlib import Path

import pytest

from aarlab.w2s.cache import ArtifactCache, cache_key, examples_hash, model_fingerprint
from aarlab.w2s.data import BinaryExample
from aarlab.w2s.train import TrainConfig

_CHANGED = {
    "mode": "full", "epochs": 3, "lr": 2e-4, "batch_size": 8, "warmup_steps": 5, "warmup_frac": 0.2,
    "weight_decay": 0.1, "betas": (0.8, 0.9), "grad_clip": 2.0, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.1,
    "lora_rslora": False, "lora_targets": ["q_proj"], "eval_batch_size": 8, "max_length": 64,
}


def test_every_hyper_parameter_is_covered_by_this_test() -> None:
    assert set(_CHANGED) == set(TrainConfig.model_fields)


@pytest.mark.parametrize("field", sorted(_CHANGED))
def test_changing_any_hyper_parameter_changes_the_key(field: str) -> None:
    base = TrainConfig()
    changed = base.with_overrides(**{field: _CHANGED[field]})
    assert cache_key({"train": base.model_dump(mode="json")}) != cache_key({"train": changed.model_dump(mode="json")})


def test_seed_and_data_changes_change_the_key() -> None:
    a = [BinaryExample(id="1", question="q", choice="c", label=True)]
    b = [BinaryExample(id="1", question="q", choice="c", label=False)]
    assert examples_hash(a) != examples_hash(b)
    assert cache_key({"seed": 0, "data": examples_hash(a)}) != cache_key({"seed": 1, "data": examples_hash(a)})


def test_model_fingerprint_follows_file_content(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    before = model_fingerprint(str(tmp_path))
    (tmp_path / "config.json").write_text('{"x": 1}')
    assert model_fingerprint(str(tmp_path)) != before
    assert model_fingerprint("Qwen/Qwen3-4B-Base") == "hub:Qwen/Qwen3-4B-Base"


def test_cache_round_trip_and_disabled_cache(tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path)
    assert cache.get("weak_teacher", "k") is None
    cache.put("weak_teacher", "k", {"weak_acc": 0.5}, {"seed": 0})
    assert cache.get("weak_teacher", "k") == {"weak_acc": 0.5}
    assert (tmp_path / "weak_teacher" / "k" / "config.json").is_file()
    off = ArtifactCache(None)
    off.put("weak_teacher", "k", {"weak_acc": 0.5}, {})
    assert off.get("weak_teacher", "k") is None
