"""What crosses HTTP: request and response bodies of the scoring API (shared with :mod:`aarlab.client`).

Nothing here carries per-example correctness, counts or label distributions; public scores are rounded to 0.01.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictStr
from typing_extensions import TypedDict

from aarlab.server._params import Count

#: Range and finiteness are checked by the scorer (vectorised, with the offending index), not here.
Probability = Annotated[StrictFloat, Field(json_schema_extra={"minimum": 0, "maximum": 1},
                                           description="P(positive): probability of True (binary) or B "
                                           "(comparison), a finite number in [0, 1]")]
AgentName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                                 description="letters, digits, '_', '.', '-'; at most 64 characters")]
MethodName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,99}$",
                                  description="the method's name on the leaderboard")]


class Prediction(TypedDict):
    """One line of a predictions file: a test example id and P(positive)."""

    id: StrictStr
    p: Probability


class SubmissionRequest(BaseModel):
    """``POST /api/v1/submissions``: one prediction per test id of ``dataset``."""

    model_config = ConfigDict(extra="forbid")

    dataset: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    method: MethodName = "default"
    predictions: Annotated[list[Prediction], Field(min_length=1)]


class SubmissionFlag(BaseModel):
    """An integrity flag on a stored submission: a hint for a human, with its evidence in numbers.

    ``kind``: ``shortcut:<name>``, ``beyond-ceiling``, ``gap-too-small``, ``constant-predictions``, ``replayed``
    or ``score-jump`` (docs/scoring.md). Computed from label-free quantities and already-public scores only.
    """

    kind: str
    detail: str
    evidence: dict[str, float | int | str | None] = Field(default_factory=dict)


class SubmissionReceipt(BaseModel):
    """A stored evaluation: rounded public scores and the receipt hash that the audit chain covers."""

    id: str
    agent: str
    dataset: str
    method: str
    public_transfer_acc: float = Field(description="the agent's public score on this dataset after this submission "
                                       "(the Ladder, docs/scoring.md): it changes only when a submission beats the "
                                       "agent's best public accuracy by the step, and is then that accuracy rounded "
                                       "to 0.01; the weak teacher's accuracy before any such climb")
    public_pgr: float | None = Field(description="PGR of public_transfer_acc against the fixed baselines, rounded "
                                     "to 0.01; null when strong_acc <= weak_acc")
    remaining_budget: int = Field(description="evaluations left to this agent on this dataset")
    public_frozen: bool = Field(default=False, description="true once this agent's public score on this dataset "
                                "is frozen: its Ladder information budget (server setting ladder_bits) is spent, "
                                "so no later submission moves it; private scoring at finalize is unaffected")
    receipt: str = Field(description="sha256 over id, agent, dataset, predictions hash, scores, time and the "
                         "previous audit hash")
    predictions_sha256: str
    created_at: str
    flags: list[SubmissionFlag] = Field(default_factory=list, description="integrity flags stored with the "
                                        "submission (docs/scoring.md)")


class DatasetInfo(BaseModel):
    """A scorable dataset (its test split) and its fixed baselines."""

    name: str
    kind: Literal["binary", "comparison"]
    n_test: int
    weak_acc: float
    strong_acc: float
    baseline_version: str


class BudgetEntry(BaseModel):
    """The caller's evaluation budget on one dataset."""

    dataset: str
    budget: int
    used: int
    remaining: int


class Identity(BaseModel):
    """Who a token belongs to."""

    name: str
    is_admin: bool


class AgentCreate(BaseModel):
    """``POST /api/v1/admin/agents`` (admin only)."""

    model_config = ConfigDict(extra="forbid")

    name: AgentName
    budget: Count | None = None


class AgentCreated(BaseModel):
    """A new agent and its bearer token (shown once; the server keeps only its hash)."""

    name: str
    token: str
    budget: int | None


class LeaderboardRow(BaseModel):
    """Best stored public score of one agent's method on one dataset (+ private scores once finalized)."""

    agent: str
    method: str
    dataset: str
    public_transfer_acc: float
    public_pgr: float | None
    evaluations: int
    submission_id: str
    private_transfer_acc: float | None = None
    private_pgr: float | None = None
    flags: list[SubmissionFlag] = Field(default_factory=list, description="integrity flags of this row's "
                                        "submission")
    promotion: str | None = Field(None, description="promoted | failed: the latest promotion by clean re-run of "
                                  "this row's submission (`aarlab promote`); None when never promoted")
    promoted_private_pgr: float | None = Field(None, description="private PGR of the promotion's re-run (fresh "
                                               "seeds, fresh sandbox)")
    held_out_pgr: float | None = Field(None, description="mean PGR of the re-run on the suite's other datasets")
    promotion_flags: list[str] = Field(default_factory=list, description="flags of the promotion, e.g. 'ignores "
                                       "the weak labels'")


class Leaderboard(BaseModel):
    """``GET /api/v1/leaderboard``: derived only from stored evaluations, best public accuracy first."""

    finalized_at: str | None
    rows: list[LeaderboardRow]


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: one message saying what is wrong and what to do."""

    detail: str
