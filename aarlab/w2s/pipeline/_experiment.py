"""The W2S experiment, stage by stage.

1. weak teacher: fine-tune the weak model on ``train_label``; its soft labels on ``train_unlabel`` and its
   accuracy on ``test`` (weak_acc)                                                               [cached]
2. strong ceiling: fine-tune the strong model on ``train_unlabel`` ground truth -> strong_acc     [cached]
3. method: the strong model + label-free inputs + weak soft labels -> test probabilities by id
4. score: transfer_acc and PGR per seed; aggregate over seeds with a bootstrap CI.

Two lanes run the same story. ``finetune``: every "train" is a fine-tune of the model (LoRA or full). ``probe``:
every "train" is a head on the model's frozen features (cached under ``<cache>/features``), seconds per run. A weak
model that is an *encoder* only ever teaches through a probe head, in both lanes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aarlab.suites._spec import LANES, ModelRef, Suite, SuiteError
from aarlab.w2s.cache import ArtifactCache, cache_key, examples_hash, model_fingerprint
from aarlab.w2s.data import Dataset, Example, load_dataset, strip_labels
from aarlab.w2s.methods import Method, MethodContext, validate_predictions
from aarlab.w2s.methods._probe_strong import ProbeStrongModel
from aarlab.w2s.methods._strong import StrongModel, fresh_head, prompts_of
from aarlab.w2s.metrics import DegenerateGapError, bootstrap_pgr_ci, correctness, pgr
from aarlab.w2s.models import LabelTokenHead, LoadedModel, load_causal_lm, load_encoder
from aarlab.w2s.probe import FeatureBank, FeatureExtractor, FeatureStore, fit_head
from aarlab.w2s.train import Predictor, TrainConfig, fine_tune, select_predictor

#: Bump when a stage's code changes what it produces: invalidates cached artifacts of that stage.
#: 2: prompts longer than max_length are cut at their start (the label is read at the last token).
#: 3: a LoRA adapter's initial weights follow the seed (they came from the global RNG before).
STAGE_VERSIONS = {"weak_teacher": 3, "strong_ceiling": 3}

Reporter = Callable[[str, int, int], None]


def _silent(stage: str, done: int, total: int) -> None:
    return None


#: Where a run's weak soft labels come from: the teacher's, or the teacher's permuted over the examples (the
#: label-dependence control: a weak-to-strong method must lose its gain over zero-shot on shuffled labels).
WEAK_LABELS = ("teacher", "shuffled")


def shuffled_soft_labels(soft: dict[str, float], seed: int) -> dict[str, float]:
    """The same soft labels permuted over the examples (same values, so the same class balance)."""
    ids = list(soft)
    values = np.array([soft[i] for i in ids])
    perm = np.random.default_rng(seed).permutation(len(ids))
    return {i: float(v) for i, v in zip(ids, values[perm], strict=True)}


@dataclass
class SeedResult:
    """Scores of one seed."""

    seed: int
    weak_acc: float
    strong_acc: float
    transfer_acc: float
    pgr: float | None  # None when this seed's ceiling does not beat its teacher


@dataclass
class ExperimentResult:
    """Scores over seeds; top-level numbers are means over seeds, ``pgr`` is the PGR of those means.

    ``pgr`` and ``pgr_ci`` are None only for a run that allowed a missing gap (``Experiment.run(require_gap=False)``)
    and found the ceiling not above the teacher: the accuracies still stand, PGR is undefined.
    """

    suite: str
    dataset: str
    method: str
    weak_acc: float
    strong_acc: float
    transfer_acc: float
    pgr: float | None
    pgr_ci: tuple[float, float] | None
    seeds: list[SeedResult]
    config: dict[str, Any] = field(default_factory=dict)
    lane: str = "finetune"
    #: The method's test probabilities per seed (what a submission to the scoring service carries).
    test_predictions: dict[int, dict[str, float]] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``aarlab w2s run --out`` format); predictions are written separately."""
        data = asdict(self)
        data.pop("test_predictions")
        data["pgr_ci"] = None if self.pgr_ci is None else list(self.pgr_ci)
        return data


