"""What LLM tokens cost: a price table in USD per million tokens (``prices.toml``, overridable by a user file)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_PRICES = Path(__file__).with_name("prices.toml")
#: Version suffixes a model string may carry beyond its table key: ``-20250929``, ``-2025-04-14``, ``@20250929``,
#: ``-latest``.
_DATE_SUFFIX = re.compile(r"([-@]\d{8}|-\d{4}-\d{2}-\d{2}|-latest)$")
PerMillion = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class PricesError(ValueError):
    """A price file cannot be used; the message names the file and the entry."""


class ModelPrice(BaseModel):
    """USD per million tokens of one model; cache prices default to the input price."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: PerMillion
    output: PerMillion
    cache_read: PerMillion | None = None
    cache_write: PerMillion | None = None


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one LLM call. ``input_tokens`` excludes the cached ones, which are counted apart."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Every input token the model read, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


class PriceTable:
    """Prices by model key; :meth:`lookup` resolves a provider model string to its entry."""

    def __init__(self, prices: dict[str, ModelPrice]) -> None:
        self.prices = dict(prices)

    @classmethod
    def load(cls, user_file: Path | None = None) -> PriceTable:
        """The built-in table, with the entries of ``user_file`` (same shape) added or replacing built-ins."""
        prices = _read(DEFAULT_PRICES)
        if user_file is not None:
            if not user_file.is_file():
                raise PricesError(f"price file {user_file} does not exist (expected TOML like "
                                  f"[models.\"my-model\"] input = 3.0, output = 15.0, in USD per million tokens)")
            prices.update(_read(user_file))
        return cls(prices)

    def lookup(self, model: str) -> ModelPrice | None:
        """The price of ``model`` ("anthropic/claude-sonnet-4-5", "openai-api/local/llama", ...), or None."""
        for candidate in _candidates(model):
            if candidate in self.prices:
                return self.prices[candidate]
        return None

    @staticmethod
    def cost(price: ModelPrice, usage: TokenUsage) -> float:
        """USD for ``usage`` at ``price``."""
        cache_read = price.input if price.cache_read is None else price.cache_read
        cache_write = price.input if price.cache_write is None else price.cache_write
        return (usage.input_tokens * price.input + usage.output_tokens * price.output
                + usage.cache_read_tokens * cache_read + usage.cache_write_tokens * cache_write) / 1e6


def _candidates(model: str) -> list[str]:
    """``a/b/c`` -> ``a/b/c, b/c, c``, each also without a date suffix, most specific first."""
    parts = model.split("/")
    names = ["/".join(parts[i:]) for i in range(len(parts))]
    out: list[str] = []
    for name in names:
        for key in (name, _DATE_SUFFIX.sub("", name)):
            if key and key not in out:
                out.append(key)
    return out


def _read(path: Path) -> dict[str, ModelPrice]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise PricesError(f"{path}: not valid TOML ({err})") from None
    unknown = sorted(set(data) - {"models"})
    models = data.get("models", {})
    if unknown or not isinstance(models, dict):
        raise PricesError(f"{path}: expected only [models.\"NAME\"] tables (input, output, cache_read, "
                          f"cache_write in USD per million tokens); found {', '.join(unknown) or 'models = ...'}")
    prices = {}
    for name, entry in models.items():
        try:
            prices[name] = ModelPrice.model_validate(entry)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "entry"
            raise PricesError(f"{path}: model {name!r}, field {field}: {first['msg']}") from None
    return prices
