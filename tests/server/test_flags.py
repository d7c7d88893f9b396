"""Integrity flags on a real server over loopback: a cheat corpus is flagged with evidence, honest work is not.

The suite here leaks on purpose: in ``math`` each question's right answer recurs (majority vote scores it), in
``chat`` the right answers come from a small pool of popular strings (answer frequency scores it), and ``flat``
has a 0.005 gap between teacher and ceiling.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from aarlab.client import ScoringClient
from aarlab.server import open_state
from aarlab.server._db import submission_flags
from aarlab.w2s.data import BinaryExample, ComparisonExample, Example, write_split
from aarlab.w2s.shortcuts import STRONG_ZERO_SHOT, answer_frequency, majority_vote, read_references, write_reference
from tests.server.conftest import TEST_SETTINGS, RunningServer, start_server
from tests.server.fakesuite import SUITE

BASELINES = {"math": (0.60, 0.85), "chat": (0.60, 0.90), "flat": (0.700, 0.705)}


def _math(split: str, n_questions: int) -> list[Example]:
    """Per question: the right answer five times, five distinct wrong answers once each."""
    rows: list[Example] = []
    for q in range(n_questions):
        question = f"{split} {q} ⊕ {q + 1}"
        rows += [BinaryExample(id=f"m-{split}-{q}-r{k}", question=question, choice=f"v{q}", label=True)
                 for k in range(5)]
        rows += [BinaryExample(id=f"m-{split}-{q}-w{k}", question=question, choice=f"x{q}-{k}", label=False)
                 for k in range(5)]
    return rows


def _chat(split: str, n: int, rng: random.Random) -> list[Example]:
    """One row per prompt; the right answer is one of five popular strings, the wrong one unique."""
    rows: list[Example] = []
    for i in range(n):
        right, wrong = f"popular{i % 5}", f"rare-{split}-{i}"
        b_right = rng.random() < 0.5
        rows.append(ComparisonExample(id=f"c-{split}-{i}", prompt=f"{split} prompt {i}",
                                      first=wrong if b_right else right, second=right if b_right else wrong,
                                      label="B" if b_right else "A"))
    return rows


def _flat(split: str, n: int, rng: random.Random) -> list[Example]:
    return [BinaryExample(id=f"f-{split}-{i}", question=f"q{i}", choice=f"c{i}", label=rng.random() < 0.5)
            for i in range(n)]


def write_leaky_suite(home: Path) -> Path:
    """A built suite (named like the fake one) whose datasets carry label-free shortcut signals."""
    rng = random.Random(0)
    root = home / "suites" / SUITE
    splits = {"math": {s: _math(s, n) for s, n in (("train_label", 2), ("train_unlabel", 10), ("test", 20))},
              "chat": {s: _chat(s, n, rng) for s, n in (("train_label", 20), ("train_unlabel", 100), ("test", 200))},
              "flat": {s: _flat(s, n, rng) for s, n in (("train_label", 20), ("train_unlabel", 20), ("test", 200))}}
    for dataset, by_split in splits.items():
        for split, rows in by_split.items():
            write_split(root / "data" / dataset / f"{split}.jsonl", rows)
    baselines = {"suite": SUITE, "version": "leaky-0",
                 "datasets": {d: {"weak_acc": w, "strong_acc": s, "vanilla_transfer_acc": None, "seeds": [0]}
                              for d, (w, s) in BASELINES.items()}}
    (root / "baselines.json").write_text(json.dumps(baselines))
    # The build's model-based reference: a stand-in for the strong model's zero-shot, 45 % right on chat.
    zero_shot = {e.id: (0.8 if (e.positive() == (rng.random() < 0.45)) else 0.2) for e in splits["chat"]["test"]}
    write_reference(root, "chat", STRONG_ZERO_SHOT, zero_shot)
    return home


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real server (SQLite, loopback) on the leaky suite."""
    home = write_leaky_suite(tmp_path_factory.mktemp("leaky-home"))
    running = start_server(home, tmp_path_factory.mktemp("leaky-state"), None, TEST_SETTINGS)
    yield running
    running.stop()


def _split(server: RunningServer, dataset: str, split: str) -> list[Example]:
    from aarlab.w2s.data import read_split

    path = server.home / "suites" / SUITE / "data" / dataset / f"{split}.jsonl"
    return [e.without_label() for e in read_split(path).examples]


def _visible(server: RunningServer, dataset: str) -> tuple[list[Example], list[Example]]:
    test = _split(server, dataset, "test")
    return test, _split(server, dataset, "train_unlabel") + test


