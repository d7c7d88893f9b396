"""The method plug-in API: the unit of W2S research.

A method is a function ``run(ctx: MethodContext) -> dict[id, P(positive)]`` over the test inputs, declared with
:func:`method` in one small Python file. The context carries no ground truth: unlabeled training inputs, the weak
teacher's soft labels on them, test inputs and a handle on the strong model.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from aarlab.w2s.data import Example, TaskKind

if TYPE_CHECKING:  # the handle needs torch; listing methods must not
    from aarlab.w2s.methods._probe_strong import ProbeStrongModel
    from aarlab.w2s.methods._strong import StrongModel

_MARK = "__aarlab_method__"


@dataclass(frozen=True)
class MethodContext:
    """Everything a method may use. Examples are label-free copies.

    ``strong`` has the same methods in both lanes (``train`` / ``zero_shot`` / ``features``): in the ``finetune``
    lane ``train`` fine-tunes a copy of the model, in the ``probe`` lane it fits a head on cached frozen features.
    """

    dataset: str
    kind: TaskKind
    unlabeled: list[Example]
    weak_soft_labels: dict[str, float]
    test: list[Example]
    strong: StrongModel | ProbeStrongModel
    seed: int
    scratch_dir: Path
    log: Callable[[str], None]
    lane: str = "finetune"

    def weak_targets(self, hard: bool = False) -> dict[str, float]:
        """Weak soft labels on ``unlabeled`` (``hard=True``: rounded to 0/1)."""
        if not hard:
            return dict(self.weak_soft_labels)
        return {i: float(p > 0.5) for i, p in self.weak_soft_labels.items()}


RunFn = Callable[[MethodContext], Mapping[str, float]]


@dataclass(frozen=True)
class Method:
    """A named method with a one-line description."""

    name: str
    description: str
    run: RunFn
    source: str


class MethodError(ValueError):
    """A method is unknown, malformed, or returned invalid predictions."""


def method(name: str, description: str) -> Callable[[RunFn], RunFn]:
    """Declare ``run`` as a W2S method (decorator)."""

    def mark(run: RunFn) -> RunFn:
        setattr(run, _MARK, (name, description))
        return run

    return mark


def _methods_in(module: ModuleType, source: str) -> list[Method]:
    found = []
    for value in vars(module).values():
        spec = getattr(value, _MARK, None)
        if spec is not None and callable(value):
            found.append(Method(name=spec[0], description=spec[1], run=value, source=source))
    return found


def builtin_methods() -> dict[str, Method]:
    """The literature baselines shipped in ``aarlab.w2s.methods`` (discovered afresh on each call)."""
    import aarlab.w2s.methods as package

    out: dict[str, Method] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for m in _methods_in(module, module.__name__):
            out[m.name] = m
    return dict(sorted(out.items()))


def load_method_file(path: Path) -> Method:
    """The single method declared in a user's Python file."""
    if not path.is_file():
        raise MethodError(f"method file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"aarlab_user_method_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise MethodError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = _methods_in(module, str(path))
    if len(found) != 1:
        raise MethodError(f"{path} must declare exactly one @method function; found {len(found)}")
    return found[0]


def resolve_method(name_or_path: str) -> Method:
    """A built-in method by name, or a user method from a ``.py`` path."""
    if name_or_path.endswith(".py"):
        return load_method_file(Path(name_or_path).expanduser())
    methods = builtin_methods()
    if name_or_path not in methods:
        raise MethodError(f"unknown method {name_or_path!r}; valid: {', '.join(methods)} (or a path to a .py file)")
    return methods[name_or_path]


def validate_predictions(result: Mapping[str, float], test: list[Example], method_name: str) -> dict[str, float]:
    """Check a method's output covers exactly the test ids with probabilities in [0, 1]."""
    if not isinstance(result, Mapping):
        raise MethodError(f"method {method_name!r} returned {type(result).__name__}; expected a dict id -> P")
    expected = {e.id for e in test}
    missing, extra = expected - set(result), set(result) - expected
    if missing or extra:
        raise MethodError(f"method {method_name!r}: predictions must cover exactly the test ids "
                          f"({len(missing)} missing e.g. {sorted(missing)[:3]}, {len(extra)} extra e.g. "
                          f"{sorted(extra)[:3]})")
    out = {}
    for key, value in result.items():
        p = float(value)
        if math.isnan(p) or not 0 <= p <= 1:
            raise MethodError(f"method {method_name!r}: prediction for {key!r} is {value!r}; expected in [0, 1]")
        out[key] = p
    return out
