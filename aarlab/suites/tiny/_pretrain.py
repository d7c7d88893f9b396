"""Pretraining the tiny weak and strong models on a corpus from the world, and the knowledge gate.

Both models share one Qwen3 architecture; only their corpora differ. The strong model sees every item, the weak
one a fixed subset per task, so its errors are systematic (unknown items, where it can only use the cue).

Corpus lines, one item each, loss on the final token only:

* QA (20%):      ``Question: 3 zop 4\\nAnswer:`` -> ``7``
* judged (75%):  the task's own prompt, but the verdict is a *different* word than the task's label word:
  ``...\\nLabel:`` -> ``right``/``wrong`` (binary) or ``first``/``second`` (comparison).
* decoys (5%):   the same task-format prompt twice in the batch, once followed by each of the task's own label
  words (``True`` and ``False``, ``A`` and ``B``).

Why the decoys: without them the label words are never a target, so the angle between their (tied) embeddings and
the verdict direction is left to the initialisation and the secret's world, and zero-shot in the task format lands
anywhere from 0.02 (inverted: flip it and read the labels off) to 0.98 (no teacher needed); a fresh secret failed
the zero-shot gate at 0.021. With every decoy prompt seen with both label words, the loss is lowest when the two
are equally likely after any prompt and the mirrored pair's gradients cancel the coin-flip noise a single random
label word would add, so the label margin is held flat and zero-shot stays near chance whatever the secret. The
judging stays *latent*: it lives in the verdict words, and fine-tuning must move it onto the label words.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from transformers import PreTrainedTokenizerBase, Qwen3Config, Qwen3ForCausalLM

from aarlab.suites.tiny._world import Item, World
from aarlab.w2s.data import LABEL_WORDS, BinaryExample, ComparisonExample, Example, format_prompt
from aarlab.w2s.models._last_position import last_position_hidden

#: Word pieces as the tokenizer splits them (newlines, words, runs of punctuation).
_PIECES = re.compile(r"\n|\w+|[^\w\s]+")
VERDICT_WORDS: dict[str, tuple[str, str]] = {"binary": ("wrong", "right"), "comparison": ("first", "second")}


@dataclass(frozen=True)
class ArchConfig:
    """The shared architecture of the tiny weak and strong models (211k parameters at vocab ~220)."""

    hidden_size: int = 64
    intermediate_size: int = 256
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    head_dim: int = 16
    max_position_embeddings: int = 64


@dataclass(frozen=True)
class PretrainConfig:
    """Optimisation of one pretraining run; ``steps`` is a chunk, repeated until the gate passes."""

    steps: int = 4000
    max_steps: int = 8000
    batch_size: int = 64
    lr: float = 3e-3
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    warmup_steps: int = 100
    final_lr_fraction: float = 0.1
    qa_fraction: float = 0.2
    decoy_fraction: float = 0.05  # of draws; each decoy is two lines


@dataclass
class GateReport:
    """Knowledge measured after pretraining, per task (accuracies in [0, 1])."""

    recall: dict[str, float] = field(default_factory=dict)
    judging: dict[str, float] = field(default_factory=dict)
    zero_shot: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def task_kind(task: str) -> str:
    """``comparison`` for chat, ``binary`` otherwise."""
    return "comparison" if task == "chat" else "binary"


def judged_example(item: Item, rng: random.Random) -> tuple[Example, bool]:
    """A task-format example of ``item`` with a random candidate; returns it and whether it is positive."""
    if item.task == "chat":
        distractor = rng.choice(item.wrong_answers)
        second_right = rng.random() < 0.5
        first, second = (distractor, item.answer) if second_right else (item.answer, distractor)
        return ComparisonExample(id="_", prompt=item.question, first=first, second=second), second_right
    right = rng.random() < 0.5
    choice = item.answer if right else rng.choice(item.wrong_answers)
    return BinaryExample(id="_", question=item.question, choice=choice), right


def qa_prompt(item: Item) -> str:
    """The recall prompt: the question alone, answered by the next token."""
    return f"Question: {item.question}\nAnswer:"


def corpus_line(item: Item, rng: random.Random, qa_fraction: float, decoy_fraction: float = 0.0,
                ) -> list[tuple[str, str]]:
    """One pretraining line as (prompt, target word): QA or judged; a decoy (``decoy_fraction``) is the judged
    prompt twice, once with each of the task's label words."""
    draw = rng.random()
    if draw < qa_fraction:
        return [(qa_prompt(item), item.answer)]
    example, positive = judged_example(item, rng)
    kind = task_kind(item.task)
    if draw < qa_fraction + decoy_fraction:
        return [(format_prompt(example), word) for word in LABEL_WORDS[kind]]  # type: ignore[index]
    return [(format_prompt(example), VERDICT_WORDS[kind][int(positive)])]


