"""Programs of W2S building blocks: the baselines are points of the space, every point renders as a loadable method
file that records its program, and variation stays inside the space."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from aarlab.agents.evolve import BASELINES, Program, crossover, mutate, random_program, render, retune_of
from aarlab.agents.evolve._program import method_name, program_of_source
from aarlab.w2s.methods import load_method_file


def _programs() -> list[Program]:
    rng = random.Random(7)
    out = list(BASELINES.values()) + [random_program(rng) for _ in range(25)]
    out += [mutate(p, rng, 2) for p in out] + [crossover(out[i], out[-1 - i], rng) for i in range(10)]
    return out


def test_every_program_renders_as_a_method_file_that_loads_and_names_its_program(tmp_path: Path) -> None:
    for program in _programs():
        source = render(program, parent="program p0123456789 (snapshot abc)")
        path = tmp_path / f"{program.id}.py"
        path.write_text(source)
        loaded = load_method_file(path)
        assert loaded.name == method_name(program)
        assert program_of_source(source) == program
        assert "derived from program p0123456789" in source


def test_a_rendered_file_holds_only_the_blocks_it_uses() -> None:
    plain = render(BASELINES["vanilla"])
    assert "AuxConfidence" not in plain and "_sharpen" not in plain and "confidence =" not in plain
    rich = render(Program(targets="sharpened", select="confident", weighting="confidence", loss="auxconf", rounds=2,
                          ensemble=2))
    for block in ("_sharpen(q, 0.5)", "confident_examples(ctx, 0.8)", "weights = [w * len(raw)",
                  "AuxConfidence(aux_coef=0.75", "own = student.predict(ctx.unlabeled)", "for member in range(2)"):
        assert block in rich, block


def test_the_literature_baselines_are_points_and_a_retune_is_recognised() -> None:
    assert retune_of(BASELINES["confident"].model_copy(update={"lr_mult": 2.0, "epochs_mult": 0.7})) == "confident"
    assert retune_of(Program(targets="sharpened")) is None
    assert {retune_of(p) for p in BASELINES.values()} == set(BASELINES)


def test_a_stale_parameter_of_an_unused_block_makes_no_new_program() -> None:
    stale = Program(targets="soft", select="all", threshold=0.62, weighting="none", weight_power=2.4, rounds=1,
                    relabel_mix=0.44, temperature=0.3, aux_coef=0.2)
    assert stale.canonical() == Program(targets="soft") and stale.canonical().id == Program(targets="soft").id
    assert retune_of(stale) == "soft"  # a baseline with stale genes is still the baseline
    used = Program(targets="sharpened", temperature=0.3, select="confident", threshold=0.62, rounds=2,
                   relabel_mix=0.44)
    assert used.canonical() == used  # parameters of blocks in use are kept
    for program in _programs():  # the computation does not change: the rendered method body is the same
        assert render(program.canonical()).split("def run", 1)[1] == render(program).split("def run", 1)[1]


def test_ids_are_content_hashes_and_variation_stays_valid() -> None:
    assert Program().id == Program().id != Program(targets="soft").id
    rng = random.Random(1)
    parent = random_program(rng)
    children = {mutate(parent, rng).id for _ in range(30)}
    assert len(children) > 10 and parent.id not in children  # a mutation changes something
    for _ in range(50):
        Program.model_validate(crossover(random_program(rng), random_program(rng), rng).model_dump())


def test_a_program_outside_the_space_is_refused() -> None:
    with pytest.raises(ValueError):
        Program(rounds=9)
    with pytest.raises(ValueError):
        Program.model_validate({"targets": "labels"})
    assert program_of_source('"""x\nProgram: {"rounds": 99}\n"""') is None
