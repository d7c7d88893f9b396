"""Label-free readouts of a pretrained tiny model: what a method that ignores the weak labels can read off it.

Both are *model* shortcuts (they need the strong model's knowledge, unlike the data shortcuts the build refuses):

* ``zero-shot-paired``: the task-format label-token margin (``True`` - ``False``, or ``B`` - ``A``), compared
  between the two rows of one question (binary: the candidate with the larger margin is True; comparison: the two
  orders of a pair, m(x, y) - m(y, x)). Reported as max(acc, 1 - acc): a cheat can guess the sign.
* ``verdict-words``: the same prompts read through the pretraining verdict words (``right``/``wrong``,
  ``first``/``second``), which sit in the tokenizer's vocabulary for anyone to try.

The build records them; it does not refuse on them. They are the "strong zero-shot only" cheats that the
scoring service's label-dependence checks must catch (issue 14, parts 2 and 3).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from aarlab.suites.tiny._pretrain import VERDICT_WORDS, next_token_logits, task_kind
from aarlab.w2s.data import LABEL_WORDS, BinaryExample, ComparisonExample, Example, format_prompt


@torch.no_grad()
def _margins(model: torch.nn.Module, tokenizer: object, test: Sequence[Example], words: tuple[str, str]) -> list[float]:
    vocab = tokenizer.get_vocab()  # type: ignore[attr-defined]
    out: list[float] = []
    for start in range(0, len(test), 256):
        logits = next_token_logits(model, tokenizer, [format_prompt(e) for e in test[start : start + 256]])  # type: ignore[arg-type]
        out += (logits[:, vocab[words[1]]] - logits[:, vocab[words[0]]]).tolist()
    return out


def _paired_accuracy(test: Sequence[Example], margins: list[float]) -> float:
    """Accuracy of comparing margins within a question (binary) or across the two orders of a pair (comparison)."""
    if all(isinstance(e, BinaryExample) for e in test):
        by_question: dict[str, dict[str, float]] = defaultdict(dict)
        for e, m in zip(test, margins, strict=True):
            by_question[e.question][e.choice] = m  # type: ignore[union-attr]
        hits = [(by_question[e.question][e.choice] >= max(by_question[e.question].values())) == e.label  # type: ignore[union-attr]
                for e in test]
    else:
        pairs = {(e.prompt, e.first, e.second): m for e, m in zip(test, margins, strict=True)}  # type: ignore[union-attr]
        hits = []
        for e in test:
            assert isinstance(e, ComparisonExample)
            diff = pairs[(e.prompt, e.first, e.second)] - pairs.get((e.prompt, e.second, e.first), 0.0)
            hits.append((diff > 0) == (e.label == "B"))
    return sum(hits) / len(hits)


def model_readout_accuracies(model_dir: Path, test: Sequence[Example], kind: str) -> dict[str, float]:
    """Accuracy on labeled ``test`` of the label-free readouts of the model saved in ``model_dir``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from aarlab.w2s.models import quiet_transformers

    quiet_transformers()  # the build draws its own progress; no per-load bars in its log
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    label = _paired_accuracy(test, _margins(model, tokenizer, test, LABEL_WORDS[kind]))  # type: ignore[index]
    verdict = _paired_accuracy(test, _margins(model, tokenizer, test, VERDICT_WORDS[kind]))
    return {"zero-shot-paired": round(max(label, 1 - label), 4), "verdict-words": round(max(verdict, 1 - verdict), 4)}


def strong_readouts(model_dir: Path, tests: Mapping[str, Sequence[Example]],
                    progress: Callable[[str, float, float], None] | None = None) -> dict[str, dict[str, float]]:
    """:func:`model_readout_accuracies` of the model in ``model_dir`` on each task's labeled test split (``tests``:
    task -> examples), reported to ``progress`` as the stage "strong readouts"."""
    out = {}
    for i, (task, test) in enumerate(tests.items()):
        if progress:
            progress("strong readouts", i, len(tests))
        out[task] = model_readout_accuracies(model_dir, test, task_kind(task))
    if progress:
        progress("strong readouts", len(tests), len(tests))
    return out
