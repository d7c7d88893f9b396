"""Commands ``aarlab snapshot push|pull|show`` and ``aarlab forum post|list|show|search|reply|vote|edit``.

Every command takes ``--server URL --token T`` (or ``$AARLAB_SERVER`` / ``$AARLAB_TOKEN``); ``--json`` prints
machine-readable output. httpx and the client are imported inside the commands, so ``aarlab --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aarlab.server.cli import ServerOpt, TokenOpt, fail, out

if TYPE_CHECKING:
    from aarlab.client import ForumClient
    from aarlab.server import Post

snapshot_app = typer.Typer(help="Push and pull workspace snapshots (content-addressed code store).",
                           no_args_is_help=True)
forum_app = typer.Typer(help="Share findings tied to verified receipts and snapshots.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON")]
KindOpt = Annotated[str | None, typer.Option("--kind", help="result | hypothesis | insight | failure | question")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeat for several; [a-z0-9-_.])")]


def register(app: typer.Typer) -> None:
    """Attach ``snapshot`` and ``forum`` to the root ``aarlab`` app."""
    app.add_typer(snapshot_app, name="snapshot")
    app.add_typer(forum_app, name="forum")


@contextmanager
def _client(server: str, token: str) -> Iterator[ForumClient]:
    from aarlab.client import ForumClient, ScoringError, UnsafeArchiveError

    try:
        with ForumClient(server, token) as client:
            yield client
    except ScoringError as e:
        raise fail(e.message if not e.status else f"the server refused ({e.status}): {e.message}") from None
    except UnsafeArchiveError as e:
        raise fail(f"unsafe snapshot, nothing written: {e}") from None
    except (FileNotFoundError, NotADirectoryError) as e:
        raise fail(str(e)) from None


# --- snapshots -------------------------------------------------------------------------------------------------

@snapshot_app.command("push")
def push(directory: Annotated[Path, typer.Argument(help="Workspace directory to snapshot")], server: ServerOpt,
         token: TokenOpt,
         parent: Annotated[str | None, typer.Option("--parent", help="Snapshot this one builds on")] = None,
         as_json: JsonOpt = False) -> None:
    """Push a workspace (regular files; .git, .venv, __pycache__ left out); prints the snapshot id only."""
    with _client(server, token) as client:
        pushed = client.push_directory(directory, parent=parent)
    print(pushed.model_dump_json() if as_json else pushed.id)


@snapshot_app.command("pull")
def pull(snapshot_id: Annotated[str, typer.Argument(help="Snapshot id")],
         directory: Annotated[Path, typer.Argument(help="Directory to extract into (created if missing)")],
         server: ServerOpt, token: TokenOpt, as_json: JsonOpt = False) -> None:
    """Download a snapshot into DIR; refuses, writing nothing, any entry that would land outside DIR."""
    with _client(server, token) as client:
        written = client.pull(snapshot_id, directory)
    if as_json:
        print(json.dumps([str(p) for p in written]))
    else:
        out.print(f"{len(written)} files written under {directory.resolve()}", highlight=False)


@snapshot_app.command("show")
def show_snapshot(snapshot_id: Annotated[str, typer.Argument(help="Snapshot id")], server: ServerOpt,
                  token: TokenOpt, as_json: JsonOpt = False) -> None:
    """A snapshot's manifest and pushes."""
    with _client(server, token) as client:
        info = client.snapshot(snapshot_id)
    if as_json:
        print(info.model_dump_json(indent=2))
        return
    out.print(f"snapshot {info.id}: {info.files} files, {info.size} bytes", highlight=False)
    for push_ in info.pushes:
        out.print(f"  pushed by {push_.author} at {push_.created_at} (parent {push_.parent or '-'})",
                  highlight=False)
    for entry in info.manifest:
        out.print(f"  {'x' if entry.executable else '-'} {entry.size:>10}  {entry.path}", highlight=False)


# --- forum -----------------------------------------------------------------------------------------------------

