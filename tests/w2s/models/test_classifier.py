import copy
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from aarlab.suites import Suite
from aarlab.w2s.data import BinaryExample, format_prompt
from aarlab.w2s.models import LabelTokenHead, ModelLoadError, label_token_ids, load_causal_lm
from aarlab.w2s.train import TrainConfig, apply_lora, fine_tune, predict_proba


def _strong(micro_suite: Suite):
    return load_causal_lm(micro_suite.model_path(micro_suite.spec.strong))


def test_label_words_are_single_tokens(micro_suite: Suite) -> None:
    loaded = _strong(micro_suite)
    ids = label_token_ids(loaded.tokenizer, ["False", "True"])
    assert len(set(ids)) == 2
    with pytest.raises(ValueError, match="must be one"):
        label_token_ids(loaded.tokenizer, ["False True"])


def test_label_logits_equal_the_full_vocabulary_logits_of_those_tokens(micro_suite: Suite) -> None:
    loaded = _strong(micro_suite)
    head = LabelTokenHead(loaded.model, loaded.tokenizer, "binary")
    prompts = ["Question: 1 + 2\nAnswer: 3\nLabel:"]
    batch = head.encode(prompts)
    with torch.no_grad():
        full = loaded.model(**batch).logits[:, -1]
        assert torch.allclose(head.logits(batch), full[:, head.label_ids], atol=1e-5)


def test_left_padding_does_not_change_a_prediction(micro_suite: Suite) -> None:
    loaded = _strong(micro_suite)
    head = LabelTokenHead(loaded.model, loaded.tokenizer, "binary")
    short = "Question: 1 + 2\nAnswer: 3\nLabel:"
    long = "Question: print ( max ( [ 1 2 3 ] ) )\nAnswer: 3\nLabel:"
    alone = predict_proba(head, [short])
    padded = predict_proba(head, [long, short])
    assert np.allclose(alone[0], padded[1], atol=1e-5)


def test_a_prompt_longer_than_max_length_keeps_its_label_position(micro_suite: Suite) -> None:
    loaded = _strong(micro_suite)
    head = LabelTokenHead(loaded.model, loaded.tokenizer, "binary", max_length=8)
    batch = head.encode(["Question: " + "1 + " * 40 + "2\nAnswer: 3\nLabel:"])
    tail = loaded.tokenizer("\nLabel:", add_special_tokens=False)["input_ids"]
    assert batch["input_ids"].shape[1] == 8
    assert batch["input_ids"][0, -len(tail):].tolist() == tail
    assert loaded.tokenizer.truncation_side == "right"  # the shared tokenizer is left as it was


def test_fine_tuning_learns_a_separable_task(micro_suite: Suite) -> None:
    loaded = _strong(micro_suite)
    head = LabelTokenHead(copy.deepcopy(loaded.model), loaded.tokenizer, "binary")
    examples = [BinaryExample(id=str(i), question=f"{i} + 0", choice=c, label=c == "red")
                for i in range(10) for c in ("red", "blue")]
    prompts = [format_prompt(e) for e in examples]
    targets = [float(e.label) for e in examples]
    fine_tune(head, prompts, targets, TrainConfig(mode="full", epochs=15, lr=3e-3, batch_size=8, warmup_steps=2), 0)
    assert ((predict_proba(head, prompts) > 0.5) == np.array(targets, bool)).mean() == 1.0


def test_lora_trains_only_adapter_weights(micro_suite: Suite) -> None:
    loaded = _strong(micro_suite)
    config = TrainConfig(mode="lora", lora_r=4, lora_alpha=8, epochs=1, batch_size=4)
    model = apply_lora(copy.deepcopy(loaded.model), config)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    head = LabelTokenHead(model, loaded.tokenizer, "binary")
    fine_tune(head, ["Question: 1 + 1\nAnswer: 2\nLabel:"] * 4, [1.0] * 4, config, 0)
    after = dict(model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_a_missing_local_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_causal_lm(str(tmp_path / "nope"))


def test_an_unreachable_hub_model_says_how_to_get_it(tmp_path) -> None:
    # A fresh interpreter: the hub library reads HF_HUB_OFFLINE when it is imported.
    code = ("from aarlab.w2s.models import ModelLoadError, load_causal_lm\n"
            "try:\n    load_causal_lm('aarlab-test/no-such-model')\n"
            "except ModelLoadError as e:\n    print(e)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "could not load model 'aarlab-test/no-such-model'" in result.stdout
    assert "hf download aarlab-test/no-such-model" in result.stdout


def test_a_seed_fixes_the_lora_adapter_whatever_the_process_drew_before(micro_suite: Suite) -> None:
    # A cached ceiling skips a training and its draws: the same seed must still give the same student.
    from aarlab.w2s.methods._strong import StrongModel

    loaded = _strong(micro_suite)
    config = TrainConfig(mode="lora", lora_r=4, lora_alpha=8, epochs=2, batch_size=4, lr=1e-3)
    examples = [BinaryExample(id=str(i), question=f"{i} + 1", choice=str(i + 1 + i % 2), label=i % 2 == 0)
                for i in range(8)]
    targets = {e.id: float(e.label) for e in examples}
    strong = StrongModel(loaded, "binary", config)

    def student_probs(draws: int) -> dict[str, float]:
        torch.rand(draws)
        return strong.train(examples, targets, seed=5).predict(examples)

    first = student_probs(1)
    state = torch.random.get_rng_state()
    second = student_probs(1000)
    assert first == second
    adapter = {n: p for n, p in apply_lora(copy.deepcopy(loaded.model), config, seed=6).named_parameters()
               if "lora_A" in n}
    other = {n: p for n, p in apply_lora(copy.deepcopy(loaded.model), config, seed=7).named_parameters()
             if "lora_A" in n}
    assert not all(torch.equal(adapter[n], other[n]) for n in adapter)
    torch.random.set_rng_state(state)
    before = torch.rand(3)
    torch.random.set_rng_state(state)
    apply_lora(copy.deepcopy(loaded.model), config, seed=6)
    assert torch.equal(torch.rand(3), before)  # the global RNG is left as it was
