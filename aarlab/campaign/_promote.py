"""Promotion by clean re-run: a submission's result counts once the platform re-ran its method itself.

The story of :func:`promote`:

1. find the submission and the method snapshot it is linked to (the agent's ``result`` post citing the
   submission and a snapshot); no snapshot, no promotion;
2. find the method in the snapshot (``best_config.json`` of the search agent, or one ``@method`` ``.py`` file);
3. draw fresh seeds (the platform's, not the agent's); for each seed the host trains that seed's weak teacher and
   strong ceiling (cached) and writes an agent-visible copy of the data with that teacher's soft labels;
4. in a fresh sandbox per run (a fresh workspace holding only the snapshot's files, ``/data`` holding only that
   run's visible copies): the method, vanilla, the method with the weak labels shuffled, and the method on each of
   the suite's other datasets; when asked (``against``), each other literature baseline too;
5. the host scores every run on the **private** part of the test split with the server's answer keys: paired
   comparison with vanilla (and with each baseline asked for: does the method beat every one, paired CI above 0?),
   label-dependence ablation against zero-shot, held-out PGR;
6. one transaction writes the ``promotions`` row and its audit record. A promotion that fails after it started
   (the method does not load, crashes, writes no predictions) is recorded as ``failed`` with the reason; bad input
   (unknown id, no snapshot) is refused before anything runs and leaves nothing.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from aarlab.campaign._promote_stats import (
    IGNORES_WEAK_LABELS,
    BaselineComparison,
    LabelAblation,
    PairedComparison,
    label_ablation,
    paired_comparison,
    versus_baseline,
)

if TYPE_CHECKING:
    from aarlab.server._scoring import AnswerKey
    from aarlab.server._state import State
    from aarlab.suites import Suite
    from aarlab.w2s.pipeline import Experiment

#: Fewest seeds a promotion runs (the issue's bar).
MIN_SEEDS = 3
#: Largest predictions file read back from a sandbox run.
MAX_PREDICTIONS_BYTES = 64 * 1024 * 1024
#: Flag of a re-run whose fresh seeds give no weak-to-strong gap on the private part (PGR undefined).
NO_GAP = "no weak-to-strong gap on the re-run's seeds"
#: The in-domain private PGR under which held-out / in-domain is left out (None): the ratio of two PGRs divides by
#: a number that one test item moves by ~0.1 on tiny, so a small in-domain PGR blows it up (5.79 measured at an
#: in-domain 0.13). The held-out PGRs themselves are always reported.
MIN_RATIO_PGR = 0.2

#: The search agent's configuration file in its snapshots.
SEARCH_CONFIG = "best_config.json"


class PromotionError(Exception):
    """A promotion cannot start (unknown submission, no snapshot, no method in it): nothing is recorded."""


class RunFailed(Exception):
    """A sandbox run of the promotion failed (the method does not load, crashes, writes no valid predictions)."""


class HeldOutScore(BaseModel):
    """The method on another dataset of the suite (private part, same seeds)."""

    model_config = ConfigDict(extra="forbid")

    transfer_acc: float | None = None
    pgr: float | None = None
    per_seed_pgr: list[float | None] = []
    error: str | None = None


class PromotionResult(BaseModel):
    """What a promotion measured (stored as the ``result`` JSON of its row, returned by ``aarlab promote --json``)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    submission_id: str
    agent: str
    dataset: str
    method: str
    snapshot_id: str
    method_in_snapshot: str
    status: str  # promoted | failed
    lane: str
    seeds: list[int]
    public_pgr: float | None = None
    weak_acc: float | None = None  # private part, mean over the fresh seeds
    strong_acc: float | None = None
    private_transfer_acc: float | None = None
    private_pgr: float | None = None
    per_seed_pgr: list[float | None] = []
    vanilla_private_pgr: float | None = None
    paired: PairedComparison | None = None
    #: Paired comparisons with the literature baselines asked for (``PromotionOptions.against``), vanilla first.
    versus: dict[str, BaselineComparison] = {}
    #: Whether the method beats every baseline in ``versus`` (paired 95% CI above 0); None when none was asked.
    beats_every_baseline: bool | None = None
    ablation: LabelAblation | None = None
    held_out: dict[str, HeldOutScore] = {}
    held_out_ratio: float | None = None
    flags: list[str] = []
    reason: str | None = None
    duration_s: float = 0.0
    created_at: str = ""