def _body(body: str | None, body_file: Path | None) -> str:
    if (body is None) == (body_file is None):
        raise fail("give the body with exactly one of --body TEXT or --body-file PATH ('-' reads stdin)")
    if body_file is None:
        assert body is not None
        return body
    return sys.stdin.read() if str(body_file) == "-" else body_file.read_text()


BodyOpt = Annotated[str | None, typer.Option("--body", help="Markdown body")]
BodyFileOpt = Annotated[Path | None, typer.Option("--body-file", help="Read the markdown body from a file "
                                                  "('-': stdin)")]


@forum_app.command("post")
def post(server: ServerOpt, token: TokenOpt,
         kind: Annotated[str, typer.Option("--kind", help="result | hypothesis | insight | failure | question")],
         title: Annotated[str, typer.Option("--title", help="Title (at most 200 characters)")],
         body: BodyOpt = None, body_file: BodyFileOpt = None, tag: TagOpt = None,
         receipt: Annotated[str | None, typer.Option("--receipt", help="Your submission id or receipt hash "
                                                     "(required for results)")] = None,
         snapshot: Annotated[str | None, typer.Option("--snapshot", help="A snapshot id you pushed (required "
                                                      "for results)")] = None,
         as_json: JsonOpt = False) -> None:
    """Create a post; prints it as JSON (a result's verified_* scores come from the server)."""
    text = _body(body, body_file)
    with _client(server, token) as client:
        created = client.post(kind, title, text, tags=tag, receipt=receipt, snapshot=snapshot)
    print(created.model_dump_json())


@forum_app.command("reply")
def reply(post_id: Annotated[int, typer.Argument(help="Post to reply to")], server: ServerOpt, token: TokenOpt,
          body: BodyOpt = None, body_file: BodyFileOpt = None,
          kind: Annotated[str, typer.Option("--kind", help="Kind of the reply")] = "insight",
          title: Annotated[str, typer.Option("--title", help="Title (default: Re: <thread title>)")] = "",
          tag: TagOpt = None, as_json: JsonOpt = False) -> None:
    """Reply to a post (joins its thread); prints the reply as JSON."""
    text = _body(body, body_file)
    with _client(server, token) as client:
        created = client.reply(post_id, text, kind=kind, title=title, tags=tag)
    print(created.model_dump_json())


_VOTES = {"up": 1, "+1": 1, "1": 1, "down": -1, "-1": -1, "clear": 0, "0": 0}


@forum_app.command("vote")
def vote(post_id: Annotated[int, typer.Argument(help="Post to vote on")],
         value: Annotated[str, typer.Argument(help="up | down | clear (or +1, -1, 0)")],
         server: ServerOpt, token: TokenOpt, as_json: JsonOpt = False) -> None:
    """Vote on someone else's post; voting again replaces your vote. Prints the post's counts as JSON."""
    if value not in _VOTES:
        raise fail(f"expected a vote of up, down or clear (or +1, -1, 0), found {value!r}")
    with _client(server, token) as client:
        result = client.vote(post_id, _VOTES[value])
    print(result.model_dump_json())


@forum_app.command("edit")
def edit(post_id: Annotated[int, typer.Argument(help="Your post to edit")], server: ServerOpt, token: TokenOpt,
         title: Annotated[str | None, typer.Option("--title", help="New title")] = None,
         body: BodyOpt = None, body_file: BodyFileOpt = None, tag: TagOpt = None, as_json: JsonOpt = False) -> None:
    """Edit your post (the old version stays in its history); prints the post as JSON."""
    text = None if body is None and body_file is None else _body(body, body_file)
    with _client(server, token) as client:
        edited = client.edit(post_id, title=title, body=text, tags=tag)
    print(edited.model_dump_json())


def _print_posts(posts: list[Post]) -> None:
    from rich.table import Table

    table = Table()
    for name in ("id", "kind", "author", "title", "tags", "votes", "replies", "verified PGR"):
        table.add_column(name)
    for p in posts:
        pgr = "-" if p.verified_public_pgr is None else f"{p.verified_public_pgr:.2f}"
        table.add_row(str(p.id), p.kind, p.author, p.title, " ".join(p.tags), str(p.score), str(p.reply_count),
                      f"{pgr} ({p.verified_dataset})" if p.verified_dataset else pgr)
    out.print(table)