def _honest(server: RunningServer, dataset: str, accuracy: float, seed: int) -> dict[str, float]:
    """A noisy copy of the truth: each hard prediction right with probability ``accuracy``, soft probabilities."""
    rng = random.Random(seed)
    out = {}
    for i, positive in server.labels(dataset).items():
        right = rng.random() < accuracy
        out[i] = 0.5 + (0.2 + 0.2 * rng.random()) * (1 if positive == right else -1)
    return out


def _kinds(receipt_flags: list) -> set[str]:
    return {f.kind for f in receipt_flags}


def _agent(server: RunningServer) -> ScoringClient:
    return server.client(server.add_agent())


def test_majority_vote_submission_is_flagged_with_its_evidence(leaky: RunningServer) -> None:
    test, visible = _visible(leaky, "math")
    receipt = _agent(leaky).submit("math", majority_vote(test, visible), method="majority")
    flag = next(f for f in receipt.flags if f.kind == "shortcut:majority-vote")
    assert flag.evidence["agreement"] == 1.0
    assert flag.evidence["shortcut_public_acc"] == 1.0
    assert isinstance(flag.evidence["threshold"], float) and flag.evidence["threshold"] <= 0.99
    assert "majority-vote" in flag.detail and "without using the teacher" in flag.detail
    assert "beyond-ceiling" in _kinds(receipt.flags)


def test_answer_frequency_submission_is_flagged(leaky: RunningServer) -> None:
    test, visible = _visible(leaky, "chat")
    receipt = _agent(leaky).submit("chat", answer_frequency(test, visible), method="popular")
    assert "shortcut:answer-frequency" in _kinds(receipt.flags)
    flag = next(f for f in receipt.flags if f.kind == "shortcut:answer-frequency")
    assert flag.evidence["rows_with_opinion"] == 200


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_honest_looking_submissions_are_not_flagged(leaky: RunningServer, seed: int) -> None:
    client = _agent(leaky)
    for dataset, accuracy in (("math", 0.75), ("chat", 0.8)):
        receipt = client.submit(dataset, _honest(leaky, dataset, accuracy, seed))
        assert receipt.flags == [], (dataset, receipt.flags)


def test_constant_predictions_are_flagged_but_squashed_varying_probabilities_are_not(leaky: RunningServer) -> None:
    client = _agent(leaky)
    constant = client.submit("chat", {i: 0.9 for i in leaky.ids("chat")})
    flag = next(f for f in constant.flags if f.kind == "constant-predictions")
    assert flag.evidence["share_one_side"] == 1.0
    squashed = {i: 0.5 + (p - 0.5) / 40 for i, p in _honest(leaky, "chat", 0.8, 7).items()}
    assert "constant-predictions" not in _kinds(client.submit("chat", squashed).flags)


def test_another_agents_predictions_replayed_with_new_noise_are_flagged(leaky: RunningServer) -> None:
    original = _honest(leaky, "chat", 0.8, 11)
    first = _agent(leaky).submit("chat", original)
    assert "replayed" not in _kinds(first.flags)
    renoised = {i: 0.5 + (p - 0.5) * 0.9 for i, p in original.items()}
    copy = _agent(leaky).submit("chat", renoised)
    flag = next(f for f in copy.flags if f.kind == "replayed")
    assert flag.evidence["first_submission_id"] == first.id


def test_the_same_agent_resubmitting_its_own_predictions_is_not_a_replay(leaky: RunningServer) -> None:
    client = _agent(leaky)
    predictions = _honest(leaky, "chat", 0.8, 13)
    client.submit("chat", predictions)
    assert "replayed" not in _kinds(client.submit("chat", predictions).flags)


def test_any_score_on_a_dataset_with_a_tiny_gap_is_flagged_and_says_why(leaky: RunningServer) -> None:
    receipt = _agent(leaky).submit("flat", _honest(leaky, "flat", 0.72, 0))
    flag = next(f for f in receipt.flags if f.kind == "gap-too-small")
    assert flag.evidence["gap"] == pytest.approx(0.005)
    assert "PGR on this dataset means nothing" in flag.detail


def test_a_jump_from_honest_scores_to_a_shortcut_is_flagged(leaky: RunningServer) -> None:
    client = _agent(leaky)
    test, visible = _visible(leaky, "math")
    for seed in (5, 6):
        assert "score-jump" not in _kinds(client.submit("math", _honest(leaky, "math", 0.65, seed)).flags)
    # Two earlier scores are no baseline yet: a jump after them is not judged.
    assert "score-jump" not in _kinds(client.submit("math", majority_vote(test, visible)).flags)
    client = _agent(leaky)
    for seed in (7, 8, 9):
        assert "score-jump" not in _kinds(client.submit("math", _honest(leaky, "math", 0.65, seed)).flags)
    jumped = client.submit("math", majority_vote(test, visible))
    assert "score-jump" in _kinds(jumped.flags)


