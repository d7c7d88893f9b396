"""Promotion by clean re-run, end to end on the micro suite: a real scoring server on loopback, real SQLite, real
bubblewrap sandboxes running method snapshots pushed by an agent."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from aarlab.campaign._promote import (
    PromotionError,
    PromotionOptions,
    PromotionResult,
    promote,
    record_promotion,
)
from aarlab.campaign._promote_queue import enqueue, queued_requests
from aarlab.campaign._promote_stats import label_ablation, paired_comparison, versus_baseline
from aarlab.campaign._report import render_report
from aarlab.campaign._run import queue_promotions
from aarlab.client import ForumClient
from aarlab.server import ServerSettings, add_agent, init_state, listen, open_state, verify_chain
from aarlab.server._db import audit_log, promotions
from aarlab.suites import Suite, load_suite
from tests.conftest import _write_micro_suite
from tests.server.conftest import wait_ready

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")

SEEDS = [101, 202, 303]

HONEST = '''
from aarlab.w2s.methods import method


@method("honest", "vanilla-like: train the strong model on the weak hard labels")
def run(ctx):
    student = ctx.strong.train(ctx.unlabeled, ctx.weak_targets(hard=True), seed=ctx.seed)
    return student.predict(ctx.test)
'''

CONSTANT = '''
from aarlab.w2s.methods import method


@method("constant", "ignores everything: the same answer for every test example")
def run(ctx):
    return {e.id: 0.9 for e in ctx.test}
'''

BROKEN = "from aarlab.w2s.methods import method\n\n@method('broken', 'x')\ndef run(ctx)\n    return {}\n"

CRASHING = '''
from aarlab.w2s.methods import method


@method("crashing", "raises")
def run(ctx):
    raise RuntimeError("the method blew up on purpose")
'''


def _write_suite_file(path: Path, suite: Suite) -> None:
    spec = suite.spec
    train = 'mode = "full"\nepochs = 1\nlr = 1e-3\nbatch_size = 16\nwarmup_steps = 1\n'
    path.write_text(
        f'name = "micro"\ndescription = "random tiny models for fast tests"\ndata_dir = "{spec.data_dir}"\n'
        'datasets = ["math", "chat"]\nbaseline_seeds = [0]\n'
        f'[weak]\nmodel = "{spec.weak.model}"\n[strong]\nmodel = "{spec.strong.model}"\nfeature_layer = 1\n'
        f"[weak_train]\n{train}[strong_train]\n{train}")


@dataclass
class Env:
    state: Path
    suite: Suite
    suite_file: str
    agent: ForumClient
    url: str

    def publish(self, source: str | None, *, snapshot: bool = True, method: str = "mine") -> str:
        """Submit, push a workspace holding ``source`` as methods/mine.py and post the result citing both; returns
        the submission id."""
        workspace = Path(tempfile.mkdtemp(prefix="aarws-"))
        try:
            (workspace / "methods").mkdir()
            (workspace / "methods" / "mine.py").write_text(source or "")
            ids = [e.id for e in _test_examples(self.suite, "math")]
            receipt = self.agent.submit("math", {i: 0.5 for i in ids}, method=method)
            if snapshot:  # a result post must cite a snapshot: without one the submission stays unlinked
                pushed = self.agent.push_directory(workspace).id
                self.agent.post("result", "mine on math", "a result", receipt=receipt.receipt, snapshot=pushed)
            return receipt.id
        finally:
            shutil.rmtree(workspace, ignore_errors=True)

    def promote(self, submission_id: str, held_out: bool = False, against: list[str] | None = None):  # noqa: ANN201
        options = PromotionOptions(lane="probe", timeout_s=600, held_out=held_out, fixed_seeds=SEEDS,
                                   against=against or [])
        return promote(self.state, submission_id, suite=self.suite, suite_ref=self.suite_file, options=options)

    def rows(self) -> list[dict]:
        opened = open_state(self.state)
        try:
            with opened.db.reader.connect() as conn:
                return [dict(r) for r in conn.execute(select(promotions)).mappings()]
        finally:
            opened.db.dispose()


def _test_examples(suite: Suite, dataset: str) -> list:
    from aarlab.w2s.data import load_dataset

    return load_dataset(suite.data_path(dataset), name=dataset, derive_ids=True).split("test")


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    root = Path(tempfile.mkdtemp(prefix="aarpr-"))  # short: the Unix socket path is limited to 108 bytes
    home = root / "home"
    built = _write_micro_suite(home / "suites" / "micro")
    suite_file = home / "suites" / "micro" / "micro.toml"
    _write_suite_file(suite_file, built)
    suite = load_suite(str(suite_file), home)
    baselines = {"suite": "micro", "version": "micro-test", "data_dir": suite.spec.data_dir,
                 "datasets": {d: {"weak_acc": 0.5, "strong_acc": 0.6, "seeds": [0]} for d in ("math", "chat")}}
    (suite.root / "baselines.json").write_text(json.dumps(baselines))
    state = root / "camp" / "server"  # inside a (minimal) campaign dir, for the campaign report
    state.parent.mkdir()
    (state.parent / "campaign.json").write_text("{}")
    init_state(state, suite="micro", home=home).db.dispose()
    token = add_agent(state, "alice")
    settings = ServerSettings(rate_per_s=1000, rate_burst=1000)
    listener = listen(state, settings, port=0, uds=root / "s.sock")
    thread = threading.Thread(target=listener.run, daemon=True)
    thread.start()
    wait_ready(listener.urls[0])
    client = ForumClient(listener.urls[0], token)
    try:
        yield Env(state, suite, str(suite_file), client, listener.urls[0])
    finally:
        client.close()
        listener.server.should_exit = True
        thread.join(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def test_an_honest_method_is_promoted_with_paired_stats_and_an_audit_record(env: Env) -> None:
    submission = env.publish(HONEST)
    result = env.promote(submission, held_out=True)
    assert result.status == "promoted", result.reason
    assert result.seeds == SEEDS and result.method_in_snapshot == "methods/mine.py"
    paired = result.paired
    assert paired is not None and len(paired.per_seed_diff) == 3
    assert paired.ci[0] <= paired.mean_diff <= paired.ci[1] and 0 < paired.p_value <= 1
    assert result.ablation is not None and result.private_transfer_acc is not None
    assert set(result.held_out) == {"chat"} and result.held_out["chat"].error is None
    row = next(r for r in env.rows() if r["id"] == result.id)
    assert row["status"] == "promoted" and json.loads(row["seeds"]) == SEEDS
    opened = open_state(env.state)
    try:
        with opened.db.reader.connect() as conn:
            action = conn.execute(select(audit_log.c.action).where(audit_log.c.seq == row["audit_seq"])).scalar()
        assert action == "promotion.record"
        assert verify_chain(opened.db).ok
    finally:
        opened.db.dispose()


def test_a_method_that_ignores_the_weak_labels_is_flagged_with_both_numbers(env: Env) -> None:
    result = env.promote(env.publish(CONSTANT))
    assert result.status == "promoted"
    assert "ignores the weak labels" in result.flags
    ablation = result.ablation
    assert ablation is not None and ablation.ignores_weak_labels
    assert ablation.shuffled_acc == ablation.method_acc  # a constant does not move when the labels are shuffled


def test_against_literature_baselines_each_is_rerun_on_the_same_seeds_and_paired(env: Env) -> None:
    result = env.promote(env.publish(HONEST), against=["soft", "vanilla", "soft"])
    assert result.status == "promoted", result.reason
    assert list(result.versus) == ["vanilla", "soft"]  # vanilla first, each once
    vanilla = result.versus["vanilla"]
    assert result.paired is not None and vanilla.mean_diff == result.paired.mean_diff  # the same comparison
    for comparison in result.versus.values():
        assert len(comparison.baseline_acc) == len(comparison.per_seed_diff) == len(SEEDS)
        assert comparison.ci[0] <= comparison.mean_diff <= comparison.ci[1]
    assert result.beats_every_baseline == all(c.ci[0] > 0 for c in result.versus.values())
    stored = json.loads(next(r for r in env.rows() if r["id"] == result.id)["result"])
    assert set(stored["versus"]) == {"vanilla", "soft"} and stored["beats_every_baseline"] is not None


def test_an_unknown_baseline_to_compare_with_is_refused_before_anything_runs(env: Env) -> None:
    submission = env.publish(HONEST)
    before = len(env.rows())
    with pytest.raises(PromotionError, match="unknown baseline.*nope.*auxconf"):
        env.promote(submission, against=["nope"])
    assert len(env.rows()) == before


def test_promoting_an_unknown_submission_is_refused_and_records_nothing(env: Env) -> None:
    before = len(env.rows())
    with pytest.raises(PromotionError, match="no submission 'nope'"):
        env.promote("nope")
    assert len(env.rows()) == before


def test_a_submission_without_a_method_snapshot_cannot_be_promoted(env: Env) -> None:
    submission = env.publish(HONEST, snapshot=False)
    before = len(env.rows())
    with pytest.raises(PromotionError, match="not linked to a method snapshot"):
        env.promote(submission)
    assert len(env.rows()) == before


@pytest.mark.parametrize(("source", "reason"), [(BROKEN, "SyntaxError|invalid syntax|expected ':'"),
                                                 (CRASHING, "the method blew up on purpose")])
def test_a_broken_or_crashing_method_is_recorded_as_failed_never_promoted(env: Env, source: str,
                                                                           reason: str) -> None:
    submission = env.publish(source)
    result = env.promote(submission)
    assert result.status == "failed" and result.reason is not None
    assert pytest.importorskip("re").search(reason, result.reason), result.reason
    rows = [r for r in env.rows() if r["submission_id"] == submission]
    assert [r["status"] for r in rows] == ["failed"]
    assert rows[0]["private_pgr"] is None


def test_a_queued_request_is_listed_once_until_it_is_promoted(env: Env) -> None:
    submission = env.publish(CONSTANT)
    enqueue(env.state, submission)
    with pytest.raises(PromotionError, match="already queued"):
        enqueue(env.state, submission)
    assert submission in queued_requests(env.state)
    env.promote(submission)
    assert submission not in queued_requests(env.state)


def test_the_leaderboard_and_the_campaign_report_lead_with_promoted_results(env: Env) -> None:
    promoted_id = env.publish(HONEST, method="shown")  # own labels: one leaderboard row each
    unlinked_id = env.publish(HONEST, snapshot=False, method="unlinked")
    snapshot = env.rows()[0]["snapshot_id"] if env.rows() else "0" * 64
    ones, halves = np.ones((3, 10)), np.tile([1.0, 0.0], (3, 5))
    result = PromotionResult(id="prm_test", submission_id=promoted_id, agent="alice", dataset="math", method="mine",
                             snapshot_id=snapshot, method_in_snapshot="methods/mine.py", status="promoted",
                             lane="probe", seeds=SEEDS, private_pgr=0.77, private_transfer_acc=0.9,
                             paired=paired_comparison(ones, halves), ablation=label_ablation(0.5, 0.9, 0.52),
                             created_at="2026-01-01T00:00:00+00:00")
    opened = open_state(env.state)
    try:
        record_promotion(opened, result)
        admin = (env.state / "admin.token").read_text().strip()
    finally:
        opened.db.dispose()
    rows = httpx.get(f"{env.url}/api/v1/leaderboard", headers={"Authorization": f"Bearer {admin}"}).json()["rows"]
    mine = next(r for r in rows if r["submission_id"] == promoted_id)
    assert mine["promotion"] == "promoted" and mine["promoted_private_pgr"] == 0.77
    from typer.testing import CliRunner

    from aarlab.cli import app

    shown = CliRunner().invoke(app, ["leaderboard", "--server", env.url, "--token", admin], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and "promoted private PGR" in shown.output and "0.77" in shown.output
    agent_rows = env.agent.leaderboard().rows  # scored on the private part: agents see it after finalize only
    assert all(r.promoted_private_pgr is None for r in agent_rows)
    html = render_report(env.state.parent)
    lead = html.index("Promoted results")
    assert lead < html.index("Agents and costs")
    section = html[lead:html.index("Agents and costs")]
    assert f'data-submission="{promoted_id}"' in section and "0.770" in section
    unlinked = section[section.index(f'data-submission="{unlinked_id}"'):]
    assert "cannot be promoted" in unlinked[:600]
    assert "not compared" in section  # a promotion run without --against
    verdicts = html[html.index("Against the literature"):html.index("Agents and costs")]
    assert 'data-beats-all="unknown"' in verdicts and 'data-reason="not-compared"' in verdicts

    versus = {"vanilla": versus_baseline("vanilla", ones, halves, 0.5),
              "auxconf": versus_baseline("auxconf", ones, ones, 0.77)}
    compared = result.model_copy(update={"id": "prm_test2", "versus": versus, "beats_every_baseline": False,
                                         "created_at": "2026-01-02T00:00:00+00:00"})
    opened = open_state(env.state)
    try:
        record_promotion(opened, compared)
    finally:
        opened.db.dispose()
    html = render_report(env.state.parent)
    section = html[html.index("Promoted results"):html.index("Agents and costs")]
    assert "does not beat all 2; closest auxconf +0.000 [+0.000, +0.000]" in section
    verdicts = html[html.index("Against the literature"):html.index("Agents and costs")]
    assert 'data-beats-all="no"' in verdicts and 'data-baseline="auxconf"' in verdicts
    assert 'data-baseline="vanilla"' not in verdicts  # beaten: not a miss
    assert "does not beat 1 of the 2 literature baselines; closest auxconf +0.000 accuracy" in verdicts
    printed = CliRunner().invoke(app, ["campaign", "report", "--state", str(env.state.parent), "--out",
                                       str(env.state.parent / "r.html")], env={"COLUMNS": "250"})
    assert printed.exit_code == 0, printed.output
    assert "verdict: on math the best promoted method" in printed.output and "closest auxconf" in printed.output


def test_the_campaign_end_queues_each_agents_best_linked_submission_once(env: Env) -> None:
    bob = ForumClient(env.url, add_agent(env.state, "bob"))
    try:
        best = Env(env.state, env.suite, env.suite_file, bob, env.url).publish(HONEST, method="bob")
    finally:
        bob.close()
    messages: list[str] = []
    queued = queue_promotions(env.state.parent, messages.append)
    assert best in queued and best in queued_requests(env.state)
    assert best not in queue_promotions(env.state.parent, messages.append)  # already queued: not twice


def test_among_tied_best_submissions_the_campaign_end_queues_the_latest_linked_one(env: Env) -> None:
    """An evolve agent's end-of-run nomination ties with its earlier submissions under a frozen Ladder."""
    carol = ForumClient(env.url, add_agent(env.state, "carol"))
    try:
        as_carol = Env(env.state, env.suite, env.suite_file, carol, env.url)
        unlinked = as_carol.publish(HONEST, snapshot=False, method="carol")
        first = as_carol.publish(HONEST, method="carol")
        nominated = as_carol.publish(HONEST, method="carol")
        later_unlinked = as_carol.publish(HONEST, snapshot=False, method="carol")
    finally:
        carol.close()
    queued = queue_promotions(env.state.parent, lambda _m: None)
    assert nominated in queued
    assert not {unlinked, first, later_unlinked} & set(queued)


