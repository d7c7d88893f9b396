"""The offline researcher that writes methods: evolution over W2S programs built from literature blocks."""

from aarlab.agents.evolve._agent import EvolveAgent, program_of_post
from aarlab.agents.evolve._program import BASELINES, Program, crossover, mutate, random_program, render, retune_of

__all__ = ["BASELINES", "EvolveAgent", "Program", "crossover", "mutate", "program_of_post", "random_program",
           "render", "retune_of"]
