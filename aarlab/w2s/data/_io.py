"""Reading and writing datasets: one directory of JSONL files, one file per split.

Loading validates every line and reports problems as ``file:line: what is wrong``. Files in the reference
format carry no ``id``; the loader can derive one from a hash of the line's content (``derive_ids=True``) and
says so through :attr:`LoadedSplit.derived_ids`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from aarlab._files import atomic_write_text
from aarlab.w2s.data._schema import (
    LABEL_FIELDS,
    SPLITS,
    BinaryExample,
    ComparisonExample,
    Example,
    TaskKind,
)


class DatasetError(ValueError):
    """A dataset file or directory is malformed; the message names the file, line and problem."""


@dataclass(frozen=True)
class LoadedSplit:
    """One split's examples and how they were read."""

    path: Path
    kind: TaskKind
    examples: list[Example]
    derived_ids: bool


@dataclass(frozen=True)
class Dataset:
    """A W2S dataset: the three splits of one task, all of one kind."""

    name: str
    kind: TaskKind
    splits: dict[str, list[Example]]

    def split(self, name: str) -> list[Example]:
        """Examples of one split; raises :class:`DatasetError` for an unknown split name."""
        if name not in self.splits:
            raise DatasetError(f"dataset {self.name!r} has no split {name!r}; it has {sorted(self.splits)}")
        return self.splits[name]


def content_id(record: dict[str, object]) -> str:
    """A stable id from the label-free content of a record (so labeled and unlabeled copies agree)."""
    body = {k: v for k, v in record.items() if k not in LABEL_FIELDS and k != "id"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return "h" + digest[:16]


def item_key(example: Example) -> str:
    """The label-free content id of ``example``: rows that repeat one item share it (whatever their ids)."""
    return content_id(example.model_dump())


def distinct_items(examples: Sequence[Example]) -> int:
    """How many distinct label-free contents ``examples`` hold: the sample size of a score over them.

    A split that repeats rows (tiny's math test: 1,020 rows of 60 questions x candidates) measures an accuracy
    with the noise of its distinct items, not of its rows.
    """
    return len({item_key(e) for e in examples})


def _detect_kind(record: dict[str, object]) -> TaskKind | None:
    if "prompt" in record and "first" in record and "second" in record:
        return "comparison"
    if "question" in record and "choice" in record:
        return "binary"
    return None


def _parse_line(record: object, where: str, kind: TaskKind | None, derive_ids: bool) -> Example:
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: expected a JSON object, found {type(record).__name__}")
    found = _detect_kind(record)
    if found is None:
        raise DatasetError(
            f"{where}: not a binary line (needs 'question', 'choice') nor a comparison line "
            f"(needs 'prompt', 'first', 'second'); keys found: {sorted(record)}"
        )
    if kind is not None and found != kind:
        raise DatasetError(f"{where}: a {found} line in a {kind} dataset (all lines must be of one kind)")
    if "id" not in record:
        if not derive_ids:
            raise DatasetError(f"{where}: missing required field 'id' (load with derive_ids=True to hash one)")
        record = {**record, "id": content_id(record)}
    model = BinaryExample if found == "binary" else ComparisonExample
    try:
        return model.model_validate(record)
    except ValidationError as err:
        problems = "; ".join(
            f"field {'.'.join(str(p) for p in e['loc']) or '<line>'}: {e['msg']}" for e in err.errors()
        )
        raise DatasetError(f"{where}: {problems}") from None


def read_split(path: Path | str, *, kind: TaskKind | None = None, derive_ids: bool = False) -> LoadedSplit:
    """Read and validate one JSONL split file.

    Blank lines are skipped. Ids must be unique within the file; derived ids of repeated lines get ``-2``, ``-3``, ...
    in file order. ``kind`` (if given) is enforced; otherwise the first line decides it.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    examples: list[Example] = []
    seen: dict[str, int] = {}
    derived = False
    with path.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            text = raw.rstrip("\r\n")  # with its newline, a line cut short fails at "line 2 column 1"
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                cut = "; the line ends there: truncated?" if err.pos >= len(text) else ""
                raise DatasetError(f"{where}: invalid JSON ({err.msg} at column {err.colno}{cut})") from None
            line_derived = isinstance(record, dict) and "id" not in record
            derived = derived or line_derived
            example = _parse_line(record, where, kind, derive_ids)
            kind = kind or ("binary" if isinstance(example, BinaryExample) else "comparison")
            if line_derived and example.id in seen:  # a repeated line: number its copies, stable by order
                copy = 2
                while f"{example.id}-{copy}" in seen:
                    copy += 1
                example = example.model_copy(update={"id": f"{example.id}-{copy}"})
            if example.id in seen:
                raise DatasetError(f"{where}: duplicate id {example.id!r} (first seen on line {seen[example.id]})")
            seen[example.id] = lineno
            examples.append(example)
    if not examples:
        raise DatasetError(f"{path}: no examples (file is empty)")
    assert kind is not None
    return LoadedSplit(path=path, kind=kind, examples=examples, derived_ids=derived)


def load_dataset(directory: Path | str, *, name: str | None = None, derive_ids: bool = False) -> Dataset:
    """Load ``train_label.jsonl``, ``train_unlabel.jsonl`` and ``test.jsonl`` from a directory.

    Missing split files are an error, as are splits of different kinds.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"{directory}: dataset directory does not exist")
    missing = [s for s in SPLITS if not (directory / f"{s}.jsonl").is_file()]
    if missing:
        raise DatasetError(f"{directory}: missing split file(s) {', '.join(f'{s}.jsonl' for s in missing)}")
    splits: dict[str, list[Example]] = {}
    kind: TaskKind | None = None
    for split in SPLITS:
        loaded = read_split(directory / f"{split}.jsonl", kind=kind, derive_ids=derive_ids)
        kind = loaded.kind
        splits[split] = loaded.examples
    assert kind is not None
    return Dataset(name=name or directory.name, kind=kind, splits=splits)


def example_record(example: Example) -> dict[str, object]:
    """The JSON record of an example, omitting an absent label."""
    record = example.model_dump(exclude_none=False)
    if record.get("label") is None:
        record.pop("label", None)
    return record


def write_split(path: Path | str, examples: Iterable[Example]) -> None:
    """Write examples as JSONL, atomically (a reader never sees a half-written file)."""
    lines = [json.dumps(example_record(e), ensure_ascii=False) for e in examples]
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


def write_jsonl(path: Path | str, records: Sequence[dict[str, object]]) -> None:
    """Write plain JSON records as JSONL, atomically."""
    atomic_write_text(Path(path), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def write_dataset(directory: Path | str, dataset: Dataset) -> None:
    """Write all splits of a dataset (labels included) into a directory."""
    for split, examples in dataset.splits.items():
        write_split(Path(directory) / f"{split}.jsonl", examples)
