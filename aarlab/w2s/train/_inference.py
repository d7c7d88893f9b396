"""Batched inference backends for label-token classifiers: Hugging Face (default) or vLLM (optional extra).

A backend is a :data:`Predictor`: ``(head, prompts, batch_size) -> P(positive)`` as float64 [n]. ``"hf"`` runs the
head's own model (:func:`~aarlab.w2s.train.predict_proba`). ``"vllm"`` serves the head's base model from its path
with the head's LoRA adapter (saved to a temporary directory per call) and reads, for each prompt, the log-probability
of each label word appended as the next token (``prompt_logprobs``); the 2-way softmax of those equals the head's
softmax over the two label-token logits for models without logit soft-capping (Qwen; not Gemma). vLLM needs a GPU and
``pip install 'aarlab[vllm]'``; the engine starts once per predictor and model.

**Unverified on GPU:** the vLLM path is exercised here only against a stand-in engine (tests/w2s/train); no GPU run
has checked it against vLLM itself.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # torch stays unimported until a predictor runs: suite files read VllmOptions
    from aarlab.w2s.models import LabelTokenHead

Inference = Literal["hf", "vllm"]
Predictor = Callable[["LabelTokenHead", Sequence[str], int], np.ndarray]

VLLM_MISSING = ("inference = \"vllm\" needs the optional vLLM extra, which is not installed: run "
                "`pip install 'aarlab[vllm]'` on a machine with an NVIDIA GPU, or set inference = \"hf\" in the "
                "suite file (the default)")


class InferenceBackendError(RuntimeError):
    """The chosen inference backend cannot run here or cannot serve this model; the message says what to do."""


class VllmOptions(BaseModel):
    """Engine options of the vLLM backend (ignored by ``"hf"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The fine-tuned model shares the GPU with the engine: leave it room.
    gpu_memory_utilization: float = Field(default=0.35, gt=0, le=1)
    max_model_len: int | None = Field(default=None, ge=16)


def _import_vllm() -> Any:
    try:
        return importlib.import_module("vllm")
    except ImportError:
        raise InferenceBackendError(VLLM_MISSING) from None


class VllmPredictor:
    """Label-token probabilities from a vLLM engine over the head's base model plus its LoRA adapter."""

    def __init__(self, options: VllmOptions | None = None, max_lora_rank: int = 64) -> None:
        self.vllm = _import_vllm()  # fail at selection time, before any training
        self.options = options or VllmOptions()
        self.max_lora_rank = max_lora_rank
        self._engines: dict[str, Any] = {}
        self._adapters = 0

    def engine(self, ref: str, dtype: str) -> Any:
        """The engine serving ``ref`` (started on first use)."""
        if ref not in self._engines:
            self._engines[ref] = self.vllm.LLM(
                model=ref, dtype=dtype, enable_lora=True, max_lora_rank=self.max_lora_rank,
                enable_prefix_caching=True, gpu_memory_utilization=self.options.gpu_memory_utilization,
                max_model_len=self.options.max_model_len)
        return self._engines[ref]

    def _token_ids(self, head: LabelTokenHead, prompts: Sequence[str]) -> list[list[int]]:
        from aarlab.w2s.models import render_prompt

        texts = [render_prompt(head.tokenizer, p, head.chat_template) for p in prompts]
        enc = head.tokenizer(texts, truncation=True, max_length=head.max_length,
                             add_special_tokens=not head.chat_template)
        return [list(ids) for ids in enc["input_ids"]]

    def __call__(self, head: LabelTokenHead, prompts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """P(positive) per prompt: float64 [n] (``batch_size`` is vLLM's to choose and ignored)."""
        if head.ref is None:
            raise InferenceBackendError("vllm inference serves a model from its path plus a LoRA adapter; this "
                                        "classifier's weights differ from any saved model (a full fine-tune): use "
                                        "inference = \"hf\" or LoRA (mode = \"lora\")")
        if not prompts:
            return np.zeros(0)
        from vllm.inputs import TokensPrompt  # type: ignore[import-not-found]
        from vllm.lora.request import LoRARequest  # type: ignore[import-not-found]

        dtype = str(next(head.model.parameters()).dtype).removeprefix("torch.")
        engine = self.engine(head.ref, dtype)
        params = self.vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        ids = self._token_ids(head, prompts)
        requests = [TokensPrompt(prompt_token_ids=[*row, label]) for row in ids for label in head.label_ids]
        with tempfile.TemporaryDirectory(prefix="aarlab-lora-") as adapter_dir:
            lora = None
            if hasattr(head.model, "peft_config"):
                head.model.save_pretrained(adapter_dir)  # type: ignore[operator]
                self._adapters += 1
                lora = LoRARequest(f"aarlab-{self._adapters}", self._adapters, adapter_dir)
            outputs = engine.generate(requests, params, lora_request=lora, use_tqdm=False)
        logprobs = np.array([_last_logprob(out) for out in outputs], dtype=np.float64).reshape(len(prompts), 2)
        shifted = logprobs - logprobs.max(1, keepdims=True)
        probs = np.exp(shifted)
        return probs[:, 1] / probs.sum(1)


def _last_logprob(output: Any) -> float:
    """Log-probability of the last prompt token (the appended label word) in a vLLM ``RequestOutput``."""
    token = output.prompt_token_ids[-1]
    entry = output.prompt_logprobs[-1][token]
    return float(getattr(entry, "logprob", entry))


def select_predictor(inference: str, options: VllmOptions | None = None, max_lora_rank: int = 64) -> Predictor:
    """The predictor of a suite's ``inference`` setting; raises :class:`InferenceBackendError` when unusable."""
    if inference == "hf":
        from aarlab.w2s.train._loop import predict_proba

        return predict_proba
    if inference == "vllm":
        return VllmPredictor(options, max_lora_rank)
    raise InferenceBackendError(f"unknown inference backend {inference!r}; valid: hf, vllm")
