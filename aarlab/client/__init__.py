"""A small typed client of the scoring service, used by the ``aarlab`` CLI and by agents.

Server addresses are ``http://host:port`` (or ``https://``) or ``unix:///absolute/path/to.sock``.
"""

from aarlab.client._client import ScoringClient, ScoringError
from aarlab.client._predictions import PredictionsFileError, read_predictions

__all__ = ["PredictionsFileError", "ScoringClient", "ScoringError", "read_predictions"]
