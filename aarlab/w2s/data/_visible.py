"""The agent-visible copy of a dataset: inputs only, every label-carrying field removed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aarlab.w2s.data._io import Dataset, write_jsonl, write_split
from aarlab.w2s.data._schema import LABEL_FIELDS, Example

#: Splits an agent may see (inputs only). ``train_label`` stays with the teacher and the scoring service.
VISIBLE_SPLITS: tuple[str, ...] = ("train_unlabel", "test")


def strip_labels(examples: list[Example]) -> list[Example]:
    """Label-free copies of examples."""
    return [e.without_label() for e in examples]


def write_agent_visible(
    directory: Path | str,
    dataset: Dataset,
    weak_soft_labels: Mapping[str, float] | None = None,
) -> list[Path]:
    """Write ``train_unlabel.jsonl`` and ``test.jsonl`` without labels, plus ``weak_soft_labels.jsonl``.

    ``weak_soft_labels`` maps train_unlabel ids to the weak teacher's P(True/B); they are the teacher's
    outputs, not ground truth. Returns the files written.
    """
    directory = Path(directory)
    written = []
    for split in VISIBLE_SPLITS:
        path = directory / f"{split}.jsonl"
        write_split(path, strip_labels(dataset.split(split)))
        written.append(path)
    if weak_soft_labels is not None:
        unlabel_ids = {e.id for e in dataset.split("train_unlabel")}
        unknown = set(weak_soft_labels) - unlabel_ids
        if unknown:
            raise ValueError(f"weak soft labels for ids not in train_unlabel: {sorted(unknown)[:5]}")
        path = directory / "weak_soft_labels.jsonl"
        write_jsonl(path, [{"id": i, "p": float(p)} for i, p in weak_soft_labels.items()])
        written.append(path)
    return written


def assert_label_free(records: list[dict[str, object]]) -> None:
    """Raise ``ValueError`` if any record carries a label field (used to check exported files)."""
    for record in records:
        leaked = LABEL_FIELDS & set(record)
        if leaked:
            raise ValueError(f"record {record.get('id')!r} carries label field(s) {sorted(leaked)}")