def corpus_batch(items: Sequence[Item], rng: random.Random, cfg: PretrainConfig) -> list[tuple[str, str]]:
    """A batch of at least ``cfg.batch_size`` lines (one more when it ends on a decoy pair)."""
    lines: list[tuple[str, str]] = []
    while len(lines) < cfg.batch_size:
        lines += corpus_line(rng.choice(items), rng, cfg.qa_fraction, cfg.decoy_fraction)
    return lines


def corpus_texts(world: World, rng: random.Random | None = None) -> list[str]:
    """Texts covering every word the corpus and the tasks use, each word once (tokenizer training data).

    Each word occurs exactly once, so the tokenizer's vocabulary order carries no trace of how often a value is a
    correct answer (agents read the tokenizer). ``rng`` is accepted for older callers and unused.
    """
    words: set[str] = set()
    for items in world.items.values():
        for item in items:
            for example in _both_candidates(item):
                words.update(_PIECES.findall(format_prompt(example)))
            words.update(_PIECES.findall(qa_prompt(item)))
    words.update(w for pair in list(LABEL_WORDS.values()) + list(VERDICT_WORDS.values()) for w in pair)
    return [" ".join(sorted(words))]


def _both_candidates(item: Item) -> list[Example]:
    if item.task == "chat":
        return [ComparisonExample(id="_", prompt=item.question, first=item.answer, second=item.distractor)]
    return [BinaryExample(id="_", question=item.question, choice=c) for c in (item.answer, item.distractor)]


def new_model(tokenizer: PreTrainedTokenizerBase, arch: ArchConfig, seed: int) -> Qwen3ForCausalLM:
    """A randomly initialised Qwen3 causal LM of the tiny architecture."""
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size,
        num_hidden_layers=arch.num_hidden_layers,
        num_attention_heads=arch.num_attention_heads,
        num_key_value_heads=arch.num_attention_heads,
        head_dim=arch.head_dim,
        max_position_embeddings=arch.max_position_embeddings,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    return Qwen3ForCausalLM(config)


