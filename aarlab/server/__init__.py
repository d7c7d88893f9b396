"""The scoring service: custody of ground truth, budgets, public/private split, audit chain, leaderboard.

Exports load lazily, so ``aarlab --help`` does not pay for FastAPI and SQLAlchemy. Nothing here imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aarlab._lazy import lazy_exports

_EXPORTS = {
    "create_app": "_app",
    "serve": "_serve",
    "listen": "_serve",
    "Listener": "_serve",
    "ServerSettings": "_settings",
    "SettingsError": "_settings",
    "load_settings": "_settings",
    "SCORE_STEP": "_settings",
    "State": "_state",
    "StateError": "_state",
    "init_state": "_state",
    "is_initialized": "_state",
    "initialized_suite": "_state",
    "open_state": "_state",
    "read_admin_token": "_state",
    "verify_chain": "_audit",
    "VerifyReport": "_audit",
    "AuditAnchor": "_audit_anchor",
    "export_anchor": "_audit_anchor",
    "ApiError": "_errors",
    "AgentCreate": "_schemas",
    "AgentCreated": "_schemas",
    "BudgetEntry": "_schemas",
    "DatasetInfo": "_schemas",
    "Identity": "_schemas",
    "Leaderboard": "_schemas",
    "LeaderboardRow": "_schemas",
    "Prediction": "_schemas",
    "SubmissionFlag": "_schemas",
    "SubmissionReceipt": "_schemas",
    "SubmissionRequest": "_schemas",
    "Post": "_schemas_forum",
    "PostCreate": "_schemas_forum",
    "PostDetail": "_schemas_forum",
    "PostEdit": "_schemas_forum",
    "PostPage": "_schemas_forum",
    "PostVersion": "_schemas_forum",
    "VoteRequest": "_schemas_forum",
    "VoteResult": "_schemas_forum",
    "SnapshotInfo": "_schemas_forum",
    "SnapshotPushed": "_schemas_forum",
    "SnapshotPush": "_schemas_forum",
    "SnapshotUpload": "_schemas_forum",
    "ManifestEntry": "_schemas_forum",
    "ControlMessage": "_schemas_control",
    "ControlState": "_schemas_control",
    "add_agent": "_admin",
    "finalize": "_admin",
}

__all__ = [
    "ControlMessage",
    "ControlState",
    "Post",
    "PostCreate",
    "PostDetail",
    "PostEdit",
    "PostPage",
    "PostVersion",
    "VoteRequest",
    "VoteResult",
    "SnapshotInfo",
    "SnapshotPushed",
    "SnapshotPush",
    "SnapshotUpload",
    "ManifestEntry",
    "AgentCreate",
    "AgentCreated",
    "ApiError",
    "BudgetEntry",
    "DatasetInfo",
    "Identity",
    "Leaderboard",
    "LeaderboardRow",
    "Listener",
    "Prediction",
    "SCORE_STEP",
    "ServerSettings",
    "SettingsError",
    "State",
    "StateError",
    "SubmissionFlag",
    "SubmissionReceipt",
    "SubmissionRequest",
    "VerifyReport",
    "AuditAnchor",
    "export_anchor",
    "add_agent",
    "create_app",
    "finalize",
    "init_state",
    "is_initialized",
    "initialized_suite",
    "listen",
    "load_settings",
    "open_state",
    "read_admin_token",
    "serve",
    "verify_chain",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from aarlab.server._admin import add_agent, finalize
    from aarlab.server._app import create_app
    from aarlab.server._audit import VerifyReport, verify_chain
    from aarlab.server._audit_anchor import AuditAnchor, export_anchor
    from aarlab.server._errors import ApiError
    from aarlab.server._schemas import (
        AgentCreate,
        AgentCreated,
        BudgetEntry,
        DatasetInfo,
        Identity,
        Leaderboard,
        LeaderboardRow,
        Prediction,
        SubmissionFlag,
        SubmissionReceipt,
        SubmissionRequest,
    )
    from aarlab.server._schemas_control import ControlMessage, ControlState
    from aarlab.server._schemas_forum import (
        ManifestEntry,
        Post,
        PostCreate,
        PostDetail,
        PostEdit,
        PostPage,
        PostVersion,
        SnapshotInfo,
        SnapshotPush,
        SnapshotPushed,
        SnapshotUpload,
        VoteRequest,
        VoteResult,
    )
    from aarlab.server._serve import Listener, listen, serve
    from aarlab.server._settings import SCORE_STEP, ServerSettings, SettingsError, load_settings
    from aarlab.server._state import State, StateError, init_state, is_initialized, open_state, read_admin_token
