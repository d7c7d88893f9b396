"""The cpu suite's ``companies`` dataset: business knowledge about listed companies (``pytickersymbols``).

The package ships the members of twenty stock indices (DAX, FTSE 100, Nikkei 225, S&P 500, ...) with their country
and industries. Two relations: company -> country of its headquarters, and company -> GICS sector (for companies
the data gives exactly one of the eleven). "In which sector does the company Nucor operate?" -- the right answer
against one distractor, **prior-matched** (drawn in proportion to how often each answer is right), so an answer's
popularity says nothing (the question-blind baseline stays at chance). The United States and Japan would dominate
the country relation; at most 200 companies per country are asked about (chosen by a hash of the name, not by the
seed), so the prior matching can balance it. Countries with fewer than five companies are left out.

Why it has a gap: a sentence encoder reads sector words in a name ("... Bank", "... Energy") but knows little about
*which* company is which; Gemma-3-270M read about many of them. A domain of its own (business), held out from
``chat``'s geography.
"""

from __future__ import annotations

import random
from collections import Counter

from aarlab.suites.cpu._facts import Fact, build_comparisons, capped_answers, weighted_pool
from aarlab.w2s.data import Dataset

SPLIT_SIZES = {"train_label": 400, "train_unlabel": 1000, "test": 600}  # test takes the rest
#: The eleven GICS sectors (the data mixes several industry taxonomies; only these names are used as answers).
SECTORS = ("Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials",
           "Health Care", "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities")
MAX_PER_COUNTRY = 200
MIN_PER_COUNTRY = 5


def _country(raw: str) -> str:
    # US members of some indices carry "City, State" instead of a country.
    return "United States" if "," in raw else raw


def companies_facts() -> list[Fact]:
    """Every question of the dataset with its distractor pool (deterministic: depends only on the package data)."""
    from pytickersymbols import PyTickerSymbols

    stocks = list(PyTickerSymbols().get_all_stocks())
    names = Counter(str(s["name"]) for s in stocks)
    rows = [(str(s["name"]), _country(str(s["country"])), sorted({i for i in s.get("industries", []) if i in SECTORS}))
            for s in stocks if names[str(s["name"])] == 1 and s.get("country")]
    kept, country_counts = capped_answers(((name, country) for name, country, _ in rows), MAX_PER_COUNTRY,
                                          MIN_PER_COUNTRY)
    countries = dict(kept)
    sectors = {name: found[0] for name, _, found in rows if len(found) == 1}
    sector_counts = Counter(sectors.values())
    facts: list[Fact] = []
    for name, _, _ in sorted(rows):
        home = countries.get(name)
        if home is not None and home in country_counts:
            facts.append(Fact("country", f"company:{name}",
                              f"In which country is the company {name} headquartered?", home,
                              weighted_pool(country_counts, country_counts, home)))
        if name in sectors:
            facts.append(Fact("sector", f"company:{name}", f"In which sector does the company {name} operate?",
                              sectors[name], weighted_pool(sector_counts, sector_counts, sectors[name])))
    return facts


def build_companies(seed: int = 0, secret: str = "") -> Dataset:
    """The three splits, group-disjoint (both questions about one company stay in one split); ``secret`` (the
    suite's build secret) is mixed into every draw."""
    rng = random.Random(f"{seed}:companies" if not secret else f"{secret}:{seed}:companies")
    return build_comparisons("companies", companies_facts(), SPLIT_SIZES, rng)
