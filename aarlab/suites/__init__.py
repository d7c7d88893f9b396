"""Named W2S configurations (``tiny``, ...) and access to their built artifacts."""

from aarlab.suites._build import SuiteBuildError, build_suite, is_built, suite_version
from aarlab.suites._ground_truth import (
    DatasetBaseline,
    DatasetGroundTruth,
    SuiteBaselines,
    SuiteNotBuiltError,
    dataset_dir,
    load_ground_truth,
    read_baselines,
    suite_dir,
)
from aarlab.suites._spec import (
    ModelRef,
    Suite,
    SuiteError,
    SuiteSpec,
    builtin_suite_names,
    load_suite,
    parse_suite_file,
)

__all__ = [
    "ModelRef",
    "Suite",
    "SuiteBuildError",
    "SuiteError",
    "SuiteSpec",
    "build_suite",
    "builtin_suite_names",
    "is_built",
    "load_suite",
    "parse_suite_file",
    "suite_version",
    "DatasetBaseline",
    "DatasetGroundTruth",
    "SuiteBaselines",
    "SuiteNotBuiltError",
    "dataset_dir",
    "load_ground_truth",
    "read_baselines",
    "suite_dir",
]
