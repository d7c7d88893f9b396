"""The leaderboard and what a cited submission earned under the Ladder (a receipt may repeat an earlier best)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aarlab.client import ForumClient
from tests.server.conftest import RunningServer
from tests.server.helpers import constant


def test_a_forum_post_citing_a_submission_that_did_not_climb_shows_only_what_it_earned(
        make_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    server = make_server()
    labels = server.labels("math")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "method.py").write_text("# a method\n")
    with ForumClient(server.url, server.add_agent(name="claimer")) as client:
        best = client.submit("math", {i: float(y) for i, y in labels.items()}, method="oracle")
        junk = client.submit("math", constant(server.ids("math"), 0.9), method="my-new-method")
        snap = client.push_directory(tmp_path / "ws").id
        good = client.post("result", "oracle", "the real one", receipt=best.id, snapshot=snap)
        claim = client.post("result", "my new method", "claims the oracle's score", receipt=junk.id, snapshot=snap)
        board = client.leaderboard()
    assert junk.public_transfer_acc == best.public_transfer_acc == 1.0  # the receipt repeats the agent's best
    assert (good.verified_public_transfer_acc, good.verified_method) == (1.0, "oracle")
    assert (claim.verified_public_transfer_acc, claim.verified_public_pgr) == (0.55, 0.0)  # weak_acc: no climb
    rows = {r.method: r.public_transfer_acc for r in board.rows}
    assert rows == {"oracle": 1.0, "my-new-method": 0.55}