def test_flags_are_listed_read_back_and_survive_a_restart(leaky: RunningServer) -> None:
    client = _agent(leaky)
    receipt = client.submit("chat", {i: 0.1 for i in leaky.ids("chat")})
    assert _kinds(client.submission(receipt.id).flags) == _kinds(receipt.flags) != set()
    listed = {r.id: r for r in client.submissions()}
    assert listed[receipt.id].flags == receipt.flags
    state = open_state(leaky.state)
    try:
        with state.db.reader.connect() as conn:
            stored = conn.execute(select(submission_flags.c.kind)
                                  .where(submission_flags.c.submission_id == receipt.id)).scalars().all()
    finally:
        state.db.dispose()
    assert set(stored) == _kinds(receipt.flags)


def test_cli_submit_prints_the_flags_and_the_leaderboard_shows_them_beside_the_scores(
        leaky: RunningServer, tmp_path: Path) -> None:
    from tests.server.test_cli import aarlab

    token = leaky.add_agent(name="flagged-cli")
    file = tmp_path / "p.jsonl"
    file.write_text("".join(json.dumps({"id": i, "p": 0.2}) + "\n" for i in leaky.ids("chat")))
    result = aarlab("submit", "--server", leaky.url, "--token", token, "--dataset", "chat", str(file))
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert [f["kind"] for f in printed["flags"]] == ["constant-predictions"]
    assert "flag constant-predictions" in result.stderr
    board = json.loads(aarlab("leaderboard", "--server", leaky.url, "--json", "--token", token).stdout)
    row = next(r for r in board["rows"] if r["submission_id"] == printed["id"])
    assert row["flags"][0]["evidence"]["share_one_side"] == 1.0
    table = aarlab("leaderboard", "--server", leaky.url, "--token", token)
    assert "constant-predictions" in table.stdout


def test_dashboard_leaderboard_agent_and_submission_pages_show_the_flags_with_evidence(leaky: RunningServer) -> None:
    import httpx

    from tests.server.helpers import auth

    client = leaky.client(leaky.add_agent(name="dash-cheat"))
    test, visible = _visible(leaky, "math")
    receipt = client.submit("math", majority_vote(test, visible), method="majority")
    headers = auth(leaky.admin_token)
    board = httpx.get(leaky.url + "/leaderboard", headers=headers).text
    assert 'data-flag="shortcut:majority-vote"' in board
    assert "shortcut:majority-vote" in httpx.get(leaky.url + "/agents/dash-cheat", headers=headers).text
    page = httpx.get(leaky.url + f"/submissions/{receipt.id}", headers=headers).text
    assert "agreement=1.0" in page and "shortcut_public_acc=1.0" in page


def test_labels_taken_from_the_strong_models_zero_shot_alone_are_flagged(leaky: RunningServer) -> None:
    zero_shot = read_references(leaky.home / "suites" / SUITE, "chat")[STRONG_ZERO_SHOT]
    receipt = _agent(leaky).submit("chat", zero_shot, method="zeroshot-only")
    flag = next(f for f in receipt.flags if f.kind == "shortcut:strong-zero-shot")
    assert flag.evidence["agreement"] == 1.0 and flag.evidence["shortcut_public_acc"] < 0.60


def test_labels_read_from_a_file_the_method_was_given_score_beyond_the_ceiling_and_are_flagged(
        leaky: RunningServer) -> None:
    # The LLM-knowledge stand-in: the method was handed the labels; no honest student beats its ceiling so far.
    known = {i: 0.9 if positive else 0.1 for i, positive in leaky.labels("chat").items()}
    receipt = _agent(leaky).submit("chat", known, method="oracle-file")
    flag = next(f for f in receipt.flags if f.kind == "beyond-ceiling")
    assert flag.evidence["public_pgr"] > flag.evidence["limit"] > 1.0


def test_init_with_a_malformed_shortcut_reference_fails_with_a_message_naming_the_line(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    from aarlab.server import StateError, init_state

    home = write_leaky_suite(tmp_path_factory.mktemp("bad-ref"))
    (home / "suites" / SUITE / "shortcuts" / "chat" / "broken.jsonl").write_text("not json\n")
    with pytest.raises(StateError, match=r"broken.jsonl:1"):
        init_state(tmp_path_factory.mktemp("bad-ref-state"), suite=SUITE, home=home)
