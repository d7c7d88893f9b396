"""The offline search researcher: an optuna study over methods and training multipliers.

Each trial runs in the agent's sandbox (:mod:`aarlab.agents.search._trial`), is submitted to the scoring service
with the agent's own token, and its rounded public PGR is the trial's value. A new best is pushed as a snapshot
and posted as a ``result`` citing the receipt. Every few trials the agent reads the forum and enqueues the best
verified configuration posted by others. The study lives in ``/workspace/study.db`` (SQLite), so a restarted
process continues it.

Every trial, submission, snapshot and post is recorded in ``agents/NAME/transcript.jsonl`` (as tool calls and
results) with counters in ``usage.json``. Between trials the agent polls the operator's control channel: paused
-> it waits, stopped -> it stops cleanly (an older server without the channel is tolerated).

The workspace is the agent's own (its sandboxed trials write there), so this host process reads and writes it only
through :mod:`aarlab._agentfiles`: a symlink or FIFO planted at ``last_trial.log``, ``predictions.jsonl`` or
``best_config.json`` is refused (logged), never written or read through.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aarlab._agentfiles import UnsafeAgentFile, list_agent_dir, write_agent_file
from aarlab.agents.search._journal import Journal
from aarlab.agents.search._trial import TrialConfig

if TYPE_CHECKING:
    import optuna

    from aarlab.agents.sandbox import BubblewrapSandbox
    from aarlab.client import ControlClient, ForumClient
    from aarlab.server import Post, SubmissionReceipt

#: Built-in methods the search covers (``zeroshot`` does not train, so it has nothing to tune).
METHODS = ("vanilla", "soft", "confident", "auxconf", "bootstrap", "ue_weak")
LR_MULT = (0.25, 4.0)
EPOCHS_MULT = (0.5, 3.0)
#: Read the forum after this many trials.
FORUM_EVERY = 3
#: Seconds between control polls while paused.
PAUSE_POLL_S = 2.0
BASELINE = TrialConfig(method="vanilla")
_CONFIG_BLOCK = re.compile(r"```json\s*(\{.*?\})\s*```", re.S)
#: The most of a trial's output kept in ``last_trial.log`` (its end).
MAX_TRIAL_LOG_BYTES = 1024 * 1024


class BudgetExhausted(Exception):
    """The scoring service refused a submission because the agent's evaluation budget is used up."""


def suggest(trial: optuna.Trial) -> TrialConfig:
    """The search space: one method and two multipliers of the suite's strong training recipe."""
    return TrialConfig(method=trial.suggest_categorical("method", METHODS),
                       lr_mult=trial.suggest_float("lr_mult", *LR_MULT, log=True),
                       epochs_mult=trial.suggest_float("epochs_mult", *EPOCHS_MULT))


def in_space(config: TrialConfig) -> bool:
    """Whether optuna can enqueue ``config`` in this agent's search space."""
    return (config.method in METHODS and LR_MULT[0] <= config.lr_mult <= LR_MULT[1]
            and EPOCHS_MULT[0] <= config.epochs_mult <= EPOCHS_MULT[1])


def config_of_post(post: Post) -> TrialConfig | None:
    """The configuration a search agent's result post carries in its ```json block, if any."""
    match = _CONFIG_BLOCK.search(post.body)
    if match is None:
        return None
    try:
        return TrialConfig.model_validate_json(match.group(1))
    except ValueError:
        return None


def best_foreign_config(posts: list[Post], me: str, dataset: str) -> tuple[TrialConfig, float] | None:
    """The best verified configuration that others posted: on ``dataset`` if any, else on any dataset."""
    candidates: list[tuple[bool, float, TrialConfig]] = []
    for post in posts:
        if post.kind != "result" or post.author == me or post.verified_public_pgr is None:
            continue
        config = config_of_post(post)
        if config is not None and in_space(config):
            candidates.append((post.verified_dataset == dataset, post.verified_public_pgr, config))
    if not candidates:
        return None
    _, score, config = max(candidates, key=lambda c: (c[0], c[1]))
    return config, score