def test_the_promote_command_refuses_an_unknown_id_with_one_line_and_exit_2(env: Env) -> None:
    from typer.testing import CliRunner

    from aarlab.cli import app

    before = len(env.rows())
    result = CliRunner().invoke(app, ["promote", "nope", "--state", str(env.state.parent), "--suite",
                                      env.suite_file, "--home", str(env.suite.home)])
    assert result.exit_code == 2, result.output
    assert "no submission 'nope'" in result.output and "Traceback" not in result.output
    assert len(env.rows()) == before
    queued = CliRunner().invoke(app, ["promote", "--queued", "--against", "softer", "--state", str(env.state.parent),
                                      "--suite", env.suite_file, "--home", str(env.suite.home)])
    assert queued.exit_code == 2 and "unknown baseline(s) softer" in queued.output  # before any request is touched


def test_against_all_names_every_literature_baseline_that_learns_from_the_teacher() -> None:
    from aarlab.campaign.cli_promote import against_names

    assert against_names(["all"]) == ["auxconf", "bootstrap", "confident", "soft", "ue_weak", "vanilla"]
    assert against_names(["soft", "all", "soft"])[0] == "soft" and "zeroshot" not in against_names(["all"])
    with pytest.raises(ValueError, match="zeroshot"):
        against_names(["zeroshot"])  # it does not learn from the teacher: not a baseline to beat


