"""Research directions (built-in and user files) and the system prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from aarlab.agents.prompts import DirectionError, load_directions, render_system_prompt


def test_the_builtin_directions_are_many_and_distinct() -> None:
    directions = load_directions()
    assert len(directions) >= 8
    assert len({d.name for d in directions}) == len(directions)
    assert len({d.text for d in directions}) == len(directions)
    assert {"unsupervised-elicitation", "truth-probes", "evolutionary-search"} <= {d.name for d in directions}


def test_a_user_toml_file_replaces_the_builtins(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[[direction]]\nname = "ensembles"\ntitle = "Ensembles"\ntext = "Try ensembles."\n')
    assert [(d.name, d.title, d.text) for d in load_directions(path)] == [("ensembles", "Ensembles",
                                                                            "Try ensembles.")]


def test_a_text_file_splits_on_rules_or_blank_lines(tmp_path: Path) -> None:
    ruled = tmp_path / "ruled.txt"
    ruled.write_text("Ensembles\n\nTry many students.\n---\nCurriculum\nEasy first.\n")
    directions = load_directions(ruled)
    assert [d.title for d in directions] == ["Ensembles", "Curriculum"]
    assert directions[0].text == "Ensembles\n\nTry many students."  # paragraphs kept inside a ruled direction
    assert [d.name for d in directions] == ["user-1", "user-2"]
    plain = tmp_path / "plain.md"
    plain.write_text("# First idea\n\nSecond idea\n\n\n")
    assert [d.title for d in load_directions(plain)] == ["First idea", "Second idea"]


@pytest.mark.parametrize(("content", "message"), [
    ('[[direction]]\nname = "Bad Name"\ntitle = "t"\ntext = "x"\n', "name must match"),
    ('[[direction]]\nname = "a"\ntitle = "t"\n', "field text"),
    ('[[direction]]\nname = "a"\ntitle = "t"\ntext = "x"\ncolour = 1\n', "colour"),
    ('[[direction]]\nname = "a"\ntitle = "t"\ntext = "x"\n[[direction]]\nname = "a"\ntitle = "u"\ntext = "y"\n',
     "used twice"),
    ("name = 'x'\n", "unknown top-level"),
    ("[[direction]\n", "not valid TOML"),
])
def test_a_bad_toml_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(content)
    with pytest.raises(DirectionError, match=message) as caught:
        load_directions(path)
    assert str(path) in str(caught.value)


def test_a_missing_or_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DirectionError, match="does not exist"):
        load_directions(tmp_path / "nope.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n---\n")
    with pytest.raises(DirectionError, match="no directions"):
        load_directions(empty)


def test_the_system_prompt_names_direction_budget_datasets_and_rules() -> None:
    prompt = render_system_prompt(agent="agent-2", suite="tiny", datasets=["math", "chat"],
                                  direction_title="Truth probes", direction_text="Look inside the model.",
                                  budgets="$5.00 of LLM spend")
    assert "agent-2" in prompt and "tiny" in prompt and "math, chat" in prompt
    assert "Truth probes" in prompt and "Look inside the model." in prompt and "$5.00 of LLM spend" in prompt
    assert "PGR" in prompt and "labels" in prompt and "notebook" in prompt and "forum" in prompt
    assert "$" + "agent" not in prompt
    assert len(prompt) < 6000  # concise
