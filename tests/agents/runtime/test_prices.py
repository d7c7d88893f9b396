"""The price table: model strings resolve to entries, user files override, bad files are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aarlab.agents.runtime import PricesError, PriceTable, TokenUsage


@pytest.mark.parametrize(("model", "key"), [
    ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
    ("anthropic/claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("openai/gpt-4.1-2025-04-14", "gpt-4.1"),
    ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
    ("openai/o3-mini", "o3-mini"),
])
def test_model_strings_resolve_to_their_price(model: str, key: str) -> None:
    table = PriceTable.load()
    assert table.lookup(model) == table.prices[key]


def test_unknown_models_have_no_price() -> None:
    table = PriceTable.load()
    assert table.lookup("openai-api/local/llama-3") is None
    assert table.lookup("anthropic/claude-opus-9") is None  # no guessing by prefix


def test_a_user_file_adds_and_overrides_prices(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models."local/llama-3"]\ninput = 0\noutput = 0\n\n[models."gpt-4.1"]\ninput = 1\noutput = 2\n')
    table = PriceTable.load(path)
    assert table.lookup("openai-api/local/llama-3") is not None
    assert table.lookup("openai/gpt-4.1").output == 2  # type: ignore[union-attr]
    assert table.lookup("anthropic/claude-sonnet-4-5") is not None


def test_cost_counts_cached_tokens_at_their_own_price() -> None:
    price = PriceTable.load().prices["claude-sonnet-4-5"]
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=2_000_000,
                       cache_write_tokens=10_000)
    assert PriceTable.cost(price, usage) == pytest.approx(3.0 + 1.5 + 0.6 + 0.0375)
    no_cache_price = PriceTable.load().prices["gpt-4o"]
    assert PriceTable.cost(no_cache_price, TokenUsage(cache_write_tokens=1_000_000)) == pytest.approx(2.5)


@pytest.mark.parametrize(("content", "message"), [
    ('[models."x"]\ninput = -1\noutput = 1\n', "model 'x', field input"),
    ('[models."x"]\ninput = 1\n', "field output"),
    ('[prices."x"]\ninput = 1\noutput = 1\n', "expected only"),
    ("[models\n", "not valid TOML"),
])
def test_a_bad_price_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(content)
    with pytest.raises(PricesError, match=message):
        PriceTable.load(path)
    with pytest.raises(PricesError, match="does not exist"):
        PriceTable.load(tmp_path / "missing.toml")
