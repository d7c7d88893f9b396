"""The paper suite's code path with tiny stand-ins: a chat-template teacher, a base student, reference JSONL data
without ids, LoRA fine-tuning -- and the error a user gets offline without the real models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aarlab.suites import Suite, load_suite
from aarlab.w2s.cache import ArtifactCache
from aarlab.w2s.methods import resolve_method
from aarlab.w2s.models import LabelTokenHead, load_causal_lm, render_prompt
from aarlab.w2s.pipeline import Experiment

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m['role'] }}\n{{ m['content'] }} <|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|> assistant\n<think>\n\n</think>\n\n{% endif %}"
)


def _reference_files(directory: Path, micro_suite: Suite) -> None:
    """The micro suite's chat data written as the reference does: no ``id`` field."""
    from aarlab.w2s.data import load_dataset

    source = load_dataset(micro_suite.data_path("chat"))
    for split, examples in source.splits.items():
        lines = [json.dumps({k: v for k, v in e.model_dump().items() if k != "id"}) for e in examples]
        (directory / "chat").mkdir(parents=True, exist_ok=True)
        (directory / "chat" / f"{split}.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def paper_standin(micro_suite: Suite, tmp_path_factory: pytest.TempPathFactory) -> Suite:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("paper")
    chat_dir = root / "weak-chat"
    tokenizer = AutoTokenizer.from_pretrained(micro_suite.spec.weak.model)
    tokenizer.chat_template = CHAT_TEMPLATE
    AutoModelForCausalLM.from_pretrained(micro_suite.spec.weak.model).save_pretrained(chat_dir)
    tokenizer.save_pretrained(chat_dir)
    _reference_files(root / "data", micro_suite)
    paper = load_suite("paper", root / "home")
    spec = paper.spec.model_copy(update={
        "datasets": ["chat"],
        "weak": paper.spec.weak.model_copy(update={"model": str(chat_dir), "dtype": "float32"}),
        "strong": paper.spec.strong.model_copy(update={"model": micro_suite.spec.strong.model, "dtype": "float32"}),
        "weak_train": paper.spec.weak_train.with_overrides(epochs=1, batch_size=16, lora_r=4, lora_alpha=4),
        "strong_train": paper.spec.strong_train.with_overrides(epochs=1, batch_size=16, lora_r=4, lora_alpha=4),
    })
    return Suite(spec, paper.home).with_data_dir(root / "data")


def test_the_paper_suite_is_the_reference_configuration(tmp_path: Path) -> None:
    spec = load_suite("paper", tmp_path).spec
    assert (spec.weak.model, spec.strong.model) == ("Qwen/Qwen1.5-0.5B-Chat", "Qwen/Qwen3-4B-Base")
    assert spec.weak.chat_template and not spec.strong.chat_template
    assert spec.weak.dtype == spec.strong.dtype == "bfloat16"
    for train in (spec.weak_train, spec.strong_train):
        assert (train.mode, train.lora_r, train.lora_alpha, train.lora_rslora) == ("lora", 32, 32, True)
        assert (train.epochs, train.lr, train.batch_size, train.lora_targets) == (5, 1e-4, 32, "all-linear")


def test_the_chat_teacher_reads_its_template_without_the_empty_think_block(paper_standin: Suite) -> None:
    loaded = load_causal_lm(paper_standin.spec.weak.model, chat_template=True)
    text = render_prompt(loaded.tokenizer, "Question: q\nLabel:", chat_template=True)
    assert text == "<|im_start|> user\nQuestion: q\nLabel: <|im_end|>\n<|im_start|> assistant\n"
    head = LabelTokenHead(loaded.model, loaded.tokenizer, "comparison", chat_template=True)
    plain = LabelTokenHead(loaded.model, loaded.tokenizer, "comparison", chat_template=False)
    assert head.encode(["Question: q\nLabel:"])["input_ids"].shape[1] > plain.encode(["Question: q\nLabel:"])[
        "input_ids"].shape[1]


def test_a_paper_experiment_runs_on_reference_files_without_ids(paper_standin: Suite) -> None:
    experiment = Experiment(paper_standin, "chat", ArtifactCache(None))
    assert all(e.id.startswith("h") for e in experiment.dataset.split("test"))  # ids derived from content
    weak = experiment.weak_teacher(42)
    transfer = experiment.run_method(resolve_method("vanilla"), weak, 42)
    assert set(transfer) == {e.id for e in experiment.dataset.split("test")}
    assert experiment.teacher_lane == "finetune"


def test_offline_without_the_models_the_error_names_the_model_and_the_fix(micro_suite: Suite, tmp_path: Path) -> None:
    _reference_files(tmp_path / "data", micro_suite)
    env = {**os.environ, "COLUMNS": "200", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "AARLAB_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-m", "aarlab", "w2s", "run", "--suite", "paper", "--dataset", "chat",
                             "--data-dir", str(tmp_path / "data"), "--seeds", "1"],
                            capture_output=True, text=True, env=env, timeout=300)
    message = " ".join(result.stderr.split())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "hf download Qwen/Qwen1.5-0.5B-Chat" in message and "hf download Qwen/Qwen3-4B-Base" in message
    assert "nothing was trained" in message and not (tmp_path / "home" / "suites" / "paper" / "cache").exists()


def test_the_paper_suite_without_a_data_dir_says_how_to_give_one(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "aarlab", "w2s", "run", "--suite", "paper", "--dataset", "chat"],
                            capture_output=True, text=True, env={**os.environ, "AARLAB_HOME": str(tmp_path),
                                                                 "COLUMNS": "200"}, timeout=300)
    assert result.returncode == 2 and "pass --data-dir DIR" in " ".join(result.stderr.split())
