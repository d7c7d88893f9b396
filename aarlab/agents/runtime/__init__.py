"""The LLM research agent runtime: a model (Claude or any OpenAI-compatible server, through inspect_ai), the
agent's tools, operator control, budgets, a transcript written as it happens, compaction and resume."""

from aarlab.agents.runtime._control import ControlSource, ControlStateLike, NoControl, StaticState
from aarlab.agents.runtime._history import Conversation, replay
from aarlab.agents.runtime._ledger import Budget, Ledger, Usage
from aarlab.agents.runtime._loop import AgentRun, LoopSettings, Outcome, Terminated, ToolBoxLike
from aarlab.agents.runtime._model import ChatModel, Completion, ModelConfigError, ModelSettings, ProviderError
from aarlab.agents.runtime._prices import DEFAULT_PRICES, ModelPrice, PricesError, PriceTable, TokenUsage
from aarlab.agents.runtime._transcript import Transcript, read_events

__all__ = ["DEFAULT_PRICES", "AgentRun", "Budget", "ChatModel", "Completion", "ControlSource", "ControlStateLike",
           "Conversation", "Ledger", "LoopSettings", "ModelConfigError", "ModelPrice", "ModelSettings", "NoControl",
           "Outcome", "PriceTable", "PricesError", "ProviderError", "StaticState", "Terminated", "TokenUsage",
           "ToolBoxLike", "Transcript", "Usage", "read_events", "replay"]
