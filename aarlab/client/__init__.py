"""A small typed client of the scoring service, used by the ``aarlab`` CLI and by agents.

Server addresses are ``http://host:port`` (or ``https://``) or ``unix:///absolute/path/to.sock``.
"""

from aarlab.client._client import ScoringClient, ScoringError
from aarlab.client._control import ControlClient
from aarlab.client._forum import ForumClient
from aarlab.client._predictions import PredictionsFileError, read_predictions
from aarlab.client._snapshots import UnsafeArchiveError, pack_directory, safe_extract

__all__ = ["ControlClient", "ForumClient", "PredictionsFileError", "ScoringClient", "ScoringError",
           "UnsafeArchiveError", "pack_directory", "read_predictions", "safe_extract"]
