"""Red team: code inside an agent's sandbox tries to reach ground truth, the network, secrets and other agents,
and to exhaust the machine. Every test runs real bubblewrap."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import aarlab
from aarlab.agents.sandbox import BubblewrapSandbox, SandboxError, SandboxLimits
from tests.agents.sandbox.conftest import Host, needs_bwrap

pytestmark = needs_bwrap
Make = Callable[..., BubblewrapSandbox]
PY = "python"


def py(code: str) -> list[str]:
    return [PY, "-c", code]


# --- the file system -------------------------------------------------------------------------------------------

def test_ground_truth_is_not_readable_by_its_absolute_path(make_sandbox: Make, host: Host) -> None:
    result = make_sandbox().exec(["cat", str(host.ground_truth)])
    assert result.exit_code != 0 and host.secret not in result.stdout


@pytest.mark.parametrize("via", ["/proc/1/root", "/proc/self/root", "/proc/{host_pid}/root"])
def test_ground_truth_is_not_readable_through_proc_roots(make_sandbox: Make, host: Host, via: str) -> None:
    path = via.format(host_pid=os.getpid()) + str(host.ground_truth)
    result = make_sandbox().exec(["cat", path])
    assert result.exit_code != 0 and host.secret not in result.stdout


def test_host_processes_are_not_visible_so_their_environ_cannot_be_read(make_sandbox: Make,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-host-secret")
    code = ("import glob\nblob=b''\nfor p in glob.glob('/proc/[0-9]*/environ'):\n"
            "    try: blob += open(p,'rb').read()\n    except OSError: pass\n"
            "import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())); print(blob)")
    result = make_sandbox().exec(py(code))
    assert result.exit_code == 0, result.stderr
    assert str(os.getpid()) not in result.stdout.splitlines()[0].strip("[]").split(", ")
    assert "sk-ant-host-secret" not in result.stdout


def test_a_symlink_made_on_the_host_does_not_lead_out_of_the_workspace(make_sandbox: Make, host: Host) -> None:
    (host.workspace / "link").symlink_to(host.ground_truth)
    result = make_sandbox().exec(["cat", "/workspace/link"])
    assert result.exit_code != 0 and host.secret not in result.stdout


def test_a_symlink_made_inside_does_not_lead_out_of_the_workspace(make_sandbox: Make, host: Host) -> None:
    result = make_sandbox().exec(["sh", "-c", f"ln -s {host.ground_truth} inner && cat inner"])
    assert result.exit_code != 0 and host.secret not in result.stdout


def test_dot_dot_traversal_from_the_workspace_finds_nothing(make_sandbox: Make, host: Host) -> None:
    relative = os.path.relpath(host.ground_truth, host.workspace)
    assert relative.startswith("..")
    result = make_sandbox().exec(["sh", "-c", f"cat {relative}; ls -a ..; ls -a ../.."])
    assert host.secret not in result.stdout
    assert "state" not in result.stdout.split() and "agents" not in result.stdout.split()


def test_the_repository_around_the_aarlab_package_and_the_home_dir_are_not_mounted(make_sandbox: Make) -> None:
    repo_file = Path(aarlab.__file__).resolve().parents[1] / "pyproject.toml"
    home_files = [p for p in Path.home().iterdir() if not p.name.startswith(".")][:5]
    paths = [str(p) for p in [repo_file, *home_files] if p.is_file()]
    result = make_sandbox().exec(py("import os,sys\nfor p in sys.argv[1:]: print(p, os.path.exists(p))") + paths)
    assert result.exit_code == 0, result.stderr
    assert "True" not in result.stdout


def test_writing_outside_the_workspace_fails_and_inside_it_works(make_sandbox: Make, host: Host) -> None:
    script = ("for p in /x /usr/x /etc/x /data/x /run/aarlab/x {pkg}/x; do "
              "if touch $p 2>/dev/null; then echo WROTE $p; fi; done; echo ok > /workspace/out.txt")
    result = make_sandbox().exec(["sh", "-c", script.format(pkg=Path(aarlab.__file__).resolve().parent)])
    assert "WROTE" not in result.stdout
    assert (host.workspace / "out.txt").read_text() == "ok\n"
    assert not (Path(aarlab.__file__).resolve().parent / "x").exists()


def test_tmp_is_private_to_each_command(make_sandbox: Make, tmp_path: Path) -> None:
    marker = f"/tmp/aarlab-marker-{tmp_path.name}"
    sandbox = make_sandbox()
    assert sandbox.exec(["sh", "-c", f"echo x > {marker} && cat {marker}"]).stdout == "x\n"
    assert not Path(marker).exists()
    assert sandbox.exec(["cat", marker]).exit_code != 0


def test_the_visible_dataset_is_readable_at_data(make_sandbox: Make) -> None:
    result = make_sandbox().exec(["cat", "/data/math/test.jsonl"])
    assert result.exit_code == 0 and '"t1"' in result.stdout


# --- secrets and tokens ------------------------------------------------------------------------------------------

def test_the_environment_holds_only_this_agents_token(make_sandbox: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"ANTHROPIC_API_KEY": "sk-ant-x", "OPENAI_API_KEY": "sk-openai-x", "HF_TOKEN": "hf_x",
                        "AARLAB_TOKEN": "token-of-b", "AWS_SECRET_ACCESS_KEY": "aws-x"}.items():
        monkeypatch.setenv(name, value)
    result = make_sandbox().exec(["env"])
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert env["AARLAB_TOKEN"] == "token-of-a"
    assert not {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY"} & env.keys()
    assert "token-of-b" not in result.stdout and "sk-" not in result.stdout


def test_another_agents_token_file_is_out_of_reach(make_sandbox: Make, host: Host) -> None:
    other = host.workspace.parent.parent / "b" / "token"
    other.parent.mkdir()
    other.write_text("token-of-b\n")
    result = make_sandbox().exec(["sh", "-c", f"cat {other} /proc/1/root{other} ../../b/token; grep -r token-of-b / "
                                  "--exclude-dir=proc --exclude-dir=sys 2>/dev/null"])
    assert "token-of-b" not in result.stdout


# --- the network -------------------------------------------------------------------------------------------------

@pytest.fixture
def tcp_listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    yield server
    server.close()


def test_tcp_to_a_host_listener_on_loopback_fails(make_sandbox: Make, tcp_listener: socket.socket) -> None:
    port = tcp_listener.getsockname()[1]
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            f"    print('CONNECTED')\nexcept OSError as e:\n    print('BLOCKED', e)")
    result = make_sandbox().exec(py(code))
    assert "BLOCKED" in result.stdout, result.stdout + result.stderr
    with pytest.raises(BlockingIOError):
        tcp_listener.accept()


@pytest.mark.parametrize("address", [("1.1.1.1", 53), ("8.8.8.8", 443)])
def test_tcp_to_the_internet_fails(make_sandbox: Make, address: tuple[str, int]) -> None:
    code = (f"import socket\ntry:\n    socket.create_connection({address!r}, timeout=5)\n    print('CONNECTED')\n"
            "except OSError as e:\n    print('BLOCKED', e)")
    assert "BLOCKED" in make_sandbox().exec(py(code)).stdout


def test_udp_to_a_host_socket_is_not_delivered(make_sandbox: Make) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    port = receiver.getsockname()[1]
    code = (f"import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ntry:\n"
            f"    s.sendto(b'leak', ('127.0.0.1', {port}))\n    print('SENT')\nexcept OSError as e:\n"
            f"    print('BLOCKED', e)")
    try:
        result = make_sandbox().exec(py(code))
        assert "SENT" in result.stdout or "BLOCKED" in result.stdout, result.stderr
        with pytest.raises(BlockingIOError):
            receiver.recv(100)
    finally:
        receiver.close()


def test_the_only_network_interface_is_a_loopback_that_is_down(make_sandbox: Make) -> None:
    result = make_sandbox().exec(["cat", "/proc/net/dev"])
    interfaces = [line.split(":")[0].strip() for line in result.stdout.splitlines()[2:]]
    assert interfaces == ["lo"]


# --- limits ------------------------------------------------------------------------------------------------------

def test_a_memory_bomb_is_stopped_at_the_memory_limit(make_sandbox: Make) -> None:
    result = make_sandbox(SandboxLimits(memory_mb=200, wall_s=120)).exec(py("b = b'x' * (800 << 20); print('ALIVE')"))
    assert "ALIVE" not in result.stdout and result.exit_code != 0
    assert result.killed_reason == "memory" or "MemoryError" in result.stderr
    assert result.enforced_by["memory_mb"] in ("cgroup-v1", "cgroup-v2", "rlimit")


def test_a_fork_bomb_stops_at_the_pids_limit(make_sandbox: Make) -> None:
    code = ("import os, time\nn = 0\ntry:\n    for _ in range(200):\n        if os.fork() == 0:\n"
            "            time.sleep(60); os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)")
    result = make_sandbox(SandboxLimits(pids=20, wall_s=120)).exec(py(code))
    if result.enforced_by["pids"] == "none":
        pytest.skip("no writable pids cgroup on this machine: the pids limit is not enforced here")
    assert int(result.stdout) < 20
    assert "pids" in result.limits_hit


def test_a_command_past_its_wall_time_is_killed(make_sandbox: Make) -> None:
    result = make_sandbox(SandboxLimits(wall_s=1)).exec(["sleep", "100"])
    assert result.timed_out and result.killed_reason == "wall_time" and result.exit_code == 137


def test_a_timeout_kills_the_processes_a_command_left_in_the_background(make_sandbox: Make, host: Host) -> None:
    sandbox = make_sandbox(SandboxLimits(wall_s=1))
    result = sandbox.exec(["sh", "-c", "(sleep 3; echo late > /workspace/late.txt) & sleep 100"])
    assert result.timed_out
    # The next command waits longer than the background job would have needed; it must have died with the first.
    sandbox.exec(["sleep", "4"], timeout_s=10)
    assert not (host.workspace / "late.txt").exists()


def test_a_busy_loop_is_stopped_at_its_cpu_time(make_sandbox: Make) -> None:
    result = make_sandbox(SandboxLimits(cpu_s=1, wall_s=120)).exec(py("while True: pass"))
    assert result.killed_reason == "cpu_time"


def test_output_beyond_the_limit_is_truncated_and_flagged(make_sandbox: Make) -> None:
    result = make_sandbox(SandboxLimits(output_bytes=1000)).exec(py("print('a' * 100000)"))
    assert result.truncated and "bytes truncated" in result.stdout and len(result.stdout) < 1100


def test_stdin_reaches_the_command(make_sandbox: Make) -> None:
    assert make_sandbox().exec(["cat"], stdin="hello").stdout == "hello"


# --- what must keep working ---------------------------------------------------------------------------------------

def test_torch_transformers_and_aarlab_import_inside(make_sandbox: Make) -> None:
    result = make_sandbox().exec(py("import aarlab, torch, transformers, sys; print('ok', sys.executable)"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok ")


def test_python3_on_path_is_the_environment_with_aarlab(make_sandbox: Make) -> None:
    result = make_sandbox().exec(["python3", "-c", "import sys; print(sys.prefix)"])
    assert result.stdout.strip() == sys.prefix


def test_a_command_that_imitates_a_bubblewrap_error_gets_an_ordinary_result(make_sandbox: Make) -> None:
    result = make_sandbox().exec(["sh", "-c", "echo 'bwrap: pretend setup failure' >&2; exit 1"])
    assert result.exit_code == 1 and result.stderr.startswith("bwrap: pretend")


def test_a_real_bubblewrap_setup_failure_is_a_sandbox_error(make_sandbox: Make, tmp_path: Path) -> None:
    sandbox = make_sandbox()
    sandbox._static += ["--ro-bind", str(tmp_path / "does-not-exist"), "/nowhere"]
    with pytest.raises(SandboxError, match="bubblewrap could not set up the sandbox"):
        sandbox.exec(["true"])

