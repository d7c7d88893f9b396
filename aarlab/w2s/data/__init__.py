"""Datasets in the reference JSONL formats: schemas, loading with line-level errors, prompts, agent-visible copies."""

from aarlab.w2s.data._io import (
    Dataset,
    DatasetError,
    LoadedSplit,
    content_id,
    distinct_items,
    example_record,
    item_key,
    load_dataset,
    read_split,
    write_dataset,
    write_jsonl,
    write_split,
)
from aarlab.w2s.data._prompts import LABEL_WORDS, format_prompt, format_zero_shot_prompt
from aarlab.w2s.data._schema import (
    LABEL_FIELDS,
    SPLITS,
    BinaryExample,
    ComparisonExample,
    Example,
    TaskKind,
    example_kind,
    label_from_positive,
)
from aarlab.w2s.data._visible import VISIBLE_SPLITS, assert_label_free, strip_labels, write_agent_visible

__all__ = [
    "LABEL_FIELDS",
    "LABEL_WORDS",
    "SPLITS",
    "VISIBLE_SPLITS",
    "BinaryExample",
    "ComparisonExample",
    "Dataset",
    "DatasetError",
    "Example",
    "LoadedSplit",
    "TaskKind",
    "assert_label_free",
    "content_id",
    "distinct_items",
    "example_kind",
    "example_record",
    "format_prompt",
    "format_zero_shot_prompt",
    "item_key",
    "label_from_positive",
    "load_dataset",
    "read_split",
    "strip_labels",
    "write_agent_visible",
    "write_dataset",
    "write_jsonl",
    "write_split",
]
