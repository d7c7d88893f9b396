"""What an LLM research agent is told: the system prompt and the research directions it starts from."""

from aarlab.agents.prompts._directions import BUILTIN, Direction, DirectionError, load_directions
from aarlab.agents.prompts._system import render_system_prompt

__all__ = ["BUILTIN", "Direction", "DirectionError", "load_directions", "render_system_prompt"]
