"""File tools on the agent's workspace (host side): safe path resolution, size limits, exact-string edits.

Paths are relative to the workspace, or absolute under ``/workspace`` (the path the agent sees in its sandbox).
Anything else is refused: absolute paths elsewhere, ``..`` escapes, and symlinks that lead out of the workspace.
No agent process runs while these tools run (every sandboxed command is killed with its sandbox), so nothing can
swap a checked path for a link in between; the resolved path is then opened through :mod:`aarlab._agentfiles`
anyway (no link followed on the way, ``O_NONBLOCK`` + ``fstat``: a FIFO or socket is refused, reads bounded).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from aarlab._agentfiles import AgentFileTooLarge, UnsafeAgentFile, read_agent_file, write_agent_file
from aarlab.agents.sandbox import WORKSPACE
from aarlab.agents.tools._base import ToolError

#: Largest file ``read_file`` opens and ``write_file`` / ``edit_file`` writes.
MAX_FILE_BYTES = 2_000_000
#: Largest notebook (it is put back into the model's context after every reset).
MAX_NOTEBOOK_BYTES = 64_000
NOTEBOOK = "NOTEBOOK.md"


class Workspace:
    """The agent's read-write directory on the host (``/workspace`` in its sandbox)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def relative(self, path: str) -> PurePosixPath:
        """``path`` as a workspace-relative path, or :class:`ToolError` when it points outside."""
        if not path or "\x00" in path:
            raise ToolError("path is empty; give a path relative to /workspace, e.g. 'methods/mine.py'")
        pure = PurePosixPath(path)
        if pure.is_absolute():
            try:
                pure = pure.relative_to(WORKSPACE)
            except ValueError:
                raise ToolError(f"{path}: only files under {WORKSPACE} can be read or written; use a path "
                                "relative to the workspace") from None
        if ".." in pure.parts:
            raise ToolError(f"{path}: '..' is not allowed; use a path inside {WORKSPACE}")
        return pure

    def resolve(self, path: str) -> Path:
        """The host path of a workspace path; :class:`ToolError` when it (or a symlink on the way) leads out."""
        target = self.root / self.relative(path)
        resolved = target.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise ToolError(f"{path}: a symlink leads outside {WORKSPACE}; only workspace files can be used")
        return resolved

    def display(self, host: Path) -> str:
        """How the agent sees a host path of its workspace."""
        rel = host.relative_to(self.root).as_posix()
        return WORKSPACE if rel == "." else f"{WORKSPACE}/{rel}"

    def read_text(self, path: str) -> str:
        """A UTF-8 text file of the workspace (at most :data:`MAX_FILE_BYTES`)."""
        host = self.resolve(path)
        if not host.exists():
            raise ToolError(f"{path}: no such file in {WORKSPACE}{self._listing(host.parent)}")
        if host.is_dir():
            raise ToolError(f"{path} is a directory; list it with the shell tool (`ls {self.display(host)}`)")
        try:
            data = read_agent_file(self.root, self._inside(host), MAX_FILE_BYTES)
        except AgentFileTooLarge:
            raise ToolError(f"{path} has {host.stat().st_size} bytes (limit {MAX_FILE_BYTES}); look at parts of it "
                            "with the shell tool (head, tail, grep)") from None
        except UnsafeAgentFile as err:  # a FIFO or socket would block the harness on open
            raise ToolError(f"{path} is not a regular file ({err.reason}); only regular files can be read") from None
        if b"\x00" in data[:8192]:
            raise ToolError(f"{path} is a binary file; inspect it with the shell tool (e.g. `python -c ...`)")
        return data.decode("utf-8", "replace")

    def write_text(self, path: str, content: str, *, limit: int = MAX_FILE_BYTES) -> Path:
        """Create or replace a text file (parent directories created); returns its host path."""
        data = content.encode("utf-8")
        if len(data) > limit:
            raise ToolError(f"content has {len(data)} bytes (limit {limit}); write smaller files")
        host = self.resolve(path)
        if host == self.root or host.is_dir():
            raise ToolError(f"{path} is a directory; give a file path")
        try:  # parents created without following links; a FIFO or socket at the name is refused, not opened
            write_agent_file(self.root, self._inside(host), data)
        except UnsafeAgentFile as err:
            raise ToolError(f"{path} is not a regular file ({err.reason}); remove it or pick another name") from None
        return host

    def _inside(self, host: Path) -> str:
        """A resolved host path of the workspace as a path relative to its root."""
        return host.relative_to(self.root).as_posix()

    def edit(self, path: str, old: str, new: str) -> int:
        """Replace the one occurrence of ``old`` by ``new``; returns the line number where the edit starts."""
        if not old:
            raise ToolError("old is empty; give the exact text to replace (write_file creates or replaces a file)")
        text = self.read_text(path)
        count = text.count(old)
        if count == 0:
            hint = ""
            stripped = old.strip()
            if stripped and stripped in text:
                hint = " (it occurs with different leading/trailing whitespace; copy it exactly)"
            raise ToolError(f"{path}: old text not found{hint}; read the file and copy the text to replace exactly")
        if count > 1:
            raise ToolError(f"{path}: old text occurs {count} times; include more surrounding lines so that it "
                            "matches exactly once")
        at = text.index(old)
        self.write_text(path, text[:at] + new + text[at + len(old):])
        return text.count("\n", 0, at) + 1

    def notebook(self) -> str:
        """``NOTEBOOK.md`` ("" when absent)."""
        try:  # the shell can grow it past the limit: never put more than that in context
            data = read_agent_file(self.root, NOTEBOOK, MAX_NOTEBOOK_BYTES, truncate=True)
        except OSError:  # missing, or a link / FIFO the shell planted
            return ""
        return data.decode("utf-8", errors="replace")

    def write_notebook(self, content: str, *, append: bool) -> int:
        """Replace or extend ``NOTEBOOK.md``; returns its new size in bytes."""
        text = content
        if append:
            current = self.notebook()
            text = current + ("\n" if current and not current.endswith("\n") else "") + content
        self.write_text(NOTEBOOK, text, limit=MAX_NOTEBOOK_BYTES)
        return len(text.encode("utf-8"))

    def _listing(self, directory: Path) -> str:
        if not directory.is_dir() or (directory != self.root and self.root not in directory.parents):
            return ""
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in directory.iterdir())[:30]
        return f"; {self.display(directory)} holds: {', '.join(names) or '(nothing)'}"
