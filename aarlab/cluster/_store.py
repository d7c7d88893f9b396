"""Where a campaign's shared state lives in its storage, and the moves between a node and the head.

Keys under ``<storage URL>/<campaign id>/``::

    suite.tar.gz                   the built suite's models/ (never data/, baselines or caches: no labels)
    visible.tar.gz                 the agent-visible datasets (no labels)
    agents/NAME/setup.tar.gz       agent.json and token
    agents/NAME/checkpoint.tar.gz  what the agent wrote: workspace/, transcript, notebook, usage, agent.log

The head publishes the first three once; a node restores them and the latest checkpoint, writes checkpoints while
the agent runs and a last one when it stops; the head mirrors each checkpoint into its own state dir, so status,
report, monitor and dashboard read the same files as on one machine.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from aarlab.cluster._storage import PackReport, Storage, StorageError

#: Files of an agent dir that are the head's, never taken back from a node.
HEAD_FILES = ("agent.json", "token")
#: The agent process's output inside its agent dir on a node (mirrored to the head's ``logs/NAME.log``).
NODE_LOG = "agent.log"


@dataclass
class CampaignStore:
    """A campaign's keys in ``storage``."""

    storage: Storage
    campaign_id: str
    _mirrored: dict[str, str] = field(default_factory=dict)

    def key(self, *parts: str) -> str:
        """``<campaign id>/<parts...>``."""
        return "/".join((self.campaign_id, *parts))

    # -- head -> nodes ------------------------------------------------------------------------------------
    def publish(self, state: Path, suite_root: Path, agents: list[str]) -> None:
        """Store the suite's models, the visible data and each agent's set-up."""
        models = suite_root / "models"
        if models.is_dir():
            self.storage.put_tree(self.key("suite.tar.gz"), models)
        self.storage.put_tree(self.key("visible.tar.gz"), state / "visible")
        for name in agents:
            self.publish_setup(state, name)

    def publish_setup(self, state: Path, name: str) -> None:
        """Store ``agents/NAME/{agent.json,token}`` (a resume rewrites agent.json with a new deadline)."""
        with tempfile.TemporaryDirectory() as tmp:
            for file in HEAD_FILES:
                shutil.copy2(state / "agents" / name / file, Path(tmp) / file)
            self.storage.put_tree(self.key("agents", name, "setup.tar.gz"), Path(tmp))

    # -- on a node ----------------------------------------------------------------------------------------
    def restore_shared(self, home_suite: Path, visible: Path) -> None:
        """The suite's models (into ``home_suite/models``) and the visible data (into ``visible``): what every
        agent and experiment of the campaign reads, nothing with labels. :class:`StorageError` when the campaign
        was never published there."""
        self.storage.get_tree(self.key("suite.tar.gz"), home_suite / "models")
        if not self.storage.get_tree(self.key("visible.tar.gz"), visible):
            raise StorageError(f"storage {self.storage.url}: no visible data under {self.key('visible.tar.gz')}; "
                               "was the campaign published?")

    def restore(self, state: Path, home_suite: Path, name: str) -> bool:
        """Lay out a node-local campaign dir for agent ``name``; True when a checkpoint was restored."""
        self.restore_shared(home_suite, state / "visible")
        agent_dir = state / "agents" / name
        resumed = self.storage.get_tree(self.key("agents", name, "checkpoint.tar.gz"), agent_dir)
        if not self.storage.get_tree(self.key("agents", name, "setup.tar.gz"), agent_dir):
            raise StorageError(f"storage {self.storage.url}: no set-up of agent {name!r} under "
                               f"{self.key('agents', name)}; was the campaign published?")
        (agent_dir / "workspace").mkdir(parents=True, exist_ok=True)
        return resumed

    def checkpoint(self, state: Path, name: str) -> PackReport:
        """Store what agent ``name`` wrote on this node (its agent dir without the head's files)."""
        return self.storage.put_tree(self.key("agents", name, "checkpoint.tar.gz"), state / "agents" / name,
                                     exclude=HEAD_FILES)

    # -- back on the head ---------------------------------------------------------------------------------
    def mirror(self, state: Path, name: str) -> bool:
        """Copy agent ``name``'s latest checkpoint into the head's state dir if it changed; True when it did."""
        key = self.key("agents", name, "checkpoint.tar.gz")
        version = self.storage.version(key)
        if version is None or self._mirrored.get(name) == version:
            return False
        agent_dir = state / "agents" / name
        with tempfile.TemporaryDirectory(dir=state) as tmp:
            if not self.storage.get_tree(key, Path(tmp)):
                return False
            for file in HEAD_FILES:  # never taken from a node, whatever an archive holds
                (Path(tmp) / file).unlink(missing_ok=True)
            shutil.copytree(tmp, agent_dir, dirs_exist_ok=True)
        log = agent_dir / NODE_LOG
        if log.is_file():
            (state / "logs").mkdir(exist_ok=True)
            shutil.copyfile(log, state / "logs" / f"{name}.log")
        self._mirrored[name] = version
        return True
