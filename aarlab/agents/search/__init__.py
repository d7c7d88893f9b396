"""The offline search researcher: optuna over the method library and training hyper-parameters, no LLM."""

from aarlab.agents.search._agent import METHODS, SearchAgent, best_foreign_config, config_of_post, suggest
from aarlab.agents.search._trial import TrialConfig, run_trial

__all__ = ["METHODS", "SearchAgent", "TrialConfig", "best_foreign_config", "config_of_post", "run_trial", "suggest"]
