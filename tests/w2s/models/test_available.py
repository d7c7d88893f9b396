"""Whether a model reference can be loaded, answered before training: local dirs, the hub cache, one hub request."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
from huggingface_hub.errors import RepositoryNotFoundError

from aarlab.w2s.models import is_path_ref, model_problem

REF = "someorg/some-model"


def _cache(root: Path, files: dict[str, str], ref: str = REF) -> Path:
    """A Hugging Face hub cache holding ``files`` as the default revision of ``ref`` (the layout the hub writes)."""
    repo = root / f"models--{ref.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for name, text in files.items():
        (snapshot / name).write_text(text)
    return root


def _no_network(*_a: object, **_k: object) -> None:
    raise AssertionError("the hub was asked although the answer was local")


def test_hub_ids_and_paths_are_told_apart(tmp_path: Path) -> None:
    assert not is_path_ref("Qwen/Qwen3-4B-Base") and not is_path_ref("gpt2")
    assert is_path_ref("./m") and is_path_ref("/abs/m") and is_path_ref("~/m") and is_path_ref("a/b/c")
    assert is_path_ref(str(tmp_path))


def test_a_local_directory_needs_a_config_and_weights(tmp_path: Path) -> None:
    assert "does not exist" in (model_problem(str(tmp_path / "nope")) or "")
    assert "no config.json" in (model_problem(str(tmp_path)) or "")
    (tmp_path / "config.json").write_text("{}")
    assert "no weights" in (model_problem(str(tmp_path)) or "")
    (tmp_path / "model.safetensors").write_text("")
    assert model_problem(str(tmp_path)) is None


def test_a_fully_cached_hub_model_is_available_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "model_info", _no_network)
    cache = _cache(tmp_path, {"config.json": "{}", "model.safetensors": ""})
    assert model_problem(REF, offline=True, cache_dir=cache) is None


def test_an_uncached_hub_model_offline_names_the_model_and_what_to_do(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "model_info", _no_network)
    problem = model_problem(REF, offline=True, cache_dir=tmp_path) or ""
    assert f"model {REF!r} is not in the Hugging Face cache" in problem and "HF_HUB_OFFLINE" in problem
    assert f"hf download {REF}" in problem


def test_a_sharded_model_missing_a_shard_offline_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "model_info", _no_network)
    index = json.dumps({"weight_map": {"a": "model-1.safetensors", "b": "model-2.safetensors"}})
    cache = _cache(tmp_path, {"config.json": "{}", "model.safetensors.index.json": index, "model-1.safetensors": ""})
    problem = model_problem(REF, offline=True, cache_dir=cache) or ""
    assert "only partly" in problem and "model-2.safetensors" in problem
    assert model_problem(REF, offline=False, cache_dir=cache) is None  # online, from_pretrained fetches the rest


def test_online_an_uncached_model_is_looked_up_once_on_the_hub(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(huggingface_hub, "model_info", lambda ref, **_k: asked.append(ref))
    assert model_problem(REF, offline=False, cache_dir=tmp_path) is None and asked == [REF]


def test_online_an_unreachable_hub_is_one_message_with_its_cause(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*_a: object, **_k: object) -> None:
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "model_info", unreachable)
    problem = model_problem(REF, offline=False, cache_dir=tmp_path) or ""
    assert "hub could not be reached (ConnectionError: Name or service not known)" in problem and REF in problem


def test_online_a_model_the_hub_does_not_have_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*_a: object, **_k: object) -> None:
        response = SimpleNamespace(headers={}, request=None)  # what the error reads of a 404 response
        raise RepositoryNotFoundError("404", response=response)  # type: ignore[arg-type]

    monkeypatch.setattr(huggingface_hub, "model_info", missing)
    assert "does not exist on the Hugging Face hub" in (model_problem(REF, offline=False, cache_dir=tmp_path) or "")