def test_promote_best_promotes_the_best_queued_submission_and_says_how_it_generalised(env: Env) -> None:
    from aarlab.campaign._promote_best import pick_best, promote_best, promotion_lines
    from aarlab.campaign._state import CampaignInfo

    first, second = env.publish(HONEST, method="first"), env.publish(HONEST, method="second")
    for submission in (first, second):
        enqueue(env.state, submission)
    assert pick_best(env.state, [first, second]) == second  # the same public accuracy: the latest
    assert pick_best(env.state, [first, second], preferred=first) == first  # the evolve agents' nominee
    assert pick_best(env.state, [first, second], preferred="sub_not_queued") == second
    assert pick_best(env.state, []) is None
    campaign = env.state.parent / "campaign.json"
    saved = campaign.read_text()
    campaign.write_text(CampaignInfo(suite=env.suite_file, home=str(env.suite.home), agent_kind="search", minutes=1,
                                     concurrency=1, budget=5, started_at=0, deadline=60, agents=[],
                                     promote_best=True).model_dump_json())
    messages: list[str] = []
    try:
        result = promote_best(env.state.parent, messages.append)
    finally:
        campaign.write_text(saved)
    assert result is not None and result.status == "promoted", result
    assert result.submission_id == second and second not in queued_requests(env.state)
    assert first in queued_requests(env.state)  # one promotion, not the whole queue
    assert messages[0].startswith(f"promoting {second} by a clean re-run")
    lines = promotion_lines(result, ["math"])
    assert len(lines) == 3 and lines[0].startswith(f"promoted alice's {result.method} on math (clean re-run")
    shown = "undefined" if result.private_pgr is None else f"{result.private_pgr:.2f}"  # micro: gaps are noise
    assert f"private PGR {shown} against vanilla's" in lines[0] and "vanilla (accuracy" in lines[0]
    assert "on shuffled weak labels it scores" in lines[1]
    assert lines[2].startswith("how it generalised, held out (never seen by any agent): chat PGR")
    assert promotion_lines(result.model_copy(update={"status": "failed", "reason": "it crashed"})) == [
        f"promotion of alice's {result.method} on math failed: it crashed"]
