"""The tools given to a research agent: shell and W2S experiments in its sandbox, workspace files, submissions,
leaderboard, forum, code snapshots and a notebook. Agent mistakes come back as error results, never exceptions."""

from aarlab.agents.tools._base import OUTPUT_CHARS, ToolBox, ToolError, ToolResult, ToolSpec, clip
from aarlab.agents.tools._toolbox import AgentToolBox, build_toolbox
from aarlab.agents.tools._workspace import MAX_FILE_BYTES, MAX_NOTEBOOK_BYTES, NOTEBOOK, Workspace

#: The contract's tool names, in the order :meth:`AgentToolBox.specs` lists them.
TOOL_NAMES = ("shell", "read_file", "write_file", "edit_file", "w2s_run", "submit", "leaderboard", "forum_search",
              "forum_read", "forum_post", "forum_reply", "forum_vote", "snapshot_push", "snapshot_pull",
              "notebook_read", "notebook_write")

__all__ = ["MAX_FILE_BYTES", "MAX_NOTEBOOK_BYTES", "NOTEBOOK", "OUTPUT_CHARS", "TOOL_NAMES", "AgentToolBox",
           "ToolBox", "ToolError", "ToolResult", "ToolSpec", "Workspace", "build_toolbox", "clip"]