class Experiment:
    """One dataset of one suite, ready to run methods. Models are loaded once and reused across seeds."""

    def __init__(self, suite: Suite, dataset_name: str, cache: ArtifactCache, device: str | None = None,
                 report: Reporter = _silent, lane: str | None = None) -> None:
        suite.check_dataset(dataset_name)
        self.lane = lane or suite.spec.lane
        if self.lane not in LANES:
            raise SuiteError(f"unknown lane {self.lane!r}; valid: {', '.join(LANES)}")
        self.suite = suite
        self.dataset: Dataset = load_dataset(suite.data_path(dataset_name), name=dataset_name, derive_ids=True)
        self.cache = cache
        self.device = device
        self.report = report
        self._models: dict[str, LoadedModel] = {}
        self._fingerprints: dict[str, str] = {}
        self._banks: dict[str, FeatureBank] = {}
        self._predictor: Predictor | None = None
        self.features = FeatureStore(None if cache.root is None else cache.root / "features")

    @property
    def teacher_lane(self) -> str:
        """The weak teacher's lane: the experiment's, except that an encoder always teaches through a probe."""
        return "probe" if self.lane == "probe" or self.suite.spec.weak.kind == "encoder" else "finetune"

    # -- models -------------------------------------------------------------------------------------------
    @property
    def predictor(self) -> Predictor:
        """Batched inference of fine-tuned classifiers (the suite's ``inference`` backend, chosen on first use)."""
        if self._predictor is None:
            spec = self.suite.spec
            rank = max(spec.weak_train.lora_r, spec.strong_train.lora_r)
            self._predictor = select_predictor(spec.inference, spec.vllm, max_lora_rank=rank)
        return self._predictor

    def _loaded(self, ref: ModelRef) -> LoadedModel:
        path = self.suite.model_path(ref)
        if path not in self._models:
            self._models[path] = load_causal_lm(path, dtype=ref.dtype, device=self.device,
                                                chat_template=ref.chat_template)
        return self._models[path]

    def load_models(self) -> tuple[LoadedModel, LoadedModel]:
        """The weak and strong models, loaded once per experiment."""
        return self._loaded(self.suite.spec.weak), self._loaded(self.suite.spec.strong)

    def _fingerprint(self, ref: ModelRef) -> str:
        path = self.suite.model_path(ref)
        if path not in self._fingerprints:
            self._fingerprints[path] = model_fingerprint(path)
        return self._fingerprints[path]

    def _extractor(self, ref: ModelRef) -> FeatureExtractor:
        max_length = self.suite.spec.probe.max_length
        if ref.kind == "encoder":
            model, tokenizer = load_encoder(self.suite.model_path(ref), dtype=ref.dtype, device=self.device)
            return FeatureExtractor(model, tokenizer, ref.kind, ref.feature_layer, ref.pooling, max_length)
        loaded = self._loaded(ref)
        return FeatureExtractor(loaded.model, loaded.tokenizer, ref.kind, ref.feature_layer, ref.pooling, max_length,
                                ref.chat_template)

    def ref(self, role: str) -> ModelRef:
        """The ``"weak"`` or ``"strong"`` model as this dataset reads it (the suite's per-dataset readings)."""
        return self.suite.spec.ref_for(role, self.dataset.name)

    def bank(self, role: str) -> FeatureBank:
        """Cached frozen features of the ``"weak"`` or ``"strong"`` model (its layer and pooling here)."""
        if role not in self._banks:
            ref = self.ref(role)
            parts = {"model": self._fingerprint(ref), "kind": ref.kind, "layer": ref.feature_layer,
                     "pooling": ref.pooling, "dtype": ref.dtype, "chat_template": ref.chat_template,
                     "max_length": self.suite.spec.probe.max_length}
            self._banks[role] = FeatureBank(self.features, parts, lambda: self._extractor(ref), self.suite.spec.probe,
                                            progress=lambda d, t: self.report(f"{role} features", d, t))
        return self._banks[role]

    def _probe_probs(self, role: str, split: str, seed: int, predict: list[str]) -> list[dict[str, float]]:
        """Fit a probe head on ``split`` ground truth; P(positive) by id on each split in ``predict``."""
        bank = self.bank(role)
        examples = self.dataset.split(split)
        targets = np.array([float(bool(e.positive())) for e in examples])
        head = fit_head(bank.matrix(examples), targets, self.suite.spec.probe, seed)
        out = []
        for name in predict:
            rows: list[Example] = self.dataset.split(name)
            out.append({e.id: float(p) for e, p in zip(rows, head.predict(bank.matrix(rows)), strict=True)})
        return out

    def _train_head(self, ref: ModelRef, config: TrainConfig, split: str, seed: int, stage: str) -> LabelTokenHead:
        head = fresh_head(self._loaded(ref), self.dataset.kind, config, seed=seed)
        examples = self.dataset.split(split)
        targets = [float(bool(e.positive())) for e in examples]
        fine_tune(head, prompts_of(examples), targets, config, seed,
                  progress=lambda d, t: self.report(stage, d, t))
        return head

    def _key(self, stage: str, ref: ModelRef, config: TrainConfig, splits: list[str], seed: int,
             lane: str = "finetune") -> tuple[str, dict]:
        parts: dict[str, Any] = {
            "stage": stage,
            "stage_version": STAGE_VERSIONS[stage],
            "model": self._fingerprint(ref),
            "model_ref": ref.identity(),
            "train": config.model_dump(mode="json"),
            "data": {s: examples_hash(self.dataset.split(s)) for s in splits},
            "seed": seed,
        }
        if lane == "probe":  # a probe's result does not depend on the fine-tuning recipe, only on the probe's
            parts.pop("train")
            parts.update(lane="probe", probe=self.suite.spec.probe.model_dump(mode="json"))
        elif self.suite.spec.inference != "hf":  # another numeric path for predictions (keys of "hf" unchanged)
            parts["inference"] = self.suite.spec.inference
        return cache_key(parts), parts

    # -- stages -------------------------------------------------------------------------------------------
    def weak_teacher(self, seed: int) -> dict[str, Any]:
        """Weak soft labels on train_unlabel and test, and weak_acc (cached)."""
        spec = self.suite.spec
        key, parts = self._key("weak_teacher", self.ref("weak"), spec.weak_train,
                               ["train_label", "train_unlabel", "test"], seed, self.teacher_lane)
        cached = self.cache.get("weak_teacher", key)
        if cached is not None:
            return cached
        unlabel, test = self.dataset.split("train_unlabel"), self.dataset.split("test")
        if self.teacher_lane == "probe":
            soft_map, test_map = self._probe_probs("weak", "train_label", seed, ["train_unlabel", "test"])
        else:
            head = self._train_head(spec.weak, spec.weak_train, "train_label", seed, "weak teacher")
            batch = spec.weak_train.eval_batch_size
            soft = self.predictor(head, prompts_of(unlabel), batch)
            test_probs = self.predictor(head, prompts_of(test), batch)
            soft_map = {e.id: float(p) for e, p in zip(unlabel, soft, strict=True)}
            test_map = {e.id: float(p) for e, p in zip(test, test_probs, strict=True)}
        artifact = {
            "soft_labels": soft_map,
            "test_probs": test_map,
            "weak_acc": float(correctness(test_map, test).mean()),
        }
        self.cache.put("weak_teacher", key, artifact, parts)
        return artifact

    def strong_ceiling(self, seed: int) -> dict[str, Any]:
        """The strong model trained on train_unlabel ground truth: test probabilities and strong_acc (cached)."""
        spec = self.suite.spec
        key, parts = self._key("strong_ceiling", self.ref("strong"), spec.strong_train, ["train_unlabel", "test"], seed,
                               self.lane)
        cached = self.cache.get("strong_ceiling", key)
        if cached is not None:
            return cached
        test = self.dataset.split("test")
        if self.lane == "probe":
            (test_map,) = self._probe_probs("strong", "train_unlabel", seed, ["test"])
        else:
            head = self._train_head(spec.strong, spec.strong_train, "train_unlabel", seed, "strong ceiling")
            probs = self.predictor(head, prompts_of(test), spec.strong_train.eval_batch_size)
            test_map = {e.id: float(p) for e, p in zip(test, probs, strict=True)}
        artifact = {"test_probs": test_map, "strong_acc": float(correctness(test_map, test).mean())}
        self.cache.put("strong_ceiling", key, artifact, parts)
        return artifact

    def method_context(self, weak: dict[str, Any], seed: int, scratch: Path,
                       log: Callable[[str], None] = lambda _m: None) -> MethodContext:
        """The label-free context a method runs in."""
        return MethodContext(
            dataset=self.dataset.name,
            kind=self.dataset.kind,
            unlabeled=strip_labels(self.dataset.split("train_unlabel")),
            weak_soft_labels=dict(weak["soft_labels"]),
            test=strip_labels(self.dataset.split("test")),
            strong=self.strong_handle(),
            seed=seed,
            scratch_dir=scratch,
            log=log,
            lane=self.lane,
        )

    def strong_handle(self) -> StrongModel | ProbeStrongModel:
        """The label-free handle on the strong model that methods receive, for this experiment's lane."""
        spec = self.suite.spec
        if self.lane == "probe":
            ref = spec.strong

            def read_zero_shot(prompts: list[str]) -> np.ndarray:
                head = fresh_head(self._loaded(ref), self.dataset.kind, spec.strong_train, copy_weights=False)
                return self.predictor(head, prompts, spec.strong_train.eval_batch_size).astype(np.float32)

            parts = {"model": self._fingerprint(ref), "dtype": ref.dtype, "chat_template": ref.chat_template,
                     "max_length": spec.strong_train.max_length, "kind": self.dataset.kind}
            return ProbeStrongModel(self.bank("strong"), self.dataset.kind, spec.probe, read_zero_shot, parts,
                                    self.features)
        return StrongModel(self._loaded(spec.strong), self.dataset.kind, spec.strong_train,
                           feature_layer=self.ref("strong").feature_layer,
                           progress=lambda d, t: self.report("method", d, t), predictor=self.predictor)

    def run_method(self, method: Method, weak: dict[str, Any], seed: int,
                   log: Callable[[str], None] = lambda _m: None) -> dict[str, float]:
        """Test probabilities of ``method`` for one seed, validated."""
        with tempfile.TemporaryDirectory(prefix="aarlab-method-") as scratch:
            ctx = self.method_context(weak, seed, Path(scratch), log)
            result = method.run(ctx)
        return validate_predictions(result, self.dataset.split("test"), method.name)

    def run(self, method: Method, seeds: list[int], log: Callable[[str], None] = lambda _m: None, *,
            require_gap: bool = True, weak_labels: str = "teacher") -> ExperimentResult:
        """Run all stages for each seed and aggregate.

        ``weak_labels="shuffled"`` hands the method the teacher's soft labels permuted over the examples (seeded by
        the run's seed); weak_acc stays the teacher's.

        When the mean ceiling does not beat the mean teacher, PGR is undefined: :class:`DegenerateGapError` is raised
        before any method trains (teachers and ceilings of all seeds come first, from the cache when they can), or
        with ``require_gap=False`` the result carries the accuracies and ``pgr = pgr_ci = None`` (a comparison table
        still records the cell).
        """
        if self.lane == "finetune":
            _ = self.predictor  # an unusable inference backend fails here, before any training
        test = self.dataset.split("test")
        per_seed: list[SeedResult] = []
        predictions: dict[int, dict[str, float]] = {}
        matrices: dict[str, list[np.ndarray]] = {"weak": [], "strong": [], "transfer": []}
        if weak_labels not in WEAK_LABELS:
            raise ValueError(f"weak_labels must be one of {', '.join(WEAK_LABELS)}; found {weak_labels!r}")
        references = {seed: (self.weak_teacher(seed), self.strong_ceiling(seed)) for seed in seeds}
        if require_gap:  # PGR of the seed means is undefined without a gap: refuse before any method trains
            weak_mean, strong_mean = (float(np.mean([correctness(pair[i]["test_probs"], test).mean()
                                                     for pair in references.values()])) for i in (0, 1))
            pgr(weak_mean, strong_mean, weak_mean)  # raises DegenerateGapError
        for seed in seeds:
            weak, ceiling = references[seed]
            given = weak if weak_labels == "teacher" else {
                **weak, "soft_labels": shuffled_soft_labels(weak["soft_labels"], seed)}
            transfer = self.run_method(method, given, seed, log)
            predictions[seed] = transfer
            rows = {
                "weak": correctness(weak["test_probs"], test),
                "strong": correctness(ceiling["test_probs"], test),
                "transfer": correctness(transfer, test),
            }
            for name, row in rows.items():
                matrices[name].append(row)
            w, s, t = (float(rows[k].mean()) for k in ("weak", "strong", "transfer"))
            seed_pgr = pgr(w, s, t) if s > w else None
            per_seed.append(SeedResult(seed=seed, weak_acc=w, strong_acc=s, transfer_acc=t, pgr=seed_pgr))
        w, s, t = (float(np.mean([getattr(r, f"{k}_acc") for r in per_seed])) for k in ("weak", "strong", "transfer"))
        overall: float | None = None
        ci: tuple[float, float] | None = None
        try:
            overall = pgr(w, s, t)
            ci = bootstrap_pgr_ci(*(np.stack(matrices[k]) for k in ("weak", "strong", "transfer")))
        except DegenerateGapError:
            if require_gap:
                raise
        return ExperimentResult(
            suite=self.suite.name, dataset=self.dataset.name, method=method.name, weak_acc=w, strong_acc=s,
            transfer_acc=t, pgr=overall, pgr_ci=ci, seeds=per_seed,
            config={"suite": self.suite.spec.model_dump(mode="json"), "method_source": method.source,
                    "seeds": seeds, "lane": self.lane, "weak_labels": weak_labels},
            lane=self.lane, test_predictions=predictions,
        )


def default_cache(suite: Suite) -> ArtifactCache:
    """The artifact cache of a suite under the aarlab home."""
    return ArtifactCache(suite.root / "cache")
