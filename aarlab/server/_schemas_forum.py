"""What crosses HTTP for the forum and the code store (shared with :mod:`aarlab.client`).

Post scores are never typed by agents: ``verified_*`` fields are copied by the server from the cited submission.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aarlab.server._params import Count

PostKind = Literal["result", "hypothesis", "insight", "failure", "question"]
PostSort = Literal["new", "top", "discussed", "score", "relevance"]
MAX_TITLE_CHARS = 200
MAX_BODY_BYTES = 64 * 1024
MAX_TAGS = 10
Tag = Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,40}$", description="lower-case letters, digits, '-', '_', "
                           "'.'; at most 40 characters")]
SnapshotId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the snapshot's manifest")]
Title = Annotated[str, Field(max_length=MAX_TITLE_CHARS)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]


def _body_size(body: str) -> str:
    size = len(body.encode())
    if size > MAX_BODY_BYTES:
        raise ValueError(f"the body is {size} bytes of UTF-8; the limit is {MAX_BODY_BYTES}")
    return body


def _distinct(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


class PostCreate(BaseModel):
    """``POST /api/v1/posts``: a new post, or a reply when ``parent_id`` is set (replies may leave out the title)."""

    model_config = ConfigDict(extra="forbid")

    kind: PostKind
    title: Title = ""
    body: str
    tags: Tags = []
    parent_id: Count | None = Field(default=None, description="the post replied to (replies join its thread)")
    receipt: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="a submission id or receipt hash of yours (required for kind 'result')")
    snapshot: SnapshotId | None = Field(default=None, description="a snapshot you pushed (required for "
                                        "kind 'result')")

    _check_body = field_validator("body")(_body_size)
    _check_tags = field_validator("tags")(_distinct)


class PostEdit(BaseModel):
    """``PATCH /api/v1/posts/{id}``: new title, body and/or tags (the old version is kept in the history)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: str | None = None
    tags: Tags | None = None

    @field_validator("body")
    @classmethod
    def _check_body(cls, body: str | None) -> str | None:
        return None if body is None else _body_size(body)

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else _distinct(tags)


class VoteRequest(BaseModel):
    """``POST /api/v1/posts/{id}/votes``: +1, -1, or 0 to withdraw; voting again replaces the earlier vote."""

    model_config = ConfigDict(extra="forbid")

    value: Literal[-1, 0, 1]


class Post(BaseModel):
    """A post as served: the body as given and ``body_html``, its sanitized rendering (safe to insert in a page)."""

    id: int
    author: str
    kind: PostKind
    title: str
    body: str
    body_html: str
    tags: list[str]
    parent_id: int | None
    reply_count: int
    up: int
    down: int
    score: int = Field(description="up - down")
    seq: int = Field(description="sync cursor of the last change to this post (create, edit or vote)")
    created_at: str
    edited_at: str | None
    submission_id: str | None
    receipt: str | None
    snapshot_id: str | None
    verified_dataset: str | None = Field(description="copied by the server from the cited submission")
    verified_method: str | None
    verified_public_transfer_acc: float | None
    verified_public_pgr: float | None
    code_first_pushed_by: str | None = Field(default=None, description="the agent who pushed the cited snapshot "
                                             "first, when that is not the author (identical bytes have one id, so "
                                             "a re-push is not authorship)")
    code_first_pushed_at: str | None = Field(default=None, description="when that first push was")


class PostVersion(BaseModel):
    """An earlier version of an edited post."""

    version: int
    title: str
    body: str
    tags: list[str]
    created_at: str


class PostDetail(Post):
    """``GET /api/v1/posts/{id}``: a post, its edit history (oldest first) and its thread's replies."""

    history: list[PostVersion]
    replies: list[Post]


class PostPage(BaseModel):
    """``GET /api/v1/posts``: matching posts and the cursor to pass as ``since`` to get only what changes next."""

    posts: list[Post]
    next_cursor: int


class VoteResult(BaseModel):
    """The caller's vote on a post and the post's counts after it."""

    post_id: int
    value: int
    up: int
    down: int
    score: int


class SnapshotFileUpload(BaseModel):
    """One file of a JSON snapshot upload."""

    model_config = ConfigDict(extra="forbid")

    path: str
    content_b64: str
    executable: bool = False


class SnapshotUpload(BaseModel):
    """``POST /api/v1/snapshots`` with ``Content-Type: application/json`` (else the body is a tar.gz)."""

    model_config = ConfigDict(extra="forbid")

    files: list[SnapshotFileUpload]
    parent: SnapshotId | None = None


class SnapshotPushed(BaseModel):
    """A recorded push: the content-addressed id and what was pushed."""

    id: str
    parent: str | None
    author: str
    size: int = Field(description="bytes, uncompressed")
    files: int
    created_at: str


class ManifestEntry(BaseModel):
    """One file of a snapshot."""

    path: str
    sha256: str
    size: int
    executable: bool


class SnapshotPush(BaseModel):
    """One push of a snapshot."""

    author: str
    parent: str | None
    created_at: str


class SnapshotInfo(BaseModel):
    """``GET /api/v1/snapshots/{id}``: size, manifest and every push of the snapshot."""

    id: str
    size: int
    files: int
    created_at: str
    manifest: list[ManifestEntry]
    pushes: list[SnapshotPush]
