"""Prompt templates and label words, exactly as in the reference system.

The model reads the prompt and the next-token logits of two label words decide the class:
binary ``False``/``True``, comparison ``A``/``B``. Index 1 is always the positive class (True / B).
"""

from __future__ import annotations

from aarlab.w2s.data._schema import BinaryExample, ComparisonExample, Example, TaskKind

LABEL_WORDS: dict[TaskKind, tuple[str, str]] = {
    "binary": ("False", "True"),
    "comparison": ("A", "B"),
}


def format_prompt(example: Example) -> str:
    """The classification prompt, ending in ``Label:``; the label word follows after a space."""
    if isinstance(example, BinaryExample):
        return f"Question: {example.question}\nAnswer: {example.choice}\nLabel:"
    if isinstance(example, ComparisonExample):
        return f"Question: {example.prompt}\nAnswer A: {example.first}\nAnswer B: {example.second}\nLabel:"
    raise TypeError(f"not an example: {type(example).__name__}")


def format_zero_shot_prompt(example: Example) -> str:
    """A prompt asking the model to judge a claim, read as True/False (the reference's zero-shot variant)."""
    if isinstance(example, BinaryExample):
        return (
            f"Question: {example.question}\nAnswer: {example.choice}\n"
            "Claim: This answer is correct.\nLabel:"
        )
    if isinstance(example, ComparisonExample):
        return (
            f"Question: {example.prompt}\nAnswer A: {example.first}\nAnswer B: {example.second}\n"
            "Claim: Answer B is more helpful than Answer A.\nLabel:"
        )
    raise TypeError(f"not an example: {type(example).__name__}")
