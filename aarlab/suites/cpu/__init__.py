"""The cpu suite's builder: real pretrained models and data that ship inside PyPI packages, offline."""

from typing import Any

from aarlab.suites._spec import Suite
from aarlab.suites.cpu._build import CpuBuildError, build_cpu
from aarlab.suites.cpu._chat import build_chat, chat_facts
from aarlab.suites.cpu._code import build_code, humaneval_problems
from aarlab.suites.cpu._companies import build_companies, companies_facts
from aarlab.suites.cpu._etymology import build_etymology, etymology_facts
from aarlab.suites.cpu._math import build_math
from aarlab.suites.cpu._models import MissingPackageError, prepare_gemma, prepare_minilm


def build(suite: Suite, progress: Any, _workers: int, log: Any) -> dict[str, Any]:
    """The builder entry point of ``suites/_build.py`` (see ``BUILDERS`` there)."""
    return build_cpu(suite, progress, log)


__all__ = [
    "CpuBuildError",
    "MissingPackageError",
    "build",
    "build_chat",
    "build_code",
    "build_companies",
    "build_cpu",
    "build_etymology",
    "build_math",
    "chat_facts",
    "companies_facts",
    "etymology_facts",
    "humaneval_problems",
    "prepare_gemma",
    "prepare_minilm",
]
