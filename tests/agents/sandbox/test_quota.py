"""The workspace disk quota (issue 15): one file stops exactly at what is left, many files stop the command just
past the quota, the host keeps the rest of its disk, and an agent over its quota can still clean up."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from aarlab.agents.sandbox import BubblewrapSandbox, SandboxLimits
from aarlab.agents.sandbox._quota import MIN_ENTRY_BYTES, MIN_FILE_BYTES, WorkspaceQuota, workspace_usage
from tests.agents.sandbox.conftest import Host, needs_bwrap

Make = Callable[..., BubblewrapSandbox]
MiB = 2**20
QUOTA_MB = 32


def _write(path: Path, size: int) -> None:
    with path.open("wb") as f:
        f.write(os.urandom(size))


def test_usage_counts_allocated_blocks_with_a_floor_per_entry(tmp_path: Path) -> None:
    _write(tmp_path / "a", MiB)
    (tmp_path / "d").mkdir()
    for i in range(10):
        (tmp_path / "d" / f"empty{i}").touch()
    usage = workspace_usage(tmp_path)
    assert MiB + 11 * MIN_ENTRY_BYTES <= usage <= MiB + 13 * MIN_ENTRY_BYTES


def test_usage_counts_a_hard_link_once_and_does_not_follow_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    ws = tmp_path / "ws"
    outside.mkdir()
    ws.mkdir()
    _write(outside / "big", 4 * MiB)
    _write(ws / "a", MiB)
    os.link(ws / "a", ws / "b")
    (ws / "link").symlink_to(outside)
    assert workspace_usage(ws) < MiB + 4 * MIN_ENTRY_BYTES


def test_usage_sees_into_a_directory_its_owner_made_unreadable(tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    _write(hidden / "x", 2 * MiB)
    hidden.chmod(0)
    try:
        assert workspace_usage(tmp_path) >= 2 * MiB
    finally:
        hidden.chmod(0o700)


def test_a_commands_file_limit_is_what_is_left_of_the_quota(tmp_path: Path) -> None:
    _write(tmp_path / "a", 3 * MiB)
    quota = WorkspaceQuota(tmp_path, 8 * MiB)
    quota.start()
    assert 4 * MiB < quota.file_limit() <= 5 * MiB
    full = WorkspaceQuota(tmp_path, 2 * MiB)
    full.start()
    assert full.file_limit() == MIN_FILE_BYTES


# --- inside the sandbox ----------------------------------------------------------------------------------------

def _limits() -> SandboxLimits:
    return SandboxLimits(wall_s=120, disk_mb=QUOTA_MB)


@needs_bwrap
def test_writing_without_end_in_many_files_is_stopped_and_the_host_keeps_its_disk(make_sandbox: Make,
                                                                                      host: Host) -> None:
    # The writer never stops on its own (a bounded one could finish inside the watcher's latency on a fast disk:
    # a fresh clone's run wrote twice the quota before the kill): only the quota can end it, well before wall_s.
    code = f"i = 0\nwhile True:\n    open(f'chunk{{i}}', 'wb').write(b'x' * {MiB})\n    i += 1"
    result = make_sandbox(_limits()).exec(["python", "-c", code])
    assert result.killed_reason == "disk" and "disk_mb" in result.limits_hit
    assert f"over its disk quota of {QUOTA_MB} MiB" in result.stderr and "delete" in result.stderr
    assert result.enforced_by["disk_mb"] == "supervisor"
    # the slack is write throughput x the watcher's latency (a few MiB on an idle machine, up to ~38 MiB measured
    # under heavy load: docs/sandbox.md); an unwatched writer would fill the host's disk
    usage = workspace_usage(host.workspace)
    assert QUOTA_MB * MiB < usage <= 4 * QUOTA_MB * MiB


@needs_bwrap
def test_one_file_past_the_quota_stops_exactly_at_it(make_sandbox: Make, host: Host) -> None:
    _write(host.workspace / "earlier", 8 * MiB)
    result = make_sandbox(_limits()).exec(["python", "-c", f"open('big', 'wb').write(b'x' * {2 * QUOTA_MB * MiB})"])
    assert result.exit_code != 0 and "File too large" in result.stderr
    assert "disk_mb" in result.limits_hit and "disk quota" in result.stderr
    assert workspace_usage(host.workspace) <= QUOTA_MB * MiB + 4 * MIN_ENTRY_BYTES
    assert (host.workspace / "big").stat().st_size <= (QUOTA_MB - 8) * MiB


@needs_bwrap
def test_a_shell_writer_past_the_quota_is_stopped_too(make_sandbox: Make, host: Host) -> None:
    result = make_sandbox(_limits()).exec(["sh", "-c", f"head -c {2 * QUOTA_MB * MiB} /dev/zero > big; echo wrote"])
    assert "File size limit exceeded" in result.stderr  # head got SIGXFSZ; the shell went on (and exits 0)
    assert workspace_usage(host.workspace) <= QUOTA_MB * MiB + 4 * MIN_ENTRY_BYTES


@needs_bwrap
def test_an_agent_over_its_quota_can_still_delete_and_its_files_persist(make_sandbox: Make, host: Host) -> None:
    _write(host.workspace / "old", (QUOTA_MB + 4) * MiB)  # e.g. the quota was lowered since
    (host.workspace / "notes.md").write_text("kept across commands")
    sandbox = make_sandbox(_limits())
    grow = sandbox.exec(["python", "-c", f"\nfor i in range(8):\n    open(f'more{{i}}', 'wb').write(b'x' * {MiB})"])
    assert grow.killed_reason == "disk" or grow.exit_code != 0
    clean = sandbox.exec(["sh", "-c", "rm -f old more*; cat notes.md"])
    assert clean.ok and clean.stdout == "kept across commands" and "disk_mb" not in clean.limits_hit
    code = f"open('fits', 'wb').write(b'x' * {4 * MiB}); print(open('notes.md').read())"
    after = sandbox.exec(["python", "-c", code])
    assert after.ok and after.stdout.strip() == "kept across commands"
    assert (host.workspace / "fits").stat().st_size == 4 * MiB


@needs_bwrap
def test_tmp_is_bounded_by_the_quota_too(make_sandbox: Make) -> None:
    result = make_sandbox(_limits()).exec(["sh", "-c", f"head -c {2 * QUOTA_MB * MiB} /dev/zero > /tmp/x; "
                                                       "echo status $?; ls -l /tmp/x"])
    assert "status 0" not in result.stdout
    size = int(result.stdout.split()[-5]) if result.stdout.strip().endswith("/tmp/x") else 0
    assert size <= QUOTA_MB * MiB


def test_a_removed_workspace_measures_as_empty(tmp_path: Path) -> None:
    assert workspace_usage(tmp_path / "gone") == 0
    quota = WorkspaceQuota(tmp_path / "gone", MiB)
    quota.start()
    assert quota.finish(failed=True) is None and quota.at_start == 0
