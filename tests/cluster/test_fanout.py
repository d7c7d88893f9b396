"""The node side of an experiment's fan-out, without Ray: its spec, its failures and the feature cache it keeps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aarlab.cluster._fanout import (
    FANOUT_ENV,
    ExperimentJob,
    FanoutSpec,
    JobResult,
    _copy_cache,
    pack_workspace,
    run_job,
)


def _spec(tmp_path: Path, storage: Path) -> FanoutSpec:
    return FanoutSpec(address="10.0.0.5:6379", storage_url=storage.as_uri(), campaign_id="c1", suite="tiny",
                      request={"CPU": 2.0, "node_b": 1.0}, threads=2, node_dir=str(tmp_path / "node"))


def test_the_spec_travels_through_the_environment_and_a_bad_one_is_named(tmp_path: Path) -> None:
    spec = _spec(tmp_path, tmp_path / "s")
    assert FanoutSpec.from_env(spec.to_env()) == spec
    for bad in ("{", "[]", '{"address": "x"}'):
        with pytest.raises(ValueError, match=FANOUT_ENV):
            FanoutSpec.from_env(bad)


def test_a_job_whose_inputs_are_not_in_the_storage_fails_with_the_reason(tmp_path: Path) -> None:
    job = ExperimentJob(agent="a1", dataset="math", method="vanilla", seed=0, out="predictions/x.jsonl")
    archive, _ = pack_workspace(tmp_path)
    result = run_job(_spec(tmp_path, tmp_path / "missing"), job, archive, node="n1")
    assert not result.ok and result.node == "n1" and result.error is not None
    assert "no visible data" in result.error and "was the campaign published?" in result.error
    assert not (tmp_path / "node" / "aarlab-experiments" / "c1" / ".ready").exists()  # the next task tries again
    from aarlab.cluster import CampaignStore, Storage

    (tmp_path / "visible" / "math").mkdir(parents=True)
    store = CampaignStore(Storage((tmp_path / "storage").as_uri()), "c1")
    store.storage.put_tree(store.key("visible.tar.gz"), tmp_path / "visible")
    corrupt = run_job(_spec(tmp_path, tmp_path / "storage"), job, b"not a tar", node="n1")
    assert not corrupt.ok and corrupt.error is not None and "could not be unpacked" in corrupt.error


def test_the_workspace_archive_leaves_out_links_fifos_and_the_feature_cache(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "methods").mkdir(parents=True)
    (ws / "methods" / "m.py").write_text("x = 1\n")
    (ws / ".cache" / "features").mkdir(parents=True)
    (ws / ".cache" / "features" / "f.npy").write_bytes(b"0" * 100)
    (ws / "link").symlink_to("/etc/passwd")
    os.mkfifo(ws / "fifo")
    archive, skipped = pack_workspace(ws)
    from aarlab.cluster import unpack_tree

    out = tmp_path / "out"
    unpack_tree(archive, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["methods", "methods/m.py"]
    assert any("link" in s for s in skipped) and any("fifo" in s for s in skipped)


def test_a_feature_cache_swapped_for_a_link_is_not_copied(tmp_path: Path) -> None:
    secret = tmp_path / "host"
    secret.mkdir()
    (secret / "private.txt").write_text("host file")
    root = tmp_path / "task" / "workspace"
    root.mkdir(parents=True)
    (root / ".cache").symlink_to(secret)  # what a method could leave behind in its sandbox
    (secret / "features").mkdir()
    (secret / "features" / "f.npy").write_text("from the host")
    cache = tmp_path / "node" / "features" / "a1"
    _copy_cache(root / ".cache" / "features", cache, "a1", tmp_path / "node")
    assert not cache.exists()
    (root / ".cache").unlink()
    (root / ".cache" / "features").mkdir(parents=True)
    (root / ".cache" / "features" / "real.npy").write_text("features")
    (root / ".cache" / "features" / "leak").symlink_to(secret / "private.txt")
    _copy_cache(root / ".cache" / "features", cache, "a1", tmp_path / "node")
    assert sorted(p.name for p in cache.iterdir()) == ["real.npy"]


def test_a_result_is_ok_only_with_predictions_and_a_clean_exit() -> None:
    assert JobResult(0, 0, "", "", 1.0, predictions=b"{}").ok
    assert not JobResult(0, 0, "", "", 1.0).ok
    assert not JobResult(0, 1, "", "", 1.0, predictions=b"{}").ok
    assert not JobResult(0, 0, "", "", 1.0, killed_reason="wall_time", predictions=b"{}").ok
    assert not JobResult(0, 0, "", "", 1.0, predictions=b"{}", error="x").ok
