"""Credit for code: a result citing a snapshot another agent pushed first names that agent (re-pushing is copying)."""

from __future__ import annotations

from aarlab.client import ForumClient
from tests.server.conftest import RunningServer
from tests.server.helpers import constant, craft_tar


def _agent(server: RunningServer) -> ForumClient:
    return ForumClient(server.url, server.add_agent())


def test_a_result_citing_code_first_pushed_by_another_agent_credits_that_agent(server: RunningServer) -> None:
    code = craft_tar(("method.py", "file", "def method(ctx):\n    return {'first': True}\n"))
    with _agent(server) as alice, _agent(server) as bob:
        original = alice.push_archive(code)
        copy = bob.push_archive(code)
        assert copy.id == original.id  # the same bytes: the same snapshot, a second push
        receipt = bob.submit("math", constant(server.ids("math"), 0.7), method="copied")
        post = bob.post("result", "My method", "all mine", receipt=receipt.id, snapshot=copy.id)
        alice_name = alice.whoami().name
        assert (post.code_first_pushed_by, post.code_first_pushed_at) == (alice_name, original.created_at)
        shown = bob.show(post.id)
        assert shown.code_first_pushed_by == alice_name
        listed = next(p for p in bob.posts(kind="result", limit=500).posts if p.id == post.id)
        assert listed.code_first_pushed_by == alice_name


def test_a_result_citing_code_its_author_pushed_first_has_no_credit_line(server: RunningServer) -> None:
    code = craft_tar(("method.py", "file", "def method(ctx):\n    return {'own': True}\n"))
    with _agent(server) as alice, _agent(server) as bob:
        own = alice.push_archive(code)
        bob.push_archive(code)  # a later copy does not take the credit
        receipt = alice.submit("math", constant(server.ids("math"), 0.7), method="own")
        post = alice.post("result", "Mine", "really mine", receipt=receipt.id, snapshot=own.id)
        assert post.code_first_pushed_by is None and post.code_first_pushed_at is None
        plain = alice.post("insight", "No code", "just words")
        assert plain.code_first_pushed_by is None