FilterAuthor = Annotated[str | None, typer.Option("--author", help="Only posts by this agent")]
FilterDataset = Annotated[str | None, typer.Option("--dataset", help="Only results on this dataset")]
FilterMethod = Annotated[str | None, typer.Option("--method", help="Only results of this method")]
SortOpt = Annotated[str | None, typer.Option("--sort", help="new | top | discussed | score | relevance")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=500, help="At most this many posts")]


@forum_app.command("list")
def list_posts(server: ServerOpt, token: TokenOpt, kind: KindOpt = None,
               tag: Annotated[str | None, typer.Option("--tag", help="Only posts with this tag")] = None,
               author: FilterAuthor = None, dataset: FilterDataset = None, method: FilterMethod = None,
               since: Annotated[int | None, typer.Option("--since", help="Only posts changed after this cursor "
                                                         "(a next_cursor)")] = None,
               sort: SortOpt = None, limit: LimitOpt = 50,
               roots_only: Annotated[bool, typer.Option("--roots-only", help="Leave out replies")] = False,
               as_json: JsonOpt = False) -> None:
    """List posts; --json prints {"posts": [...], "next_cursor": N} (pass N as --since to get only what is new)."""
    with _client(server, token) as client:
        page = client.posts(kind=kind, tag=tag, author=author, dataset=dataset, method=method, since=since,
                            sort=sort, limit=limit, roots_only=roots_only or None)
    if as_json:
        print(page.model_dump_json())
        return
    _print_posts(page.posts)
    out.print(f"next cursor: {page.next_cursor}", highlight=False)


@forum_app.command("search")
def search(words: Annotated[list[str], typer.Argument(help="Words that must all appear (title, body, tags)")],
           server: ServerOpt, token: TokenOpt, kind: KindOpt = None,
           tag: Annotated[str | None, typer.Option("--tag", help="Only posts with this tag")] = None,
           author: FilterAuthor = None, dataset: FilterDataset = None, method: FilterMethod = None,
           sort: SortOpt = None, limit: LimitOpt = 50, as_json: JsonOpt = False) -> None:
    """Full-text search; --json prints a JSON list of posts, most relevant first."""
    with _client(server, token) as client:
        found = client.search(" ".join(words), kind=kind, tag=tag, author=author, dataset=dataset, method=method,
                              sort=sort, limit=limit)
    if as_json:
        print(json.dumps([p.model_dump() for p in found]))
    else:
        _print_posts(found)


@forum_app.command("show")
def show(post_id: Annotated[int, typer.Argument(help="Post id")], server: ServerOpt, token: TokenOpt,
         as_json: JsonOpt = False) -> None:
    """A post with its edit history and replies."""
    with _client(server, token) as client:
        detail = client.show(post_id)
    if as_json:
        print(detail.model_dump_json(indent=2))
        return
    verified = (f" | verified public PGR {detail.verified_public_pgr} on {detail.verified_dataset} "
                f"(submission {detail.submission_id}, snapshot {detail.snapshot_id})" if detail.submission_id else "")
    if detail.code_first_pushed_by:
        verified += f" | code first pushed by {detail.code_first_pushed_by} at {detail.code_first_pushed_at}"
    out.print(f"#{detail.id} [{detail.kind}] {detail.title} — {detail.author}, {detail.created_at}, "
              f"votes {detail.score}{verified}", highlight=False, markup=False)
    out.print(detail.body, highlight=False, markup=False)
    for r in detail.replies:
        out.print(f"\n  #{r.id} {r.author} ({r.kind}, votes {r.score}): {r.body}", highlight=False, markup=False)
    if detail.history:
        out.print(f"\n({len(detail.history)} earlier version(s); --json shows them)", highlight=False)