@dataclass(frozen=True)
class Target:
    """The submission to promote and the snapshot it is linked to."""

    submission_id: str
    agent: str
    dataset: str
    method: str
    public_pgr: float | None
    snapshot_id: str


@dataclass(frozen=True)
class MethodSpec:
    """How to run the snapshot's method: a built-in name or a workspace-relative ``.py`` path, plus overrides."""

    ref: str
    overrides: dict[str, Any] = field(default_factory=dict)
    source: str = ""


# --- 1. the submission and its snapshot ----------------------------------------------------------------------------

def find_target(state: State, submission_id: str) -> Target:
    """The submission and the snapshot cited with it in its author's latest ``result`` post; :class:`PromotionError`
    when the id is unknown or no such post exists."""
    from aarlab.server._db import agents, posts, submissions

    with state.db.reader.connect() as conn:
        row = conn.execute(select(submissions.c.id, submissions.c.agent_id, submissions.c.dataset,
                                  submissions.c.method, submissions.c.public_pgr, agents.c.name)
                           .join(agents, agents.c.id == submissions.c.agent_id)
                           .where(submissions.c.id == submission_id)).first()
        if row is None:
            raise PromotionError(f"no submission {submission_id!r} in state dir {state.path}; list them with "
                                 "`aarlab leaderboard` (column submission_id) or GET /api/v1/submissions")
        snapshot = conn.execute(select(posts.c.snapshot_id)
                                .where(posts.c.submission_id == submission_id, posts.c.kind == "result",
                                       posts.c.agent_id == row.agent_id, posts.c.snapshot_id.is_not(None))
                                .order_by(posts.c.id.desc())).scalar()
    if snapshot is None:
        raise PromotionError(f"submission {submission_id} ({row.name}, {row.method!r} on {row.dataset}) cannot be "
                             "promoted: it is not linked to a method snapshot (no `result` post of its author cites "
                             "it together with a snapshot); the agent must push its code (`snapshot_push`) and post "
                             "the result citing both")
    return Target(submission_id, row.name, row.dataset, row.method, row.public_pgr, snapshot)


def snapshot_files(state: State, snapshot_id: str) -> bytes:
    """The snapshot as a tar.gz from the code store (as the server stores it)."""
    from aarlab.server._codestore import BlobStore
    from aarlab.server._settings import ServerSettings

    settings = ServerSettings()
    store = BlobStore(settings.store_url or str(state.path / "store"))
    manifest = store.manifest(snapshot_id)
    if manifest is None:
        raise PromotionError(f"snapshot {snapshot_id} is recorded but missing from the code store "
                             f"{settings.store_url or state.path / 'store'}; restore the store and try again")
    return store.tar_gz(manifest)


# --- 2. the method in the snapshot ---------------------------------------------------------------------------------

def find_method(files: dict[str, bytes], method_label: str) -> MethodSpec:
    """Which method the snapshot holds: the search agent's ``best_config.json``, a ``.py`` file named by the
    submission's method label, or the only ``.py`` file declaring ``@method``. :class:`PromotionError` otherwise."""
    from aarlab.agents.search._trial import TrialConfig

    if SEARCH_CONFIG in files:
        try:
            config = TrialConfig.model_validate_json(files[SEARCH_CONFIG])
        except ValueError as err:
            raise PromotionError(f"{SEARCH_CONFIG} in the snapshot is not a search configuration: {err}") from None
        return MethodSpec(config.method, {"lr_mult": config.lr_mult, "epochs_mult": config.epochs_mult},
                          SEARCH_CONFIG)
    declaring = sorted(p for p, data in files.items() if p.endswith(".py") and b"@method(" in data)
    stem = method_label.split(":")[0]
    named = [p for p in declaring if PurePosixPath(p).stem in (method_label, stem) or p == method_label]
    chosen = named if len(named) == 1 else declaring
    if len(chosen) != 1:
        found = ", ".join(declaring[:10]) or "none"
        raise PromotionError(f"cannot tell which method the snapshot holds: expected {SEARCH_CONFIG} or exactly one "
                             f".py file declaring @method (or one named like the submission's method "
                             f"{method_label!r}); found: {found}")
    return MethodSpec(chosen[0], {}, chosen[0])


