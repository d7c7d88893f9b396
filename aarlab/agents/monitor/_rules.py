"""Monitor rules as data: named regular expressions over parts of transcript events (``rules.toml``)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_RULES = Path(__file__).with_name("rules.toml")
Part = Literal["input", "output", "assistant"]


class RulesError(ValueError):
    """A rules file cannot be used; the message names the file and the rule."""


class RuleSpec(BaseModel):
    """One ``[[rule]]`` table of a rules file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1)
    fields: list[Part] = Field(min_length=1)
    keywords: list[str] = Field(min_length=1, description="lower-case substrings, one of which must occur for "
                                "the patterns to be tried (a prefilter)")
    patterns: list[str] = Field(min_length=1)


class RulesFile(BaseModel):
    """A rules file: ``[[rule]]`` tables."""

    model_config = ConfigDict(extra="forbid")

    rule: list[RuleSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Rule:
    """A named check: its patterns (compiled, case-insensitive) and which event parts they are matched against."""

    name: str
    description: str
    fields: tuple[Part, ...]
    patterns: tuple[re.Pattern[str], ...]
    keywords: tuple[str, ...] = ()
    keyword_re: re.Pattern[str] | None = None  # the keywords as one alternation (one C-level scan)

    def search(self, text: str, lowered: str | None = None) -> re.Match[str] | None:
        """The first match of any pattern in ``text`` (``lowered``: ``text.lower()``, when the caller has it);
        None at once when no keyword occurs."""
        lowered = text.lower() if lowered is None else lowered
        if self.keyword_re is not None and self.keyword_re.search(lowered) is None:
            return None
        for pattern in self.patterns:
            found = pattern.search(text)
            if found is not None:
                return found
        return None


def load_rules(path: Path | None = None) -> list[Rule]:
    """The rules of ``path`` (default: the built-in ``rules.toml``); :class:`RulesError` names what is wrong."""
    path = path or DEFAULT_RULES
    try:
        spec = RulesFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except OSError as err:
        raise RulesError(f"{path}: cannot read the rules file ({err.strerror or err})") from None
    except tomllib.TOMLDecodeError as err:
        raise RulesError(f"{path}: not valid TOML ({err})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RulesError(f"{path}: {where}: {first['msg']}; expected [[rule]] tables with name, description, "
                         "fields (input/output/assistant) and patterns") from None
    names = [r.name for r in spec.rule]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise RulesError(f"{path}: rule {duplicate!r} is defined twice; give each rule its own name")
    rules = []
    for r in spec.rule:
        bad = next((k for k in r.keywords if not k or k != k.lower()), None)
        if bad is not None:
            raise RulesError(f"{path}: rule {r.name!r}: keyword {bad!r} must be a non-empty lower-case string "
                             "(it is looked for in the lower-cased text)")
        compiled = []
        for pattern in r.patterns:
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as err:
                raise RulesError(f"{path}: rule {r.name!r}: pattern {pattern!r} is not a regular expression "
                                 f"({err})") from None
        rules.append(Rule(r.name, r.description, tuple(r.fields), tuple(compiled), tuple(r.keywords),
                          re.compile("|".join(re.escape(k) for k in r.keywords))))
    return rules
