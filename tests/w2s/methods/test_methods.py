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


# auxconf can collapse on tiny at a seed (PGR -1.75 at math seed 0 of one build, 0.76 / 0.75 at seeds 1, 2:
# docs/results/tiny.md); whether a given seed collapses depends on the installation's secret (a fresh build's seed
# 0 did not), so it must learn at one of three seeds rather than at seed 0.
_SEEDS = {"auxconf": [0, 1, 2]}


@pytest.mark.parametrize("name", METHODS)
def test_method_runs_on_the_tiny_suite(tiny_suite: Suite, name: str) -> None:
    dataset = "chat" if name in ("zeroshot", "ue_weak") else "math"
    seeds = _SEEDS.get(name, [0])
    result = Experiment(tiny_suite, dataset, default_cache(tiny_suite)).run(resolve_method(name), seeds)
    # the build's teacher gate holds every weak teacher above its dataset's planted cue (~0.6)
    assert 0.6 < result.weak_acc < result.strong_acc
    per_seed = [r.transfer_acc for r in result.seeds]
    assert all(0 <= acc <= 1 for acc in per_seed)
    if name != "zeroshot":  # a student trained on teacher labels learns the task at least as well as chance
        assert max(per_seed) > 0.55


def test_vanilla_transfer_lands_between_teacher_and_ceiling(tiny_suite: Suite) -> None:
    for dataset in [d for d in tiny_suite.spec.datasets if d not in tiny_suite.spec.experimental]:
        result = Experiment(tiny_suite, dataset, default_cache(tiny_suite)).run(resolve_method("vanilla"), [0])
        assert result.weak_acc + 0.10 <= result.strong_acc, dataset
        # The student learns from the teacher; it can pass the ceiling by a little on a seed (math has ~30 test
        # questions: one seed's vanilla PGR was 1.13 on a fresh build), never by much.
        assert result.weak_acc < result.transfer_acc < result.strong_acc + 0.08, dataset


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