def method_label(config: TrialConfig) -> str:
    """The method name shown on the leaderboard (letters, digits, ``._:/+-``)."""
    return f"search:{config.method}/lr{config.lr_mult:.3g}/ep{config.epochs_mult:.3g}"


class SearchAgent:
    """One search researcher, driven by its assignment; :meth:`run` works until the deadline or the budget."""

    def __init__(self, state: Path, name: str, log: Callable[[str], None] | None = None) -> None:
        from aarlab.agents.sandbox import AgentLayout
        from aarlab.campaign._setup import assignment_file
        from aarlab.campaign._state import AgentAssignment

        self.layout = AgentLayout.open(state, name)
        self.assignment = AgentAssignment.model_validate_json(assignment_file(self.layout.state, name).read_text())
        self.dataset = self.assignment.datasets[0]
        self.log = log or (lambda m: print(f"[{name}] {m}", flush=True))
        self.cursor_file = self.layout.agent_dir / "forum_cursor"
        self.control_cursor_file = self.layout.agent_dir / "control_cursor"
        self.journal = Journal(self.layout.agent_dir, self.assignment.budget_experiments, self.assignment.deadline)
        self._control: ControlClient | None = None
        self._sandbox: BubblewrapSandbox | None = None
        self._control_available = True

    # -- pieces ---------------------------------------------------------------------------------------------
    def _client(self) -> ForumClient:
        from aarlab.client import ForumClient

        token = self.layout.read_token()
        if token is None:
            raise RuntimeError(f"agent {self.layout.name} has no token at {self.layout.token_file}")
        return ForumClient(f"unix://{self.layout.scoring_socket}", token)

    def _study(self) -> optuna.Study:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.check_study_files()
        storage = f"sqlite:///{self.layout.workspace / 'study.db'}"
        study = optuna.create_study(study_name=f"{self.layout.name}-{self.dataset}", storage=storage,
                                    load_if_exists=True, direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=self.assignment.seed, n_startup_trials=4))
        trials = study.get_trials(deepcopy=False)
        for trial in trials:  # a trial the previous process was running when it died
            if trial.state == optuna.trial.TrialState.RUNNING:
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
                self.log(f"resume: trial {trial.number} was interrupted; marked failed")
        if not trials:
            study.enqueue_trial(BASELINE.model_dump())
        return study

    def sandbox(self, timeout_s: float) -> BubblewrapSandbox:
        """The agent's sandbox for experiments: its workspace, the visible data and only the suite's ``models/``
        (the suite's ``data/`` and artifact cache hold labels and stay outside)."""
        from aarlab.agents.sandbox import SandboxLimits
        from aarlab.suites import load_suite

        suite = load_suite(self.assignment.suite, Path(self.assignment.home))
        return self.layout.sandbox(SandboxLimits(wall_s=max(1.0, timeout_s), memory_mb=4096),
                                   extra_ro=[suite.root / "models"])

    def run_in_sandbox(self, config: TrialConfig, timeout_s: float) -> Path | None:
        """Run one trial in the sandbox; the predictions file, or None when it failed (logged)."""
        return self.exec_trial(["--config", config.model_dump_json()], config.describe(), timeout_s,
                               {"method": config.method, "lane": "finetune",
                                "overrides": {"lr_mult": config.lr_mult, "epochs_mult": config.epochs_mult}})

    def exec_trial(self, what: list[str], described: str, timeout_s: float,
                   call_args: dict[str, object], out_name: str = "predictions.jsonl") -> Path | None:
        """Run the trial runner with ``what`` (``--config ...`` or ``--method ...``) on this agent's dataset in the
        sandbox; the predictions file (``out_name`` in the workspace), or None when it failed (logged).

        Every trial of an agent uses the agent's own seed (its assignment's): its trials compare on equal terms, and
        two agents running the same method do not submit identical predictions that read as copies of each other.
        """
        from aarlab.agents.sandbox._bwrap import WORKSPACE, sandbox_python

        if self._sandbox is None:  # one sandbox for all trials: its cgroups and launcher are reused
            self._sandbox = self.sandbox(self.assignment.trial_timeout_s)
        argv = [sandbox_python(), "-m", "aarlab.agents.search.trial", *what,
                "--suite", self.assignment.suite, "--home", self.assignment.home, "--dataset", self.dataset,
                "--seed", str(self.assignment.seed), "--out", f"{WORKSPACE}/{out_name}"]
        call = self.journal.call("w2s_run", {"dataset": self.dataset, "seed": self.assignment.seed, **call_args})
        result = self._sandbox.exec(argv, timeout_s=max(1.0, timeout_s))  # threads: the sandbox's share
        self.journal.count(experiments=1)
        self.write_workspace("last_trial.log", (result.stdout + result.stderr).encode()[-MAX_TRIAL_LOG_BYTES:])
        if not result.ok:
            tail = result.stderr.strip().splitlines()[-1:] or ["(no output)"]
            message = (f"trial {described} failed in the sandbox (exit {result.exit_code}, "
                       f"{result.killed_reason or 'no limit hit'}): {tail[0]}")
            self.journal.result(call, "w2s_run", message, is_error=True, duration_s=result.duration_s)
            self.log(message)
            return None
        self.journal.result(call, "w2s_run", f"{described}: predictions in /workspace/{out_name}",
                            duration_s=result.duration_s)
        return self.layout.workspace / out_name

    def submit(self, client: ForumClient, config: TrialConfig | str, predictions: Path) -> SubmissionReceipt:
        """Submit predictions under a configuration's label (or ``config`` itself when it is a label);
        :class:`BudgetExhausted` when the service says the budget is used up."""
        from aarlab.client import ScoringError, read_predictions

        records, _ = read_predictions(predictions, within=self.layout.workspace)
        label = config if isinstance(config, str) else method_label(config)
        call = self.journal.call("submit", {"dataset": self.dataset, "predictions": "predictions.jsonl",
                                            "method": label})
        started = time.monotonic()
        for attempt in range(5):
            try:
                receipt = client.submit(self.dataset, records, method=label)
            except ScoringError as err:
                retry = err.status == 429 and "budget" not in err.message and attempt < 4
                if not retry:
                    self.journal.result(call, "submit", f"refused: {err}", is_error=True,
                                        duration_s=time.monotonic() - started)
                if err.status == 429 and "budget" in err.message:
                    raise BudgetExhausted(err.message) from None
                if not retry:
                    raise
                time.sleep(1.0 + attempt)  # rate limited: wait and retry
                continue
            self.journal.count(submissions=1)
            self.journal.result(call, "submit", f"submission {receipt.id}: public PGR {receipt.public_pgr}, public "
                                f"accuracy {receipt.public_transfer_acc}, receipt {receipt.receipt}, "
                                f"{receipt.remaining_budget} evaluations left"
                                + (", public score frozen (information budget spent)" if receipt.public_frozen else ""),
                                duration_s=time.monotonic() - started)
            return receipt
        raise AssertionError("unreachable")

    def publish(self, client: ForumClient, config: TrialConfig, receipt: SubmissionReceipt) -> None:
        """Snapshot the workspace (config + predictions) and post the result citing receipt and snapshot."""
        self.write_workspace("best_config.json", config.model_dump_json(indent=2))
        body = (f"Search result on `{self.dataset}`: **{config.describe()}** reached public PGR "
                f"{receipt.public_pgr} (public accuracy {receipt.public_transfer_acc}).\n\n"
                f"Reproduce in a sandbox: `python -m aarlab.agents.search.trial --config '<json below>' "
                f"--suite {self.assignment.suite} --dataset {self.dataset} --home <suite home> --out preds.jsonl`\n\n"
                f"```json\n{config.model_dump_json()}\n```\n")
        title = f"{self.dataset}: {config.describe()} -> public PGR {receipt.public_pgr}"
        self.post_result(client, title, body, ["search", self.dataset], receipt, config.describe())

    def post_result(self, client: ForumClient, title: str, body: str, tags: list[str], receipt: SubmissionReceipt,
                    described: str, parent: str | None = None) -> str | None:
        """Push the workspace as a snapshot (recording ``parent``, the snapshot it started from, as its parent) and
        post a result citing it and ``receipt``; the snapshot id, or None when the workspace cannot be pushed (a
        link, FIFO or oversized file: nothing posted)."""
        from aarlab.client import UnsafeArchiveError

        call = self.journal.call("snapshot_push", {"path": "."} | ({"parent": parent} if parent else {}))
        started = time.monotonic()
        try:
            snapshot = client.push_directory(self.layout.workspace, parent=parent)
        except UnsafeArchiveError as err:
            self.journal.result(call, "snapshot_push", f"refused: {err}", is_error=True,
                                duration_s=time.monotonic() - started)
            self.log(f"not publishing {described}: the workspace cannot be pushed ({err})")
            return None
        self.journal.result(call, "snapshot_push", f"snapshot {snapshot.id} ({snapshot.files} files)",
                            duration_s=time.monotonic() - started)
        call = self.journal.call("forum_post", {"kind": "result", "title": title, "body": body, "tags": tags,
                                                "receipt": receipt.receipt, "snapshot": snapshot.id})
        started = time.monotonic()
        post = client.post("result", title, body, tags=tags, receipt=receipt.receipt, snapshot=snapshot.id)
        self.journal.result(call, "forum_post", f"posted #{post.id}", duration_s=time.monotonic() - started)
        self.log(f"posted result #{post.id} (receipt {receipt.receipt[:12]}, snapshot {snapshot.id[:12]})")
        return str(snapshot.id)

    def read_forum(self, client: ForumClient, study: optuna.Study, tried: set[TrialConfig]) -> None:
        """Enqueue the best verified configuration others posted, unless already tried."""
        cursor = int(self.cursor_file.read_text()) if self.cursor_file.is_file() else 0
        call = self.journal.call("forum_search", {"since": cursor})
        started = time.monotonic()
        posts, cursor = client.sync(cursor)
        self.cursor_file.write_text(str(cursor))
        found = best_foreign_config(posts, self.layout.name, self.dataset)
        outcome = f"{len(posts)} new or changed posts; nothing new to try"
        if found is not None and found[0] not in tried:
            config, score = found
            study.enqueue_trial(config.model_dump())
            tried.add(config)
            outcome = f"{len(posts)} new or changed posts; enqueued {config.describe()} (verified public PGR {score})"
            self.log(f"forum: enqueued {config.describe()} (verified public PGR {score} by another agent)")
        self.journal.result(call, "forum_search", outcome, duration_s=time.monotonic() - started)

    def check_study_files(self) -> None:
        """Refuse to open ``study.db`` (SQLite follows links) when it or its journal is a link or special file."""
        for entry in list_agent_dir(self.layout.workspace):
            if entry.name.startswith("study.db") and entry.kind != "file":
                raise UnsafeAgentFile(str(self.layout.workspace / entry.name),
                                      f"expected a regular file, found {entry.kind}")

    def write_workspace(self, name: str, data: bytes | str) -> bool:
        """Write a file of the workspace unless something the agent planted there is in the way (logged)."""
        try:
            write_agent_file(self.layout.workspace, name, data)
        except UnsafeAgentFile as err:
            self.log(f"not writing {name}: {err}")
            self.journal.event("refused", path=name, reason=err.reason)
            return False
        return True

    # -- operator control ---------------------------------------------------------------------------------
    def _poll_control(self) -> str:
        """The operator's state for this agent ("running" when the server has no control channel)."""
        from aarlab.client import ScoringError

        if not self._control_available:
            return "running"
        try:
            if self._control is None:
                from aarlab.client import ControlClient

                self._control = ControlClient(token=self.layout.read_token() or "",
                                              uds=str(self.layout.scoring_socket), timeout=10)
            since = int(self.control_cursor_file.read_text()) if self.control_cursor_file.is_file() else 0
            control = self._control.poll(since)
        except ImportError:
            self._control_available = False
            return "running"
        except ScoringError as err:
            if err.status == 404:  # an older server without the control channel
                self._control_available = False
                self.log("the scoring service has no control channel; running without operator control")
            else:
                self.log(f"control poll failed ({err}); going on")
            return "running"
        for message in control.messages:
            self.journal.event("operator", content=message.body, message_id=message.id)
            self.log(f"operator message #{message.id}: {message.body}")
            since = max(since, message.id)
        self.control_cursor_file.write_text(str(since))
        return control.state

    def wait_while_paused(self) -> bool:
        """Honour the control channel between trials: wait while paused; False when the operator stopped us."""
        state = self._poll_control()
        if state == "paused":
            self.journal.state("paused", "paused by the operator")
            self.log("paused by the operator")
            while state == "paused" and self.assignment.deadline - time.time() > 5:
                time.sleep(PAUSE_POLL_S)
                state = self._poll_control()
            if state == "running":
                self.journal.state("running", "resumed by the operator")
                self.log("resumed by the operator")
        return state != "stopped"

    def must_stop(self) -> tuple[str, str] | None:
        """Before each trial: (final state, reason) when the operator stopped the agent (after waiting while it is
        paused) or its experiments budget is used up; None to go on."""
        if not self.wait_while_paused():
            self.log("stopped by the operator")
            return "stopped", "stopped by the operator"
        if not self.experiments_left():
            reason = f"{self.assignment.budget_experiments} experiments run"
            self.log(f"stopping: experiments budget used up ({reason})")
            return "budget_exhausted", reason
        return None

    def experiments_left(self) -> bool:
        """Whether the experiments budget (if any) allows another trial."""
        budget = self.assignment.budget_experiments
        return budget is None or self.journal.usage.experiments < budget

    # -- the loop -------------------------------------------------------------------------------------------
    def run(self) -> int:
        """Search until the deadline or the evaluation budget; returns the number of trials this process ran."""
        import optuna

        from aarlab.client import PredictionsFileError

        study = self._study()
        tried = {TrialConfig.model_validate(t.params) for t in study.get_trials(deepcopy=False) if t.params}
        complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        best = max((t.value for t in complete if t.value is not None), default=float("-inf"))
        self.log(f"{self.assignment.direction}; {len(complete)} trials done before, best {best}")
        self.journal.state("running", f"{len(complete)} trials done before")
        ran = 0
        final, reason = "done", "the deadline passed"
        with self._client() as client:
            while (left := self.assignment.deadline - time.time()) > 5:
                stop = self.must_stop()
                if stop is not None:
                    final, reason = stop
                    break
                trial = study.ask()
                config = suggest(trial)
                tried.add(config)
                predictions = self.run_in_sandbox(config, min(left, self.assignment.trial_timeout_s))
                if predictions is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    continue
                try:
                    receipt = self.submit(client, config, predictions)
                except PredictionsFileError as err:  # e.g. a link or FIFO planted at predictions.jsonl
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    self.journal.event("refused", path="predictions.jsonl", reason=str(err))
                    self.log(f"trial {trial.number}: predictions not submitted: {err}")
                    continue
                except BudgetExhausted as err:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    final, reason = "budget_exhausted", str(err)
                    self.log(f"stopping: {err}")
                    break
                value = receipt.public_pgr if receipt.public_pgr is not None else receipt.public_transfer_acc
                study.tell(trial, value)
                ran += 1
                self.log(f"trial {trial.number}: {config.describe()} -> public PGR {receipt.public_pgr} "
                         f"(budget left {receipt.remaining_budget})")
                if value > best:
                    best = value
                    self.publish(client, config, receipt)
                if ran % FORUM_EVERY == 0:
                    self.read_forum(client, study, tried)
        if self._control is not None:
            self._control.close()
        self.journal.state(final, reason)
        self.log(f"done: {ran} trials this run, best public PGR {best}")
        return ran


def agent_main(agent: type[SearchAgent], module: str, argv: list[str] | None = None) -> int:
    """``python -m MODULE --state DIR --agent NAME``: run one offline agent of a campaign (what the supervisor
    starts per agent)."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--agent", required=True)
    args = parser.parse_args(argv)
    agent(args.state, args.agent).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m aarlab.agents.search --state DIR --agent NAME``."""
    return agent_main(SearchAgent, "aarlab.agents.search", argv)
