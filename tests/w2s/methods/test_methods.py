"""Every literature method end to end on the real tiny suite (built once per machine, then cached)."""

from pathlib import Path

import pytest

from aarlab.suites import Suite
from aarlab.w2s.methods import MethodError, builtin_methods, load_method_file, resolve_method
from aarlab.w2s.methods._template import TEMPLATE
from aarlab.w2s.pipeline import Experiment, default_cache

METHODS = ["vanilla", "soft", "confident", "auxconf", "bootstrap", "zeroshot", "ue_weak"]


def test_all_literature_baselines_are_registered() -> None:
    assert sorted(builtin_methods()) == sorted(METHODS)
    assert all(m.description for m in builtin_methods().values())


# auxconf collapses on the rebuilt tiny math at seed 0 (PGR -1.75 there, 0.76 / 0.75 on seeds 1, 2:
# docs/results/tiny.md); kept visible as a strict xfail rather than moved to a friendlier seed.
_COLLAPSES = pytest.mark.xfail(strict=True, reason="auxconf collapses on tiny math seed 0 (docs/results/tiny.md)")


@pytest.mark.parametrize("name", [pytest.param(m, marks=_COLLAPSES) if m == "auxconf" else m for m in METHODS])
def test_method_runs_on_the_tiny_suite(tiny_suite: Suite, name: str) -> None:
    dataset = "chat" if name in ("zeroshot", "ue_weak") else "math"
    result = Experiment(tiny_suite, dataset, default_cache(tiny_suite)).run(resolve_method(name), [0])
    assert 0.5 < result.weak_acc < result.strong_acc
    assert 0 <= result.transfer_acc <= 1
    if name != "zeroshot":  # a student trained on teacher labels learns the task at least as well as chance
        assert result.transfer_acc > 0.55


def test_vanilla_transfer_lands_between_teacher_and_ceiling(tiny_suite: Suite) -> None:
    for dataset in [d for d in tiny_suite.spec.datasets if d not in tiny_suite.spec.experimental]:
        result = Experiment(tiny_suite, dataset, default_cache(tiny_suite)).run(resolve_method("vanilla"), [0])
        assert result.weak_acc + 0.10 <= result.strong_acc, dataset
        assert result.weak_acc < result.transfer_acc < result.strong_acc, dataset


def test_the_new_method_template_is_a_working_method(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(TEMPLATE.format(name="mine"))
    assert load_method_file(path).name == "mine"


def test_unknown_method_lists_the_valid_names() -> None:
    with pytest.raises(MethodError, match="unknown method 'nope'; valid: auxconf, bootstrap"):
        resolve_method("nope")


def test_a_file_without_exactly_one_method_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(MethodError, match="exactly one @method"):
        load_method_file(tmp_path / "empty.py")