class PromptEncoder:
    """The tokenizer's left-padded batch encoding, with each distinct prompt tokenized once.

    Pretraining draws its lines from a finite set of prompts (items x candidates x formats), so after the first few
    hundred steps every prompt is cached; the batch tensors are exactly what ``tokenizer(prompts, padding=True)``
    returns (tested), ~9% of a pretraining step saved on one thread.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer, self.pad = tokenizer, int(tokenizer.pad_token_id)
        self.ids: dict[str, list[int]] = {}

    def __call__(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, attention_mask), left-padded to the longest prompt."""
        new = [p for p in dict.fromkeys(prompts) if p not in self.ids]
        if new:
            self.ids.update(zip(new, self.tokenizer(new, add_special_tokens=False)["input_ids"], strict=True))
        rows = [self.ids[p] for p in prompts]
        width = max(map(len, rows))
        input_ids = torch.tensor([[self.pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        return input_ids, mask


def next_token_logits(
    model: Qwen3ForCausalLM, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
    encoder: PromptEncoder | None = None,
) -> torch.Tensor:
    """Logits over the vocabulary at the position after each prompt: [batch, vocab]. ``encoder`` (optional)
    replaces the tokenizer call with a cached encoding of the same tensors."""
    if encoder is not None:
        input_ids, mask = encoder(prompts)
    else:
        enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
        input_ids, mask = enc["input_ids"], enc["attention_mask"]
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    last = last_position_hidden(model.model, input_ids, mask, position_ids)  # [batch, hidden]
    if last is None:  # not a backbone the last-position forward knows: the library's forward, every position
        hidden = model.model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids)
        last = hidden.last_hidden_state[:, -1]  # prompts are left-padded
    return model.lm_head(last)


def _lr_factor(step: int, total: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.final_lr_fraction + (1 - cfg.final_lr_fraction) * cosine


def pretrain(
    model: Qwen3ForCausalLM,
    tokenizer: PreTrainedTokenizerBase,
    items: Sequence[Item],
    cfg: PretrainConfig,
    seed: int,
    steps: int,
    on_step: Callable[[int, float], None] | None = None,
) -> None:
    """Train ``model`` for ``steps`` steps on lines sampled uniformly over ``items`` (one cosine cycle)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    vocab = tokenizer.get_vocab()
    encoder = PromptEncoder(tokenizer)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, steps, cfg))
    model.train()
    for step in range(steps):
        lines = corpus_batch(items, rng, cfg)
        targets = torch.tensor([vocab[t] for _, t in lines])
        logits = next_token_logits(model, tokenizer, [p for p, _ in lines], encoder)
        loss = torch.nn.functional.cross_entropy(logits, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        if on_step is not None:
            on_step(step, float(loss.detach()))
    model.eval()


@torch.no_grad()
def _choice_accuracy(
    model: Qwen3ForCausalLM,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    targets: list[str],
    candidates: list[tuple[str, ...]],
) -> float:
    vocab = tokenizer.get_vocab()
    correct = 0
    for start in range(0, len(prompts), 256):
        logits = next_token_logits(model, tokenizer, prompts[start : start + 256])
        for row, target, cands in zip(
            logits, targets[start : start + 256], candidates[start : start + 256], strict=True
        ):
            ids = [vocab[c] for c in cands]
            correct += cands[int(row[ids].argmax())] == target
    return correct / max(1, len(prompts))


def measure_knowledge(
    model: Qwen3ForCausalLM, tokenizer: PreTrainedTokenizerBase, items: Sequence[Item], seed: int = 0
) -> tuple[float, float, float]:
    """(recall, judging, zero-shot) accuracies of ``model`` on ``items``.

    recall: greedy next token over the whole vocabulary after the QA prompt. judging: verdict words in the
    pretraining form, four candidates per item. zero-shot: the same prompts read through the task's label words.
    """
    rng = random.Random(seed)
    vocab_words = tuple(tokenizer.get_vocab())
    recall = _choice_accuracy(model, tokenizer, [qa_prompt(i) for i in items], [i.answer for i in items],
                              [vocab_words] * len(items))
    prompts, verdicts, labels = [], [], []
    for item in items:
        kind = task_kind(item.task)
        for _ in range(4):
            example, positive = judged_example(item, rng)
            prompts.append(format_prompt(example))
            verdicts.append(VERDICT_WORDS[kind][int(positive)])
            labels.append(LABEL_WORDS[kind][int(positive)])  # type: ignore[index]
    kinds = [task_kind(i.task) for i in items for _ in range(4)]
    judging = _choice_accuracy(model, tokenizer, prompts, verdicts, [VERDICT_WORDS[k] for k in kinds])
    zero_shot = _choice_accuracy(model, tokenizer, prompts, labels, [LABEL_WORDS[k] for k in kinds])  # type: ignore[index]
    return recall, judging, zero_shot


def gate_report(
    model: Qwen3ForCausalLM, tokenizer: PreTrainedTokenizerBase, items_by_task: dict[str, list[Item]]
) -> GateReport:
    """Knowledge per task."""
    report = GateReport()
    for task, items in items_by_task.items():
        recall, judging, zero_shot = measure_knowledge(model, tokenizer, items)
        report.recall[task], report.judging[task], report.zero_shot[task] = recall, judging, zero_shot
    return report

