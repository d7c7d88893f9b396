"""``DIR/campaign.json``: what a campaign is (suite, agents, directions, deadline) and where each agent stands.

Layout of a campaign state dir::

    campaign.json            this file (written atomically)
    server/                  the scoring service's state dir (ground truth; never mounted into a sandbox)
    scoring.sock             the service's Unix socket
    visible/<dataset>/       agent-visible data (no labels; the weak teacher's soft labels)
    agents/NAME/token        the agent's bearer token (0600)
    agents/NAME/agent.json   the agent's assignment (read by its process)
    agents/NAME/workspace/   its sandbox's /workspace (optuna study, predictions, trial logs)
    logs/NAME.log            the agent process's output
    agents/NAME/transcript.jsonl, usage.json   what the agent did and spent (see docs/agents.md)
    admin.token              the admin token of an external scoring service (--server; 0600)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aarlab._files import atomic_write_text

AgentState = Literal["pending", "running", "done", "crashed", "stopped"]
#: States a ``campaign resume`` starts again.
UNFINISHED: tuple[AgentState, ...] = ("pending", "running", "crashed", "stopped")


#: Agent kinds that need no LLM, and the module each runs: optuna over the method library, and evolution over
#: method programs (``--agent search`` / ``--agent evolve``). Any other kind is a model string.
OFFLINE_KINDS: dict[str, str] = {"search": "aarlab.agents.search", "evolve": "aarlab.agents.evolve"}


class CampaignError(RuntimeError):
    """The campaign cannot be set up, run or read; the message says what to do."""


class AgentAssignment(BaseModel):
    """What one agent process is told (``agents/NAME/agent.json``); it holds no secret."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str = Field(description="'search' (offline researcher) or a model name")
    direction: str
    suite: str
    home: str = Field(description="aarlab home holding the built suite (only its models/ enters the sandbox)")
    datasets: list[str] = Field(description="Datasets to work on, first is the agent's own")
    seed: int
    deadline: float = Field(description="Unix time at which the agent stops (its wall budget)")
    trial_timeout_s: float = 300.0
    model: str | None = Field(None, description="Provider model string of an LLM agent, e.g. "
                              "'anthropic/claude-sonnet-4-5'; None for the search agent")
    base_url: str | None = Field(None, description="The model provider's endpoint, when not its default")
    direction_name: str = Field("", description="Name of the research direction (built-in or user file)")
    direction_text: str = Field("", description="The full research direction given in the agent's prompt")
    budget_usd: float | None = Field(None, ge=0, description="LLM spend after which the agent stops")
    budget_tokens: int | None = Field(None, ge=0, description="LLM tokens (input + output) after which it stops")
    budget_experiments: int | None = Field(None, ge=0, description="w2s_run calls after which it stops")
    prices_file: str | None = Field(None, description="TOML price table (USD per million tokens) for the runtime")


class AgentRecord(BaseModel):
    """One agent as the supervisor sees it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    direction: str
    state: AgentState = "pending"
    restarts: int = 0
    pid: int | None = Field(None, description="The agent process while it runs (on this machine)")
    exit_code: int | None = None
    node: str | None = Field(None, description="Cluster campaigns: the node it runs (or last ran) on, ip/node-id")
    moves: int = Field(0, description="Cluster campaigns: restarts on another node after its node was lost")


class ClusterSettings(BaseModel):
    """How a campaign runs across machines: the Ray cluster, the storage its nodes share, the service's address."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(description="Ray address (HOST:PORT, ray://HOST:PORT, auto) or 'local' (in-process)")
    storage: str = Field(description="fsspec URL of the shared state (a directory, or s3://bucket/prefix)")
    campaign_id: str = Field(description="Prefix of this campaign's keys in the storage")
    service_url: str = Field(description="Where agents on any node reach the scoring service (http(s)://host:port)")
    request: dict[str, float] = Field(description="Ray resources one agent asks for (CPU, GPU, memory, custom)")
    experiment_request: dict[str, float] = Field(
        default_factory=lambda: {"CPU": 1.0},
        description="Ray resources each seed of an agent's experiment asks for when it fans out as a task")
    checkpoint_s: float = Field(15.0, description="Seconds between an agent's checkpoints to the storage")
    node_dir: str | None = Field(None, description="Where nodes put agents' local dirs (default: the temp dir)")
    tls_cert: str | None = Field(None, description="PEM certificate the service serves HTTPS with (nodes trust it)")
    tls_key: str | None = Field(None, description="Its private key (stays on the head)")


class CampaignInfo(BaseModel):
    """``campaign.json``."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    home: str
    agent_kind: str
    minutes: float
    concurrency: int
    budget: int = Field(description="Evaluations per agent per dataset")
    server: str | None = Field(None, description="URL of an existing scoring service the campaign uses instead "
                               "of starting its own (agents reach it through scoring.sock either way)")
    dashboard_port: int | None = Field(None, description="TCP port on 127.0.0.1 where the campaign's own "
                                       "server also listens (dashboard)")
    started_at: float
    deadline: float
    stopped_at: float | None = None
    server_pid: int | None = Field(None, description="The campaign's scoring service process while it runs")
    ended_at: float | None = None
    agents: list[AgentRecord]
    cluster: ClusterSettings | None = Field(None, description="Set when agents run as Ray actors (--cluster)")
    dev_datasets: list[str] | None = Field(None, description="The datasets agents work on (--dev-dataset); the "
                                           "suite's others are held out. None: every dataset")
    ladder_bits: float | None = Field(None, ge=0, description="The campaign's own server's Ladder information "
                                      "budget per agent and dataset (--ladder-bits); None: the server default")
    promote_best: bool = Field(False, description="At the end, promote the campaign's best queued submission by a "
                               "clean re-run and say how it generalised to the held-out datasets (--promote-best)")

    def agent(self, name: str) -> AgentRecord:
        """The record of agent ``name``."""
        for record in self.agents:
            if record.name == name:
                return record
        raise CampaignError(f"no agent {name!r} in this campaign; agents: {', '.join(a.name for a in self.agents)}")


def campaign_file(state: Path) -> Path:
    """Where a campaign's state lives."""
    return state / "campaign.json"


def load_campaign(state: Path) -> CampaignInfo:
    """Read ``campaign.json``, or :class:`CampaignError` saying how to start one."""
    path = campaign_file(state)
    if not path.is_file():
        raise CampaignError(f"{state} is not a campaign state dir (no {path.name}); start one with "
                            f"`aarlab campaign run --state {state}`")
    try:
        return CampaignInfo.model_validate_json(path.read_text())
    except ValidationError as err:
        raise CampaignError(f"{path}: not a valid campaign file ({err.errors()[0]['msg']})") from None


def save_campaign(state: Path, info: CampaignInfo) -> None:
    """Write ``campaign.json`` atomically (a reader never sees half a file)."""
    atomic_write_text(campaign_file(state), info.model_dump_json(indent=2))


def now() -> float:
    """Wall-clock Unix time (deadlines are shared between processes)."""
    return time.time()
