"""What an LLM campaign needs before anything starts: a model string the runtime accepts, the provider's API key
in the environment, a readable price table and research directions (one per agent)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from aarlab.campaign._state import CampaignError

#: ``provider/model`` strings the runtime accepts (inspect_ai's): ``openai-api/<name>/<model>`` names any
#: OpenAI-compatible server; local ``vllm`` and ``ollama`` servers need no key.
_MODEL = re.compile(r"^(anthropic|openai|vllm|ollama)/[\w.:@/-]+$|^openai-api/[a-z0-9_-]+/[\w.:@/-]+$")
#: Providers whose servers run locally without an API key.
_KEYLESS = ("vllm", "ollama")


@dataclass(frozen=True)
class LLMOptions:
    """How LLM agents of a campaign run: model, endpoint, per-agent budgets, prices, directions."""

    model: str
    base_url: str | None = None
    budget_usd: float | None = None
    budget_tokens: int | None = None
    budget_experiments: int | None = None
    prices_file: Path | None = None
    directions_file: Path | None = None


def api_key_variable(model: str) -> str | None:
    """The environment variable holding the provider's API key for ``model`` (None: a keyless local server).

    ``openai-api/<name>/...`` follows inspect_ai's convention: ``<NAME>_API_KEY``.
    """
    provider = model.split("/", 1)[0]
    if provider in _KEYLESS:
        return None
    if provider == "anthropic":
        return "ANTHROPIC_API_KEY"
    if provider == "openai":
        return "OPENAI_API_KEY"
    name = model.split("/")[1]
    return f"{name.upper().replace('-', '_')}_API_KEY"


def check_model(model: str, environ: dict[str, str] | None = None) -> None:
    """:class:`CampaignError` unless ``model`` is a model string the runtime accepts and its API key is set."""
    env = os.environ if environ is None else environ
    if not _MODEL.match(model):
        raise CampaignError(f"--agent {model!r} is neither 'search' nor a model string; use e.g. "
                            "'anthropic/claude-sonnet-4-5', 'openai/gpt-4.1', 'openai-api/local/llama-3' (an "
                            "OpenAI-compatible server, with --base-url) or 'ollama/qwen3:8b'")
    variable = api_key_variable(model)
    if variable is not None and not env.get(variable):
        raise CampaignError(f"{variable} is not set; the agents' model {model} needs it (export {variable}=... "
                            "in the shell that runs the campaign; it never enters a sandbox)")


def check_options(options: LLMOptions) -> None:
    """Validate everything about LLM agents that can be checked before a campaign starts."""
    check_model(options.model)
    if options.model.startswith("openai-api/") and options.base_url is None:
        name = options.model.split("/")[1].upper().replace("-", "_")
        if not os.environ.get(f"{name}_BASE_URL"):
            raise CampaignError(f"{options.model} is an OpenAI-compatible server: give its URL with --base-url "
                                f"(or {name}_BASE_URL)")
    if options.base_url is not None and not options.base_url.startswith(("http://", "https://")):
        raise CampaignError(f"--base-url must be an http(s) URL, found {options.base_url!r}")
    if options.prices_file is not None:
        check_prices(options.prices_file)


def check_prices(path: Path) -> None:
    """The price table must exist and parse (the runtime's own reader says what is wrong)."""
    if not path.is_file():
        raise CampaignError(f"price file {path} does not exist (a TOML table of USD per million tokens; see "
                            "docs/agents.md)")
    try:
        from aarlab.agents.runtime._prices import PricesError, PriceTable
    except ImportError:  # the runtime is not installed in this checkout: it checks the file when it starts
        return
    try:
        PriceTable.load(path)
    except PricesError as err:
        raise CampaignError(str(err)) from None
