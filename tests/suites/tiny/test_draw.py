import pytest

from aarlab.suites._build import SuiteBuildError
from aarlab.suites.tiny import _draw
from aarlab.suites.tiny._draw import draw_world, over_the_cue
from aarlab.suites.tiny._world import CUE_STRENGTH, world_key


def test_a_world_whose_shortcuts_stay_below_the_cue_is_the_first_draw() -> None:
    drawn = draw_world("s0", 0, 0)
    assert drawn.key == world_key("s0", 0)
    assert [d["accepted"] for d in drawn.draws] == [True]
    assert set(drawn.shortcuts) == {"math", "code", "chat"}
    assert not over_the_cue(drawn.shortcuts)


def test_a_world_where_computing_the_input_reaches_the_cue_is_redrawn_deterministically() -> None:
    # Secret "s15": the first world's made-up math operator agrees with a real operation on 0.683 of test.
    first = draw_world("s15", 1, 0)
    assert first.draws[0]["accepted"] is False
    assert any("compute-input" in p for p in first.draws[0]["over_the_cue"])
    assert first.draws[-1]["accepted"] is True and first.key != world_key("s15", 1)
    assert all(acc < CUE_STRENGTH for t in first.shortcuts.values() for n, acc in t.items() if n != "planted-cue")
    again = draw_world("s15", 1, 0)  # a rebuild from the same secret lands on the same world
    assert again.key == first.key and again.draws == first.draws


def test_the_planted_cue_itself_does_not_force_a_redraw() -> None:
    assert over_the_cue({"math": {"planted-cue": 0.61, "majority-vote": 0.5}}) == []
    assert over_the_cue({"math": {"planted-cue": 0.5, "answer-frequency": CUE_STRENGTH}}) == [
        f"math: answer-frequency {CUE_STRENGTH:.3f}"]


def test_no_acceptable_draw_within_the_bound_is_a_clear_build_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_draw, "CUE_STRENGTH", 0.0)  # every shortcut is "over the cue"
    with pytest.raises(SuiteBuildError, match="no world among 3 draws"):
        draw_world("s0", 0, 0, max_redraws=2)
