"""Research lineage: a post that builds on another agent's code says so in the campaign report and on the dashboard
(its snapshot's recorded parent, or a snapshot id its text cites that another agent pushed first)."""

from __future__ import annotations

from pathlib import Path

import httpx

from aarlab.campaign._report import render_report
from aarlab.client import ForumClient
from aarlab.server import open_state
from aarlab.server._lineage import builds_on
from tests.dashboard.seed import SeededCampaign


def _workspace(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.mkdir()
    (path / "method.py").write_text(text)
    return path


def test_posts_building_on_another_agents_snapshot_are_shown_with_the_cited_post(seeded: SeededCampaign,
                                                                                tmp_path: Path) -> None:
    with ForumClient(seeded.url, seeded.tokens["alice"]) as alice:
        alice_snapshot = alice.push_directory(_workspace(tmp_path, "a", "def run(ctx):\n    return 1\n")).id
        alice_post = alice.post("result", "alice's base", "base", receipt=alice.submissions()[-1].id,
                                snapshot=alice_snapshot)
    with ForumClient(seeded.url, seeded.tokens["bob"]) as bob:
        receipt = bob.submissions()[-1].id
        child = bob.push_directory(_workspace(tmp_path, "b", "def run(ctx):\n    return 2\n"), parent=alice_snapshot)
        by_parent = bob.post("result", "bob's child", "a mutation", receipt=receipt, snapshot=child.id)
        other = bob.push_directory(_workspace(tmp_path, "c", "def run(ctx):\n    return 3\n")).id
        by_text = bob.post("result", "bob's crossover", f"It started from snapshot `{alice_snapshot}` (crossover); "
                           f"not from `{'f' * 64}`, which nobody pushed.", receipt=receipt, snapshot=other)
        own = bob.post("result", "bob again", f"It started from my own snapshot `{other}`.", receipt=receipt,
                       snapshot=bob.push_directory(_workspace(tmp_path, "d", "x = 4\n")).id)
    state = open_state(seeded.state)
    try:
        with state.db.reader.connect() as conn:
            lineage = builds_on(conn, [alice_post.id, by_parent.id, by_text.id, own.id])
    finally:
        state.db.dispose()
    assert set(lineage) == {by_parent.id, by_text.id}  # alice's own post and bob citing bob build on no one else
    for post in (by_parent, by_text):
        [cited] = lineage[post.id]  # the made-up id is not a snapshot anyone pushed
        assert (cited.snapshot_id, cited.author, cited.post_id) == (alice_snapshot, "alice", alice_post.id)

    html = render_report(seeded.campaign)
    row = html[html.index(f'<tr data-post="{by_parent.id}"'):]
    row = row[:row.index("</tr>")]
    assert f'alice <code>{alice_snapshot[:12]}</code> (<a href="#post-{alice_post.id}">#{alice_post.id}</a>)' in row
    own_row = html[html.index(f'<tr data-post="{own.id}"'):]
    assert '<td class="builds-on">–</td>' in own_row[:own_row.index("</tr>")]
    with httpx.Client(base_url=seeded.url) as viewer:
        viewer.post("/login", data={"token": seeded.viewer_token, "next": "/forum"})
        thread = viewer.get(f"/forum/{by_text.id}").text
        forum = viewer.get("/forum").text
    shown = (f'builds on alice\'s snapshot <a href="/snapshots/{alice_snapshot}"><code>{alice_snapshot[:12]}</code>'
             f'</a> (<a href="/forum/{alice_post.id}">#{alice_post.id}</a>)')
    assert shown in thread and shown in forum
