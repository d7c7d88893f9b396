"""The arguments of each tool as pydantic models: their JSON schemas are what the LLM sees, and every call is
validated against them before anything runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PostKind = Literal["result", "hypothesis", "insight", "failure", "question"]


class Args(BaseModel):
    """Arguments of one tool; unknown fields are a mistake the agent is told about."""

    model_config = ConfigDict(extra="forbid")


class NoArgs(Args):
    pass


class ShellArgs(Args):
    command: str = Field(min_length=1, max_length=20_000,
                         description="A bash command line, run in /workspace inside your sandbox (no network)")
    timeout_s: float | None = Field(None, gt=0, le=300, description="Wall-clock limit in seconds (default 300)")


class ReadFileArgs(Args):
    path: str = Field(description="Workspace path, e.g. 'methods/mine.py' or '/workspace/NOTES.txt'")
    start_line: int = Field(1, ge=1, description="First line to show (1-based)")
    max_lines: int | None = Field(None, ge=1, description="Lines to show from start_line (default: the rest)")


class WriteFileArgs(Args):
    path: str = Field(description="Workspace path of the file to create or replace")
    content: str = Field(description="The whole new content of the file")


class EditFileArgs(Args):
    path: str = Field(description="Workspace path of an existing text file")
    old: str = Field(description="Exact text to replace; it must occur exactly once in the file")
    new: str = Field(description="Text to put in its place")


class W2sRunArgs(Args):
    dataset: str = Field(description="One of your datasets")
    method: str = Field(description="A built-in method name (vanilla, soft, confident, ...) or a workspace path to "
                        "a method file such as 'methods/mine.py' written with the @method plug-in API")
    seed: int = Field(0, ge=0, le=1_000_000)
    seeds: list[Annotated[int, Field(ge=0, le=1_000_000)]] | None = Field(
        None, min_length=1, max_length=8, description="Several seeds in one call instead of `seed` (one experiment "
        "each; on a cluster they run in parallel), e.g. [0, 1, 2]")
    lane: Literal["finetune", "probe"] | None = Field(
        None, description="finetune: train the strong model; probe: heads on frozen features (seconds); "
        "default: the suite's lane")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Fields of the lane's training recipe to "
                                      "change, e.g. {\"lr\": 5e-5, \"epochs\": 3} or {\"head\": \"mlp\"}")


class SubmitArgs(Args):
    dataset: str
    predictions: str = Field(description="Workspace path of a JSONL predictions file ({\"id\", \"p\"} per line)")
    method: str = Field(description="Name on the leaderboard: letters, digits and _.:/+- (e.g. 'mine:v2')")
    notes: str | None = Field(None, max_length=2000, description="What this submission tests (kept with the "
                              "receipt in /workspace/submissions.jsonl)")


class ForumSearchArgs(Args):
    query: str = Field("", max_length=500, description="Words that must all occur; '' lists the newest posts")
    kind: PostKind | None = None
    dataset: str | None = Field(None, description="Only posts citing a result on this dataset")
    limit: int = Field(20, ge=1, le=100)


class ForumReadArgs(Args):
    post_id: int = Field(ge=1)


class ForumPostArgs(Args):
    kind: PostKind
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, description="Markdown; say what you did, why, and how to reproduce it")
    tags: list[str] = Field(default_factory=list, description="Lower-case tags ([a-z0-9-_.])")
    receipt: str | None = Field(None, description="Your submission id or receipt (required for kind 'result')")
    snapshot: str | None = Field(None, description="A snapshot id you pushed (required for kind 'result')")


class ForumReplyArgs(Args):
    post_id: int = Field(ge=1)
    body: str = Field(min_length=1)
    kind: PostKind = "insight"


class ForumVoteArgs(Args):
    post_id: int = Field(ge=1)
    value: Literal[-1, 0, 1] = Field(description="+1 up, -1 down, 0 withdraws your vote")


class SnapshotPushArgs(Args):
    path: str = Field(".", description="Workspace directory to push (default: the whole workspace)")
    parent: str | None = Field(None, description="Snapshot id this one builds on")


class SnapshotPullArgs(Args):
    snapshot_id: str = Field(min_length=8, max_length=64)
    dest: str | None = Field(None, description="Workspace directory to extract into (default snapshots/<id>)")


class NotebookWriteArgs(Args):
    content: str = Field(description="Markdown text")
    mode: Literal["replace", "append"] = Field("append", description="append (default) or replace the notebook")


def schema_of(model: type[Args]) -> dict[str, Any]:
    """The JSON schema of ``model`` as an LLM expects it (an object, no pydantic titles)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    schema = strip(model.model_json_schema())
    schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    return schema  # type: ignore[no-any-return]
