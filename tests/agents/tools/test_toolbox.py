"""Every agent tool against a real sandbox (bubblewrap) and a real scoring service on the tiny suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aarlab.agents.tools import TOOL_NAMES, ToolResult, build_toolbox
from aarlab.campaign._setup import server_dir
from aarlab.campaign._state import AgentAssignment
from aarlab.cluster._fanout import ExperimentJob, FanoutSpec, JobResult, run_job
from tests.agents.sandbox.conftest import needs_bwrap
from tests.agents.tools.conftest import AgentEnv

pytestmark = needs_bwrap

METHOD = '''"""mine: hard weak labels, probe or fine-tune."""
from aarlab.w2s.methods import MethodContext, method


@method("mine", "Train on rounded weak labels")
def run(ctx: MethodContext):
    targets = ctx.weak_targets(hard=True)
    return ctx.strong.train(ctx.unlabeled, targets, seed=ctx.seed).predict(ctx.test)
'''


def ok(result: ToolResult) -> str:
    assert not result.is_error, result.output
    return result.output


def error(result: ToolResult, *fragments: str) -> str:
    assert result.is_error, result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)
    return result.output


def test_the_toolbox_offers_exactly_the_contract_tools_with_object_schemas(agent_env: AgentEnv) -> None:
    specs = agent_env.toolbox.specs()
    assert tuple(s.name for s in specs) == TOOL_NAMES
    for spec in specs:
        assert spec.parameters["type"] == "object" and spec.description
        assert "title" not in spec.parameters
    w2s = next(s for s in specs if s.name == "w2s_run").parameters
    assert set(w2s["required"]) == {"dataset", "method"}


def test_unknown_tools_and_bad_arguments_come_back_as_errors(agent_env: AgentEnv) -> None:
    tb = agent_env.toolbox
    error(tb.call("rm_rf", {}), "unknown tool", "shell")
    error(tb.call("shell", {}), "invalid arguments for shell", "command")
    error(tb.call("shell", {"command": "true", "sudo": True}), "sudo")
    error(tb.call("forum_vote", {"post_id": 1, "value": 5}), "value")


def test_shell_runs_in_the_sandbox_workspace_and_reports_exit_code_and_duration(agent_env: AgentEnv) -> None:
    out = ok(agent_env.toolbox.call("shell", {"command": "pwd; ls /data; id -u"}))
    assert "exit code 0 ·" in out and " s\n" in out
    assert "/workspace" in out and "math" in out and "1000" in out
    failed = error(agent_env.toolbox.call("shell", {"command": "echo oops >&2; exit 3"}), "exit code 3", "oops")
    assert "[stderr]" in failed


def test_shell_output_is_cut_in_the_middle_with_a_note(agent_env: AgentEnv) -> None:
    out = ok(agent_env.toolbox.call("shell", {"command": "seq 1 100000"}))
    assert "\n1\n" in out and out.rstrip().endswith("100000") and "characters cut" in out
    assert len(out) < 20_000


def test_shell_commands_are_killed_at_their_timeout(agent_env: AgentEnv) -> None:
    out = error(agent_env.toolbox.call("shell", {"command": "sleep 30", "timeout_s": 1}), "wall_time")
    assert "exit code 137" in out


def test_shell_sees_no_api_keys_no_ground_truth_and_only_its_own_token(agent_env: AgentEnv,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-SECRET")
    out = ok(agent_env.toolbox.call("shell", {"command": "env"}))
    assert "SECRET" not in out and agent_env.token in out and agent_env.other_token not in out
    for hidden in (server_dir(agent_env.state), agent_env.state / "agents", Path(agent_env.assignment.home) /
                   "suites" / "tiny" / "data"):
        error(agent_env.toolbox.call("shell", {"command": f"ls {hidden}"}), "exit code 2")


def test_file_tools_round_trip_with_line_numbers_and_exact_edits(agent_env: AgentEnv) -> None:
    tb = agent_env.toolbox
    assert "wrote /workspace/notes/a.txt" in ok(tb.call("write_file", {"path": "notes/a.txt",
                                                                       "content": "one\ntwo\nthree\n"}))
    assert "     2  two" in ok(tb.call("read_file", {"path": "/workspace/notes/a.txt"}))
    part = ok(tb.call("read_file", {"path": "notes/a.txt", "start_line": 2, "max_lines": 1}))
    assert "two" in part and "one" not in part and "[lines 2-2 of 3]" in part
    assert "line 3" in ok(tb.call("edit_file", {"path": "notes/a.txt", "old": "three", "new": "THREE"}))
    assert (agent_env.workspace / "notes" / "a.txt").read_text() == "one\ntwo\nTHREE\n"
    error(tb.call("edit_file", {"path": "notes/a.txt", "old": "four", "new": "x"}), "not found")
    error(tb.call("read_file", {"path": "notes/a.txt", "start_line": 9}), "past the end")
    blocked = error(tb.call("write_file", {"path": "notes/a.txt/b.txt", "content": "x"}), "notes/a.txt")
    assert str(agent_env.workspace) not in blocked
    # what the file tools wrote is what the sandbox sees
    assert "THREE" in ok(tb.call("shell", {"command": "cat notes/a.txt"}))


def test_file_tools_refuse_every_way_out_of_the_workspace(agent_env: AgentEnv) -> None:
    tb = agent_env.toolbox
    token_file = agent_env.state / "agents" / agent_env.assignment.name / "token"
    # links planted from inside the sandbox point at host paths the file tools would otherwise reach
    ok(tb.call("shell", {"command": f"ln -sf {token_file} tok && ln -sfn {agent_env.state} st && "
                                    "ln -sf ../token rel"}))
    for path in ("/etc/passwd", "../token", "/workspace/../token", "tok", "st/server/admin.token", "rel",
                 str(token_file)):
        out = error(tb.call("read_file", {"path": path}))
        assert agent_env.token not in out, path
    for path in ("../evil.txt", "st/evil.txt", "/tmp/evil.txt"):
        error(tb.call("write_file", {"path": path, "content": "x"}))
    error(tb.call("edit_file", {"path": "tok", "old": "aar", "new": "x"}))
    assert not (agent_env.state / "evil.txt").exists()
    assert token_file.read_text().strip() == agent_env.token


def test_notebook_write_appends_or_replaces_and_the_toolbox_reports_it(agent_env: AgentEnv) -> None:
    tb = agent_env.toolbox
    ok(tb.call("notebook_write", {"content": "# Notebook", "mode": "replace"}))
    ok(tb.call("notebook_write", {"content": "- tried vanilla"}))
    assert ok(tb.call("notebook_read", {})) == "# Notebook\n- tried vanilla" == tb.notebook()
    assert (agent_env.workspace / "NOTEBOOK.md").is_file()


def test_w2s_run_rejects_unknown_datasets_and_missing_or_broken_method_files(agent_env: AgentEnv) -> None:
    tb = agent_env.toolbox
    error(tb.call("w2s_run", {"dataset": "nope", "method": "vanilla"}), "unknown dataset", "math")
    error(tb.call("w2s_run", {"dataset": "math", "method": "no_such"}), "unknown method", "vanilla")
    error(tb.call("w2s_run", {"dataset": "math", "method": "methods/missing.py"}), "no such method file")
    error(tb.call("w2s_run", {"dataset": "math", "method": "../../x.py"}), "'..'")
    ok(tb.call("write_file", {"path": "methods/broken.py", "content": METHOD.replace("return ", "raise "
                                                                                    "RuntimeError('bug') #")}))
    broken = tb.call("w2s_run", {"dataset": "math", "method": "methods/broken.py", "lane": "probe"})
    assert broken.is_error and broken.experiment and "RuntimeError: bug" in broken.output


def test_an_experiment_from_a_method_file_is_submitted_posted_and_shared(agent_env: AgentEnv) -> None:
    tb = agent_env.toolbox
    ok(tb.call("write_file", {"path": "methods/mine.py", "content": METHOD}))
    run = tb.call("w2s_run", {"dataset": "math", "method": "methods/mine.py", "lane": "probe", "seed": 1,
                              "overrides": {"epochs": 50}})
    assert run.experiment and "predictions/math-mine-s1.jsonl" in ok(run)
    lines = (agent_env.workspace / "predictions" / "math-mine-s1.jsonl").read_text().splitlines()
    assert len(lines) > 10 and set(json.loads(lines[0])) == {"id", "p"}
    assert any((agent_env.workspace / ".cache" / "features").iterdir())  # the probe lane's feature cache
    bad = tb.call("w2s_run", {"dataset": "math", "method": "methods/mine.py", "lane": "probe",
                              "overrides": {"no_such_field": 1}})
    assert bad.is_error and "no_such_field" in bad.output

    receipt = ok(tb.call("submit", {"dataset": "math", "predictions": "predictions/math-mine-s1.jsonl",
                                    "method": "mine:probe", "notes": "hard labels"}))
    submission = receipt.split("submission id: ")[1].split()[0]
    assert "public PGR:" in receipt and "evaluations left on math: 19" in receipt
    assert json.loads((agent_env.workspace / "submissions.jsonl").read_text())["notes"] == "hard labels"
    assert "mine:probe" in ok(tb.call("leaderboard", {}))

    snapshot = ok(tb.call("snapshot_push", {"path": "methods"})).split()[1]
    error(tb.call("forum_post", {"kind": "result", "title": "no receipt", "body": "b", "snapshot": snapshot}),
          "refused")
    posted = ok(tb.call("forum_post", {"kind": "result", "title": "hard weak labels on a probe", "body": "PGR up",
                                       "tags": ["probe"], "receipt": submission, "snapshot": snapshot}))
    post_id = int(posted.split("#")[1].split()[0])
    assert f"#{post_id}" in ok(tb.call("forum_search", {"query": "hard weak labels"}))
    assert "verified math/mine:probe" in ok(tb.call("forum_search", {"query": ""}))
    ok(tb.call("forum_reply", {"post_id": post_id, "body": "seed 2 next"}))
    read = ok(tb.call("forum_read", {"post_id": post_id}))
    assert "PGR up" in read and "seed 2 next" in read and snapshot in read
    error(tb.call("forum_vote", {"post_id": post_id, "value": 1}), "own post")
    error(tb.call("forum_read", {"post_id": 99999}), "HTTP 404")

    pulled = ok(tb.call("snapshot_pull", {"snapshot_id": snapshot, "dest": "copy"}))
    assert "/workspace/copy/mine.py" in pulled
    assert (agent_env.workspace / "copy" / "mine.py").read_text() == METHOD
    error(tb.call("snapshot_pull", {"snapshot_id": snapshot, "dest": "../../outside"}), "'..'")

    other = AgentAssignment.model_validate_json((agent_env.state / "agents" / "search-2" / "agent.json").read_text())
    voter = build_toolbox(agent_env.state, other, agent_env.other_token)
    try:
        assert "score 1" in ok(voter.call("forum_vote", {"post_id": post_id, "value": 1}))
    finally:
        voter.close()


def test_submit_refuses_paths_outside_the_workspace_and_malformed_files(agent_env: AgentEnv) -> None:
    tb = agent_env.toolbox
    error(tb.call("submit", {"dataset": "math", "predictions": "/etc/passwd", "method": "x"}), "/workspace")
    ok(tb.call("write_file", {"path": "bad.jsonl", "content": "not json\n"}))
    out = error(tb.call("submit", {"dataset": "math", "predictions": "bad.jsonl", "method": "x"}), "invalid JSON")
    assert str(agent_env.workspace) not in out
    error(tb.call("submit", {"dataset": "math", "predictions": "nothing.jsonl", "method": "x"}), "no such")


def test_several_seeds_run_one_after_another_and_count_one_experiment_each(agent_env: AgentEnv) -> None:
    tb = agent_env.toolbox
    run = tb.call("w2s_run", {"dataset": "math", "method": "vanilla", "lane": "probe", "seeds": [3, 4]})
    out = ok(run)
    assert run.experiment == 2 and out.startswith("2 of 2 seeds done")
    for seed in (3, 4):
        assert f"(seed {seed}, lane probe): done" in out
        assert (agent_env.workspace / "predictions" / f"math-vanilla-s{seed}.jsonl").stat().st_size > 0
    error(tb.call("w2s_run", {"dataset": "math", "method": "vanilla", "seeds": [1, 1]}), "repeat a seed")
    error(tb.call("w2s_run", {"dataset": "math", "method": "vanilla", "seeds": list(range(9))}), "seeds")
    error(tb.call("w2s_run", {"dataset": "math", "method": "vanilla", "seeds": []}), "seeds")


class _InProcessFanout:
    """The cluster fan-out without Ray: each job runs through the node-side code (restore from storage, fresh
    workspace copy, bubblewrap sandbox) in this process."""

    def __init__(self, spec: FanoutSpec) -> None:
        self.spec = spec
        self.jobs: list[ExperimentJob] = []

    def run(self, jobs: list[ExperimentJob], workspace: bytes) -> list[JobResult]:
        self.jobs += jobs
        return [run_job(self.spec, job, workspace, node="test-node") for job in jobs]


def test_seeds_fan_out_to_fresh_sandboxes_and_come_back_into_the_workspace(agent_env: AgentEnv,
                                                                            tmp_path: Path) -> None:
    from aarlab.cluster import CampaignStore, Storage
    from aarlab.suites import load_suite

    store = CampaignStore(Storage((tmp_path / "storage").as_uri()), "c1")
    store.storage.put_tree(store.key("suite.tar.gz"), load_suite("tiny", Path(agent_env.assignment.home)).root
                           / "models")
    store.storage.put_tree(store.key("visible.tar.gz"), agent_env.state / "visible")
    fanout = _InProcessFanout(FanoutSpec(address="unused", storage_url=store.storage.url, campaign_id="c1",
                                         suite="tiny", request={"CPU": 1.0}, node_dir=str(tmp_path / "node")))
    tb = agent_env.toolbox
    tb.sandboxed.fanout = fanout
    try:
        ok(tb.call("write_file", {"path": "methods/mine.py", "content": METHOD}))
        # a link planted where a seed's predictions go: the write-back refuses it instead of following it
        outside = tmp_path / "outside.jsonl"
        ok(tb.call("shell", {"command": f"mkdir -p predictions && ln -sfn {outside} "
                                        "predictions/math-mine-s6.jsonl"}))
        run = tb.call("w2s_run", {"dataset": "math", "method": "methods/mine.py", "lane": "probe", "seeds": [5, 6]})
    finally:
        tb.sandboxed.fanout = None
    out = error(run, "1 of 2 seeds done", "[node test-node]", "could not be written back")
    assert run.experiment == 2 and [j.seed for j in fanout.jobs] == [5, 6]
    assert fanout.jobs[0].method == "/workspace/methods/mine.py"  # the file travelled in the workspace archive
    lines = (agent_env.workspace / "predictions" / "math-mine-s5.jsonl").read_text().splitlines()
    assert len(lines) > 10 and set(json.loads(lines[0])) == {"id", "p"}
    assert not outside.exists() and "math-mine-s5" in out
    # the node kept the agent's feature cache (label-free) for its next task, and no task directory
    node = tmp_path / "node" / "aarlab-experiments" / "c1"
    assert any((node / "features" / agent_env.assignment.name).rglob("*"))
    assert not [p.name for p in node.iterdir() if p.name.startswith(f"{agent_env.assignment.name}-s")]
