"""Run-time settings of the scoring service: defaults live here and nowhere else."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Public scores are rounded to this step; it is part of the leakage argument in docs/scoring.md.
SCORE_STEP = 0.01


class SettingsError(ValueError):
    """A settings file is missing or malformed; the message names the file and the field."""


class ServerSettings(BaseModel):
    """Budgets, rate limits and request limits of one server run (``aarlab server start --config FILE``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_budget: int = Field(default=50, ge=0, description="evaluations per agent per dataset, unless the "
                                "agent was created with its own --budget")
    rate_per_s: float = Field(default=2.0, gt=0, description="sustained requests per second per agent")
    rate_burst: int = Field(default=10, ge=1, description="requests an agent may make at once before throttling")
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="largest accepted request body")
    max_batch: int = Field(default=64, ge=1, description="most state changes committed in one transaction")
    max_snapshot_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="largest accepted snapshot "
                                    "upload body (POST /api/v1/snapshots only; every other route keeps "
                                    "max_body_bytes)")
    snapshot_max_total_bytes: int = Field(default=64 * 1024 * 1024, ge=1, description="largest snapshot, "
                                          "uncompressed")
    snapshot_max_files: int = Field(default=5000, ge=1, description="most files in one snapshot")
    snapshot_max_file_bytes: int = Field(default=16 * 1024 * 1024, ge=1, description="largest file in a snapshot")
    public_feedback: Literal["ladder", "none", "legacy"] = Field(
        default="ladder", description="public scores through the Ladder (a receipt's score moves only when the agent "
        "beats its shown score by the step, give or take a keyed perturbation; docs/scoring.md); 'none' = every "
        "receipt shows the weak teacher's accuracy "
        "(no public feedback, no public label leaks); 'legacy' = every submission rounded to 0.01 and exact "
        "private scores per agent/method at finalize, kept only to measure the old leak (benchmarks/label_leak.py)")
    ladder_z: float = Field(default=0.4, gt=0, description="Ladder step = z / sqrt(n_public), rounded up to 0.01: "
                            "z standard deviations of the public accuracy change that random flips can cause")
    ladder_noise: float = Field(default=0.7, ge=0, description="standard deviation of the secret-keyed Gaussian "
                                "perturbation of each submission's public accuracy before it meets the Ladder's "
                                "bar, in units of 1 / sqrt(n_public) (same draw for replays and near-duplicates); "
                                "0 = none")
    ladder_chance_z: float = Field(default=4.0, ge=0, description="no bar is below the best constant guess's public "
                                   "accuracy plus this many standard deviations of a label-free query's perturbed "
                                   "accuracy, so that random submissions cannot climb; 0 = no floor")
    ladder_bits: float | None = Field(default=2.0, ge=0, description="information budget of the Ladder per agent "
                                      "and dataset, in bits (docs/scoring.md): each answer is charged what it can "
                                      "carry about the public labels (about 0 for a model clearly above or below "
                                      "the bar, up to ~0.5 for a query sitting on it); once an answer would pass "
                                      "the budget the agent's public score on that dataset freezes for good "
                                      "(receipts say so). null = unlimited")
    store_url: str | None = Field(default=None, description="fsspec URL of the code store, e.g. s3://bucket/prefix "
                                  "(default: <state_dir>/store)")


def load_settings(path: Path | None) -> ServerSettings:
    """Settings from a TOML file of ``ServerSettings`` fields (top level or under ``[server]``); defaults if None."""
    if path is None:
        return ServerSettings()
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such settings file") from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{path}: invalid TOML ({err})") from None
    data = data.get("server", data)
    try:
        return ServerSettings.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise SettingsError(f"{path}: {problems} (fields: {', '.join(ServerSettings.model_fields)})") from None