def _untar(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    out[member.name] = handle.read()
    return out


# --- 3-4. runs in fresh sandboxes -----------------------------------------------------------------------------------

@dataclass
class Runner:
    """Runs one method over the seeds on one dataset in a fresh sandbox, with given soft labels per seed."""

    suite: Suite
    suite_ref: str  # what the sandbox passes to load_suite: a built-in name or a .toml path (then mounted)
    lane: str
    seeds: list[int]
    snapshot: dict[str, bytes]
    work: Path
    timeout_s: float
    memory_mb: int = 4096
    log: Callable[[str], None] = lambda _m: None
    runs: int = 0

    def run(self, method: MethodSpec, experiment: Experiment, soft: dict[int, dict[str, float]],
            label: str) -> dict[int, dict[str, float]]:
        """Test probabilities by seed; :class:`RunFailed` naming the run and the last line the method printed."""
        from aarlab.agents.sandbox import BubblewrapSandbox, SandboxLimits, sandbox_python

        self.runs += 1
        root = self.work / f"run{self.runs}"
        workspace, data = root / "workspace", root / "data"
        workspace.mkdir(parents=True)
        if method.ref.endswith(".py"):  # only the snapshot's files: nothing of earlier runs, nothing of the host
            for path, content in self.snapshot.items():
                target = (workspace / path).resolve()
                if not target.is_relative_to(workspace.resolve()):  # the store validated paths; never trust that
                    raise RunFailed(f"snapshot path {path!r} would land outside the fresh workspace")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        from aarlab.w2s.data import write_agent_visible

        name = experiment.dataset.name
        for seed in self.seeds:
            write_agent_visible(data / f"s{seed}" / name, experiment.dataset, soft[seed])
        extra = [self.suite.root / "models"]
        if self.suite_ref.endswith(".toml"):
            extra.append(Path(self.suite_ref))
        sandbox = BubblewrapSandbox(workspace, visible_data=data, extra_ro=extra,
                                    limits=SandboxLimits(wall_s=self.timeout_s, memory_mb=self.memory_mb))
        argv = [sandbox_python(), "-m", "aarlab.campaign._promote_sandbox", "--method", method.ref, "--suite",
                self.suite_ref, "--home", str(self.suite.home), "--dataset", name,
                "--seeds", ",".join(map(str, self.seeds)), "--lane", self.lane,
                "--overrides", json.dumps(self._overrides(method)), "--out-dir", "/workspace/.promotion-out"]
        started = time.monotonic()
        try:
            result = sandbox.exec(argv, timeout_s=self.timeout_s)  # threads: the sandbox's share
        finally:
            sandbox.close()
        self.log(f"{label}: {result.duration_s:.1f} s in the sandbox (exit {result.exit_code})")
        if not result.ok:
            lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
            why = result.killed_reason and f"killed ({result.killed_reason})"
            raise RunFailed(f"{label}: the method failed in the sandbox (exit {result.exit_code}"
                            f"{', ' + why if why else ''}): {lines[-1] if lines else '(no output)'}")
        out = {seed: self._read(workspace, seed, experiment, label) for seed in self.seeds}
        self.log(f"{label}: read back after {time.monotonic() - started:.1f} s")
        return out

    def _overrides(self, method: MethodSpec) -> dict[str, Any]:
        mult = method.overrides
        if not mult or self.lane != "finetune":  # recipe multipliers are fine-tune settings; a probe has none
            return {}
        recipe = self.suite.spec.strong_train
        return {"lr": recipe.lr * float(mult.get("lr_mult", 1.0)), "epochs": recipe.epochs * float(
            mult.get("epochs_mult", 1.0))}

    def _read(self, workspace: Path, seed: int, experiment: Experiment, label: str) -> dict[str, float]:
        """One seed's predictions, read without following anything the method planted; validated."""
        from aarlab._agentfiles import UnsafeAgentFile, read_agent_text
        from aarlab.w2s.methods import MethodError, validate_predictions

        rel = f".promotion-out/s{seed}.jsonl"
        try:
            text = read_agent_text(workspace, rel, MAX_PREDICTIONS_BYTES)
        except (UnsafeAgentFile, OSError) as err:
            raise RunFailed(f"{label}: no readable predictions for seed {seed} ({err})") from None
        probs: dict[str, float] = {}
        try:
            for line in text.splitlines():
                if line.strip():
                    record = json.loads(line)
                    probs[str(record["id"])] = float(record["p"])
            return validate_predictions(probs, experiment.dataset.split("test"), label)
        except (ValueError, KeyError, TypeError, MethodError) as err:
            raise RunFailed(f"{label}: invalid predictions for seed {seed}: {err}") from None


# --- 5. private scores ----------------------------------------------------------------------------------------------

def private_correctness(key: AnswerKey, probs: dict[str, float]) -> np.ndarray:
    """0/1 correctness on the private part of ``key``'s test split, in position order."""
    from aarlab.server._scoring import arrange_predictions

    ids = list(probs)
    arranged = arrange_predictions(key, ids, [probs[i] for i in ids])
    return ((arranged > 0.5) == key.positive)[~key.public].astype(np.float64)


def _pgr(w: float, s: float, t: float) -> float | None:
    from aarlab.w2s.metrics import DegenerateGapError, pgr

    try:
        return pgr(w, s, t)
    except DegenerateGapError:
        return None


@dataclass
class _Baselines:
    """Per-seed private accuracies of the teacher and the ceiling, and the teachers' soft labels."""

    weak: list[float]
    strong: list[float]
    soft: dict[int, dict[str, float]]


def _baselines(experiment: Experiment, key: AnswerKey, seeds: list[int]) -> _Baselines:
    weak, strong, soft = [], [], {}
    for seed in seeds:
        teacher = experiment.weak_teacher(seed)
        ceiling = experiment.strong_ceiling(seed)
        soft[seed] = dict(teacher["soft_labels"])
        weak.append(float(private_correctness(key, teacher["test_probs"]).mean()))
        strong.append(float(private_correctness(key, ceiling["test_probs"]).mean()))
    return _Baselines(weak, strong, soft)


def _matrix(key: AnswerKey, preds: dict[int, dict[str, float]], seeds: list[int]) -> np.ndarray:
    return np.stack([private_correctness(key, preds[s]) for s in seeds])


def _per_seed_pgr(base: _Baselines, matrix: np.ndarray) -> list[float | None]:
    return [_pgr(w, s, float(t)) for w, s, t in zip(base.weak, base.strong, matrix.mean(axis=1), strict=True)]


# --- the whole promotion ----------------------------------------------------------------------------------------------

def draw_seeds(n: int, avoid: list[int]) -> list[int]:
    """``n`` fresh seeds drawn by the platform (never the suite's baseline seeds or 0, which agents use)."""
    if n < MIN_SEEDS:
        raise PromotionError(f"--seeds must be at least {MIN_SEEDS} (a promotion compares over seeds); found {n}")
    rng = secrets.SystemRandom()
    seeds: set[int] = set()
    while len(seeds) < n:
        seed = rng.randrange(1, 2**31 - 1)
        if seed not in avoid:
            seeds.add(seed)
    return sorted(seeds)


@dataclass
class PromotionOptions:
    """How a promotion runs."""

    seeds: int = MIN_SEEDS
    lane: str | None = None  # None: the suite's lane (probe for cpu, finetune for tiny and paper)
    timeout_s: float = 1800.0
    held_out: bool = True
    fixed_seeds: list[int] | None = None  # tests and reproductions; the CLI always draws fresh ones
    #: Literature baselines to compare with besides vanilla (paired, same seeds); see :func:`teacher_baselines`.
    against: list[str] = field(default_factory=list)


def teacher_baselines() -> list[str]:
    """The built-in literature baselines that learn from the weak teacher (every built-in method but zero-shot)."""
    from aarlab.w2s.methods import builtin_methods

    return [name for name in builtin_methods() if name != "zeroshot"]


def promote(state_dir: Path, submission_id: str, *, suite: Suite, suite_ref: str,
            options: PromotionOptions | None = None, log: Callable[[str], None] = lambda _m: None) -> PromotionResult:
    """Re-run the submission's method from its snapshot and record the outcome; see the module docstring.

    Raises :class:`PromotionError` (nothing recorded) for bad input; a failure after the start is returned as a
    recorded ``failed`` result.
    """
    from aarlab.server._audit import utc_now
    from aarlab.server._scoring import load_answer_keys
    from aarlab.server._state import StateError, open_state

    options = options or PromotionOptions()
    lane = options.lane or suite.spec.lane
    try:
        state = open_state(state_dir)
    except StateError as err:
        raise PromotionError(str(err)) from None
    try:
        target = find_target(state, submission_id)
        files = _untar(snapshot_files(state, target.snapshot_id))
        method = find_method(files, target.method)
        seeds = list(options.fixed_seeds) if options.fixed_seeds else draw_seeds(options.seeds,
                                                                                 [0, *suite.spec.baseline_seeds])
        if len(seeds) < MIN_SEEDS:
            raise PromotionError(f"a promotion needs at least {MIN_SEEDS} seeds; found {seeds}")
        unknown = sorted(set(options.against) - set(teacher_baselines()))
        if unknown:
            raise PromotionError(f"unknown baseline(s) to compare with: {', '.join(unknown)}; the literature "
                                 f"baselines that learn from the teacher are {', '.join(teacher_baselines())}")
        if target.dataset not in suite.spec.datasets:
            raise PromotionError(f"submission {submission_id} is on dataset {target.dataset!r}, which suite "
                                 f"{suite.name!r} does not have ({', '.join(suite.spec.datasets)}); pass the "
                                 "campaign's suite")
        with state.db.reader.connect() as conn:
            keys = load_answer_keys(conn)
        result = PromotionResult(id="prm_" + secrets.token_hex(8), submission_id=submission_id, agent=target.agent,
                                 dataset=target.dataset, method=target.method, snapshot_id=target.snapshot_id,
                                 method_in_snapshot=method.source, status="failed", lane=lane, seeds=seeds,
                                 public_pgr=target.public_pgr)
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix="aarlab-promote-"))
        try:
            runner = Runner(suite, suite_ref, lane, seeds, files, work, options.timeout_s, log=log)
            _measure(result, runner, method, keys, suite, options, log)
            result.status = "promoted"
        except RunFailed as err:
            result.reason = str(err)
            log(f"promotion failed: {err}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result.duration_s = round(time.monotonic() - started, 1)
        result.created_at = utc_now()
        record_promotion(state, result)
        return result
    finally:
        state.db.dispose()


def _measure(result: PromotionResult, runner: Runner, method: MethodSpec, keys: dict[str, AnswerKey], suite: Suite,
             options: PromotionOptions, log: Callable[[str], None]) -> None:
    """Fill ``result`` with the re-run's numbers (in-domain, ablation, held-out); :class:`RunFailed` on a failure."""
    from aarlab.w2s.methods import builtin_methods
    from aarlab.w2s.pipeline import Experiment, default_cache, shuffled_soft_labels

    seeds = result.seeds
    cache = default_cache(suite)
    experiment = Experiment(suite, result.dataset, cache, lane=result.lane)
    key = keys[result.dataset]
    log(f"teachers and ceilings of {result.dataset} for seeds {seeds}")
    base = _baselines(experiment, key, seeds)
    mine = _matrix(key, runner.run(method, experiment, base.soft, f"{result.method} on {result.dataset}"), seeds)
    vanilla = _matrix(key, runner.run(MethodSpec("vanilla"), experiment, base.soft, f"vanilla on {result.dataset}"),
                      seeds)
    shuffled_soft = {s: shuffled_soft_labels(base.soft[s], s) for s in seeds}
    shuffled = _matrix(key, runner.run(method, experiment, shuffled_soft,
                                       f"{result.method} with shuffled weak labels on {result.dataset}"), seeds)
    zero = private_correctness(key, experiment.run_method(builtin_methods()["zeroshot"],
                                                          experiment.weak_teacher(seeds[0]), seeds[0]))
    w, s, t = float(np.mean(base.weak)), float(np.mean(base.strong)), float(mine.mean())
    result.weak_acc, result.strong_acc, result.private_transfer_acc = w, s, t
    result.private_pgr = _pgr(w, s, t)
    result.per_seed_pgr = _per_seed_pgr(base, mine)
    result.vanilla_private_pgr = _pgr(w, s, float(vanilla.mean()))
    result.paired = paired_comparison(mine, vanilla)
    if options.against:
        others = {"vanilla": vanilla}
        for name in dict.fromkeys(options.against):
            if name != "vanilla":
                others[name] = _matrix(key, runner.run(MethodSpec(name), experiment, base.soft,
                                                       f"{name} on {result.dataset}"), seeds)
        result.versus = {name: versus_baseline(name, mine, matrix, _pgr(w, s, float(matrix.mean())))
                         for name, matrix in others.items()}
        result.beats_every_baseline = all(c.beaten for c in result.versus.values())
    result.ablation = label_ablation(float(zero.mean()), t, float(shuffled.mean()))
    if result.ablation.ignores_weak_labels:
        result.flags.append(IGNORES_WEAK_LABELS)
    if result.private_pgr is None:  # the fresh seeds' ceiling does not beat their teacher: PGR means nothing here
        result.flags.append(NO_GAP)
    if options.held_out:
        _held_out(result, runner, method, keys, suite, options, log)


def _held_out(result: PromotionResult, runner: Runner, method: MethodSpec, keys: dict[str, AnswerKey], suite: Suite,
              options: PromotionOptions, log: Callable[[str], None]) -> None:
    from aarlab.w2s.pipeline import Experiment, default_cache

    values = []
    for name in suite.spec.datasets:
        if name == result.dataset or name not in keys:
            continue
        experiment = Experiment(suite, name, default_cache(suite), lane=result.lane)
        key = keys[name]
        base = _baselines(experiment, key, result.seeds)
        try:
            preds = runner.run(method, experiment, base.soft, f"{result.method} held out on {name}")
        except RunFailed as err:  # a method written for one task kind may not run on another: recorded, not fatal
            result.held_out[name] = HeldOutScore(error=str(err))
            continue
        matrix = _matrix(key, preds, result.seeds)
        t = float(matrix.mean())
        value = _pgr(float(np.mean(base.weak)), float(np.mean(base.strong)), t)
        result.held_out[name] = HeldOutScore(transfer_acc=t, pgr=value, per_seed_pgr=_per_seed_pgr(base, matrix))
        if value is not None:
            values.append(value)
    result.held_out_ratio = held_out_ratio(values, result.private_pgr)


def held_out_ratio(held_out_pgrs: list[float], private_pgr: float | None) -> float | None:
    """Mean held-out PGR / in-domain private PGR; None without held-out PGRs or under :data:`MIN_RATIO_PGR`."""
    if not held_out_pgrs or private_pgr is None or private_pgr < MIN_RATIO_PGR:
        return None
    return float(np.mean(held_out_pgrs)) / private_pgr


# --- 6. the record ----------------------------------------------------------------------------------------------------

def promotion_payload(row: dict[str, Any]) -> dict[str, Any]:
    """What a ``promotion.record`` audit record's payload hash covers (the whole stored row but its seq)."""
    return {k: v for k, v in row.items() if k != "audit_seq"}


def record_promotion(state: State, result: PromotionResult) -> None:
    """Write the ``promotions`` row and its audit record in one transaction (and mark a queued request done)."""
    from sqlalchemy import update

    from aarlab.server._audit import canonical_json
    from aarlab.server._db import promotion_requests, promotions
    from aarlab.server._state import ADMIN_NAME
    from aarlab.server._writer import changing

    row: dict[str, Any] = {
        "id": result.id, "submission_id": result.submission_id, "agent": result.agent, "dataset": result.dataset,
        "method": result.method, "snapshot_id": result.snapshot_id, "status": result.status, "lane": result.lane,
        "seeds": json.dumps(result.seeds), "private_transfer_acc": result.private_transfer_acc,
        "private_pgr": result.private_pgr, "held_out_ratio": result.held_out_ratio,
        "flags": json.dumps(result.flags), "result": canonical_json(result.model_dump(mode="json")).decode(),
        "reason": result.reason, "created_at": result.created_at,
    }
    with changing(state.db) as change:
        record = change.audit(ADMIN_NAME, "promotion.record", promotion_payload(row), time=result.created_at)
        change.insert(promotions, {**row, "audit_seq": record.seq})
        change.flush()
        change.conn.execute(update(promotion_requests)
                            .where(promotion_requests.c.submission_id == result.submission_id,
                                   promotion_requests.c.state != "done")
                            .values(state="done", promotion_id=result.id))


def read_promotions(state: State) -> list[PromotionResult]:
    """Every recorded promotion, oldest first."""
    from aarlab.server._db import promotions

    with state.db.reader.connect() as conn:
        rows = conn.execute(select(promotions.c.result).order_by(promotions.c.audit_seq)).scalars().all()
    return [PromotionResult.model_validate_json(r) for r in rows]
