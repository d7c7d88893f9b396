"""Example schemas in the reference JSONL formats, plus the stable ``id`` aarlab adds.

Two task kinds exist:

* ``binary``: ``{"id", "question", "choice", "label": bool}`` -- is ``choice`` a correct answer to ``question``?
* ``comparison``: ``{"id", "prompt", "first", "second", "label": "A" | "B"}`` -- which answer is better?

A label-free copy of an example has ``label = None``; that is what methods and agents see.
Internally every label is also available as a float target: P(True) or P(B).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

TaskKind = Literal["binary", "comparison"]
SPLITS: tuple[str, ...] = ("train_label", "train_unlabel", "test")
#: Fields that carry ground truth (or metadata derived from it) and never reach an agent-visible file.
LABEL_FIELDS: frozenset[str] = frozenset({"label", "answer", "subset", "difficulty", "consistency_key"})

NonEmpty = Annotated[StrictStr, Field(min_length=1)]


class _Example(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: NonEmpty

    def positive(self) -> bool | None:
        """True when the label is the positive class (True / B); None when unlabeled."""
        raise NotImplementedError

    def without_label(self) -> Self:
        """A copy with every label-carrying field removed (what methods and agents see)."""
        data = {k: v for k, v in self.model_dump().items() if k not in LABEL_FIELDS}
        return type(self).model_validate(data)

    def extra_fields(self) -> dict[str, Any]:
        """Fields beyond the schema (kept on round trips, e.g. ``consistency_id``)."""
        return dict(self.model_extra or {})


class BinaryExample(_Example):
    """``question`` + candidate ``choice``; ``label`` says whether the choice is correct."""

    kind: Literal["binary"] = Field(default="binary", exclude=True)
    question: StrictStr
    choice: StrictStr
    label: StrictBool | None = None

    def positive(self) -> bool | None:
        return self.label


class ComparisonExample(_Example):
    """``prompt`` + two answers; ``label`` is ``"A"`` when ``first`` is better, ``"B"`` when ``second`` is."""

    kind: Literal["comparison"] = Field(default="comparison", exclude=True)
    prompt: StrictStr
    first: StrictStr
    second: StrictStr
    label: Literal["A", "B"] | None = None

    def positive(self) -> bool | None:
        return None if self.label is None else self.label == "B"


Example = BinaryExample | ComparisonExample


def example_kind(example: Example) -> TaskKind:
    """The task kind of one example."""
    return "binary" if isinstance(example, BinaryExample) else "comparison"


def label_from_positive(kind: TaskKind, positive: bool) -> bool | str:
    """The reference-format label value for a positive/negative outcome."""
    if kind == "binary":
        return positive
    return "B" if positive else "A"
