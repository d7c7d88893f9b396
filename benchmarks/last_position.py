"""Benchmark: one training step (forward, backward, AdamW) reading the last position only, against the library's
forward over every position, on the tiny suite's architecture and a deeper one.

Usage: python benchmarks/last_position.py [--steps 200] [--threads 1]

Prints ms per step for each forward and the ratio. Target: none fixed; the last-position forward is exact (tests in
tests/w2s/models/test_last_position.py) and should save most of one layer, ~1/3 of the layer work on the tiny
suite's 3-layer models (issue 18: the tiny build's strong pretraining is its critical path).
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from aarlab.w2s.models._last_position import last_position_hidden


def _batch(generator: torch.Generator, size: int = 64, vocab: int = 220) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded prompts of 8-26 tokens, as the tiny suite's pretraining lines are."""
    lengths = torch.randint(8, 27, (size,), generator=generator)
    width = int(lengths.max())
    ids = torch.randint(1, vocab, (size, width), generator=generator)
    mask = (torch.arange(width)[None] >= (width - lengths)[:, None]).long()
    return ids * mask, mask


def _step_ms(model: Qwen3ForCausalLM, last_only: bool, steps: int) -> float:
    generator = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for step in range(steps + 10):
        if step == 10:
            start = time.perf_counter()
        ids, mask = _batch(generator)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        if last_only:
            hidden = last_position_hidden(model.model, ids, mask, pos)
        else:
            hidden = model.model(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state[:, -1]
        assert hidden is not None
        loss = torch.nn.functional.cross_entropy(model.lm_head(hidden), ids[:, 0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shapes = {"tiny (3 layers, hidden 64)": 3, "deeper (12 layers, hidden 64)": 12}
    for name, layers in shapes.items():
        torch.manual_seed(0)
        config = Qwen3Config(vocab_size=220, hidden_size=64, intermediate_size=256, num_hidden_layers=layers,
                             num_attention_heads=4, num_key_value_heads=4, head_dim=16, max_position_embeddings=64,
                             tie_word_embeddings=True, pad_token_id=0)
        library = _step_ms(Qwen3ForCausalLM(config), last_only=False, steps=args.steps)
        ours = _step_ms(Qwen3ForCausalLM(config), last_only=True, steps=args.steps)
        print(f"{name:<32} library {library:6.1f} ms/step   last-position {ours:6.1f} ms/step   "
              f"ratio {library / ours:.2f}x ({args.threads} thread{'s' * (args.threads > 1)})")


if __name__ == "__main__":
    main()
