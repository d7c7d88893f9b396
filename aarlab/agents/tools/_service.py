"""Tools that talk to the scoring service with the agent's own token: submissions, leaderboard, forum, snapshots.

They run in the harness (outside the sandbox) over the campaign's Unix socket; the agent only names workspace
paths. The server's refusals (budget used up, bad ids, not your receipt) come back as error results.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from aarlab._agentfiles import UnsafeAgentFile, write_agent_file
from aarlab.agents.tools._base import ToolError, ToolResult, clip
from aarlab.agents.tools._workspace import Workspace

if TYPE_CHECKING:
    from aarlab.client import ForumClient
    from aarlab.server import Post

#: Files and directories a snapshot push leaves out.
SNAPSHOT_EXCLUDE = (".git", "__pycache__", ".venv", ".cache")


def _post_line(post: Post) -> str:
    verified = ""
    if post.verified_dataset is not None:
        verified = (f" · verified {post.verified_dataset}/{post.verified_method}: public PGR "
                    f"{post.verified_public_pgr}")
    return (f"#{post.id} [{post.kind}] {post.title} — {post.author}, score {post.score}, "
            f"{post.reply_count} replies{verified} · tags: {', '.join(post.tags) or '-'}")


def _post_full(post: Post) -> str:
    cites = [f"receipt {post.receipt}" if post.receipt else "", f"snapshot {post.snapshot_id}"
             if post.snapshot_id else ""]
    cited = "; ".join(c for c in cites if c)
    return f"{_post_line(post)}\n{post.created_at}{' · ' + cited if cited else ''}\n\n{post.body}"


class ServiceTools:
    """The agent's scoring, forum and code-store tools over one :class:`ForumClient`."""

    def __init__(self, workspace: Workspace, server: str, token: str) -> None:
        self.workspace = workspace
        self.server = server
        self._token = token
        self._client: ForumClient | None = None

    @property
    def client(self) -> ForumClient:
        """The agent's client (opened on first use)."""
        from aarlab.client import ForumClient

        if self._client is None:
            self._client = ForumClient(self.server, self._token)
        return self._client

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def submit(self, dataset: str, predictions: str, method: str, notes: str | None = None) -> ToolResult:
        """Submit a workspace predictions file; the receipt is also appended to ``submissions.jsonl``."""
        from aarlab.client import PredictionsFileError, read_predictions

        host = self.workspace.resolve(predictions)
        try:
            records, _ = read_predictions(host, within=self.workspace.root)
        except PredictionsFileError as err:
            raise ToolError(str(err).replace(str(self.workspace.root), "/workspace")) from None
        receipt = self.client.submit(dataset, records, method=method)
        entry = {"t": time.time(), "receipt": receipt.model_dump(mode="json"), "predictions": predictions,
                 "notes": notes}
        note = ""
        try:  # never appended through a link or FIFO planted at the name
            write_agent_file(self.workspace.root, "submissions.jsonl", json.dumps(entry) + "\n", append=True)
        except UnsafeAgentFile as err:
            note = f"(not recorded in /workspace/submissions.jsonl: {err.reason})\n"
        return ToolResult(note +
            f"submitted {predictions} as {method!r} on {dataset}\nsubmission id: {receipt.id}\n"
            f"receipt: {receipt.receipt}\npublic accuracy: {receipt.public_transfer_acc}\n"
            f"public PGR: {receipt.public_pgr}\nevaluations left on {dataset}: {receipt.remaining_budget}\n"
            + ("your public score on this dataset is frozen (its Ladder information budget is spent): later "
               "submissions will not move it; select by your own validation from now on\n"
               if receipt.public_frozen else "") +
            "cite the submission id in a forum_post of kind 'result' (with a snapshot_push of your code)")

    def leaderboard(self) -> ToolResult:
        """The leaderboard rows (best stored public score per agent, method and dataset)."""
        board = self.client.leaderboard()
        if not board.rows:
            return ToolResult("the leaderboard is empty (no submissions yet)")
        lines = ["agent | method | dataset | public acc | public PGR | evaluations"]
        lines += [f"{r.agent} | {r.method} | {r.dataset} | {r.public_transfer_acc} | {r.public_pgr} | "
                  f"{r.evaluations}" for r in board.rows]
        return ToolResult(clip("\n".join(lines)))

    def forum_search(self, query: str, kind: str | None = None, dataset: str | None = None,
                     limit: int = 20) -> ToolResult:
        """Posts matching every word of ``query`` ("" lists the newest), one line each."""
        if query.strip():
            found = self.client.search(query, kind=kind, dataset=dataset, limit=limit)
        else:
            found = self.client.posts(kind=kind, dataset=dataset, limit=limit, sort="new").posts
        if not found:
            return ToolResult("no posts match")
        return ToolResult(clip("\n".join(_post_line(p) for p in found)))

    def forum_read(self, post_id: int) -> ToolResult:
        """A post with its replies."""
        detail = self.client.show(post_id)
        parts = [_post_full(detail)]
        parts += [f"--- reply ---\n{_post_full(r)}" for r in detail.replies]
        return ToolResult(clip("\n\n".join(parts)))

    def forum_post(self, kind: str, title: str, body: str, tags: list[str] | None = None,
                   receipt: str | None = None, snapshot: str | None = None) -> ToolResult:
        """Create a post (a ``result`` cites a receipt or submission id and a snapshot of yours)."""
        post = self.client.post(kind, title, body, tags=tags, receipt=receipt, snapshot=snapshot)
        return ToolResult(f"posted #{post.id}\n{_post_line(post)}")

    def forum_reply(self, post_id: int, body: str, kind: str = "insight") -> ToolResult:
        """Reply in a post's thread."""
        post = self.client.reply(post_id, body, kind=kind)
        return ToolResult(f"replied #{post.id} to #{post_id}\n{_post_line(post)}")

    def forum_vote(self, post_id: int, value: int) -> ToolResult:
        """Vote +1 / -1 (0 withdraws)."""
        vote = self.client.vote(post_id, value)
        return ToolResult(f"your vote on #{vote.post_id}: {vote.value:+d} (score {vote.score}: {vote.up} up, "
                          f"{vote.down} down)")

    def snapshot_push(self, path: str = ".", parent: str | None = None) -> ToolResult:
        """Push a workspace directory (default: all of it) as a content-addressed snapshot."""
        from aarlab.client import UnsafeArchiveError, pack_directory

        host = self.workspace.resolve(path)
        if not host.is_dir():
            raise ToolError(f"{path}: not a directory of the workspace; give a directory (e.g. '.' or 'methods')")
        try:
            archive = pack_directory(host, exclude=SNAPSHOT_EXCLUDE)
        except UnsafeArchiveError as err:
            raise ToolError(f"cannot push {path}: {err}") from None
        pushed = self.client.push_archive(archive, parent=parent)
        return ToolResult(f"snapshot {pushed.id}\n{pushed.files} files, {pushed.size} bytes (from "
                          f"{self.workspace.display(host)}; {', '.join(SNAPSHOT_EXCLUDE)} left out)")

    def snapshot_pull(self, snapshot_id: str, dest: str | None = None) -> ToolResult:
        """Extract a snapshot into a workspace directory (default ``snapshots/<first 12 of the id>``)."""
        from aarlab.client import UnsafeArchiveError

        target = dest or f"snapshots/{snapshot_id[:12]}"
        host = self.workspace.resolve(target)
        if host == self.workspace.root:
            raise ToolError("pull into a subdirectory (e.g. 'snapshots/abc'), not over the whole workspace")
        try:
            written = self.client.pull(snapshot_id, host)
        except UnsafeArchiveError as err:
            raise ToolError(f"refused snapshot {snapshot_id}: {err}") from None
        names = [self.workspace.display(Path(p)) for p in written[:40]]
        more = f"\n... and {len(written) - 40} more" if len(written) > 40 else ""
        return ToolResult(f"pulled {len(written)} files into {self.workspace.display(host)}:\n" + "\n".join(names)
                          + more)
