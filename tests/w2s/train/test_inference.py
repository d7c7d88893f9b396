"""Inference backends: the HF default, the vLLM switch's selection and its errors, and the vLLM code path against a
stand-in engine that computes real log-probabilities with transformers + peft (vLLM itself needs a GPU)."""

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from aarlab.suites import Suite, SuiteSpec
from aarlab.w2s.cache import ArtifactCache
from aarlab.w2s.methods import resolve_method
from aarlab.w2s.methods._strong import fresh_head
from aarlab.w2s.models import load_causal_lm
from aarlab.w2s.pipeline import Experiment
from aarlab.w2s.train import (
    InferenceBackendError,
    TrainConfig,
    VllmOptions,
    VllmPredictor,
    predict_proba,
    select_predictor,
)


def test_hf_is_the_default_and_selects_the_in_process_predictor(micro_suite: Suite) -> None:
    assert micro_suite.spec.inference == "hf"
    assert select_predictor("hf") is predict_proba


def test_an_unknown_backend_is_rejected_by_the_suite_schema_and_the_selector() -> None:
    data = {"name": "x", "description": "x", "datasets": ["chat"], "weak": {"model": "w"},
            "strong": {"model": "s"}, "strong_train": {}}
    assert SuiteSpec.model_validate({**data, "inference": "vllm"}).inference == "vllm"
    with pytest.raises(ValueError, match="inference"):
        SuiteSpec.model_validate({**data, "inference": "trt"})
    with pytest.raises(InferenceBackendError, match="valid: hf, vllm"):
        select_predictor("trt")


def test_default_inference_settings_leave_a_suite_identity_unchanged() -> None:
    data = {"name": "x", "description": "x", "datasets": ["chat"], "weak": {"model": "w"},
            "strong": {"model": "s"}, "strong_train": {}}
    identity = SuiteSpec.model_validate(data).identity()
    assert "inference" not in identity and "vllm" not in identity and "experimental" not in identity
    assert SuiteSpec.model_validate({**data, "inference": "vllm"}).identity()["inference"] == "vllm"


def test_vllm_without_the_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(InferenceBackendError, match=r"pip install 'aarlab\[vllm\]'"):
        select_predictor("vllm")


def test_a_finetune_run_with_vllm_missing_fails_before_training(micro_suite: Suite, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    suite = Suite(micro_suite.spec.model_copy(update={"inference": "vllm"}), micro_suite.home)
    cache = ArtifactCache(tmp_path / "cache")
    experiment = Experiment(suite, "math", cache, lane="finetune")
    with pytest.raises(InferenceBackendError, match="aarlab\\[vllm\\]"):
        experiment.run(resolve_method("vanilla"), [0])
    assert not any((tmp_path / "cache").rglob("*.json"))  # nothing was trained


class _StandInEngine:
    """Implements the slice of ``vllm.LLM`` the predictor uses, with transformers + peft doing the maths."""

    calls: list[dict] = []

    def __init__(self, model: str, **options: object) -> None:
        self.ref, self.options = model, options

    def generate(self, requests: list[dict], params: object, lora_request: object = None, use_tqdm: bool = True):
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(self.ref, dtype=torch.float32)
        if lora_request is not None:
            model = PeftModel.from_pretrained(model, lora_request.path)
        self.calls.append({"lora": lora_request, "n": len(requests), "params": params})
        outputs = []
        with torch.no_grad():
            for request in requests:
                ids = request["prompt_token_ids"]
                logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0, -2].float(), -1)
                last = {ids[-1]: types.SimpleNamespace(logprob=float(logprobs[ids[-1]]))}
                outputs.append(types.SimpleNamespace(prompt_token_ids=ids, prompt_logprobs=[None] * (len(ids) - 1)
                                                     + [last]))
        return outputs


@pytest.fixture
def stand_in_vllm(monkeypatch: pytest.MonkeyPatch) -> type[_StandInEngine]:
    vllm = types.ModuleType("vllm")
    vllm.LLM = _StandInEngine  # type: ignore[attr-defined]
    vllm.SamplingParams = lambda **kw: kw  # type: ignore[attr-defined]
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = lambda prompt_token_ids: {"prompt_token_ids": prompt_token_ids}  # type: ignore[attr-defined]
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = lambda name, int_id, path: types.SimpleNamespace(name=name, id=int_id, path=path)  # type: ignore[attr-defined]
    for name, module in {"vllm": vllm, "vllm.inputs": inputs, "vllm.lora": lora, "vllm.lora.request": request}.items():
        monkeypatch.setitem(sys.modules, name, module)
    _StandInEngine.calls = []
    return _StandInEngine


def test_vllm_path_matches_hf_for_a_lora_student(micro_suite: Suite, stand_in_vllm) -> None:
    torch.manual_seed(0)
    loaded = load_causal_lm(micro_suite.model_path(micro_suite.spec.strong))
    head = fresh_head(loaded, "binary", TrainConfig(mode="lora", lora_r=4, lora_alpha=8, lora_targets=["q_proj"]))
    with torch.no_grad():  # move the adapter away from its identity initialisation
        for name, p in head.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    prompts = ["Question: 1 + 2 ?\nAnswer: 3\nLabel:", "Question: 4 + 4 ?\nAnswer: 9\nLabel:"]
    predictor = select_predictor("vllm", VllmOptions(gpu_memory_utilization=0.5), max_lora_rank=8)
    assert isinstance(predictor, VllmPredictor)
    got = predictor(head, prompts, 8)
    np.testing.assert_allclose(got, predict_proba(head, prompts), atol=1e-4)
    (call,) = stand_in_vllm.calls
    assert call["lora"] is not None and call["n"] == 2 * len(prompts)  # one request per label word
    assert call["params"]["prompt_logprobs"] == 0 and call["params"]["max_tokens"] == 1
    engine = predictor.engine(loaded.ref, "float32")
    assert engine.options["gpu_memory_utilization"] == 0.5 and engine.options["enable_lora"] is True


def test_vllm_refuses_a_fully_fine_tuned_student(micro_suite: Suite, stand_in_vllm) -> None:
    loaded = load_causal_lm(micro_suite.model_path(micro_suite.spec.strong))
    head = fresh_head(loaded, "binary", TrainConfig(mode="full"))
    with pytest.raises(InferenceBackendError, match="full fine-tune"):
        select_predictor("vllm")(head, ["Question: x\nAnswer: y\nLabel:"], 4)
