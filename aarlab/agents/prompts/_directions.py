"""Research directions: the built-in set (``directions.toml``) and user files (the same TOML, or plain text)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

BUILTIN = Path(__file__).with_name("directions.toml")
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
#: Plain-text files: a line holding only ``---`` separates directions (else blank lines do).
_RULE = re.compile(r"^\s*---+\s*$", re.M)
_BLANK = re.compile(r"\n\s*\n")


class DirectionError(ValueError):
    """A directions file cannot be used; the message says which file, which entry and what to fix."""


class Direction(BaseModel):
    """One research direction an agent starts from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)] = Field(
        description="Short id: lowercase letters, digits and dashes")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]


def load_directions(user_file: Path | None = None) -> list[Direction]:
    """The built-in directions, or those of ``user_file``: a ``.toml`` file with ``[[direction]]`` tables
    (``name``, ``title``, ``text``) or any other text file whose directions are separated by lines of ``---``
    (or, when there is no such line, by blank lines)."""
    if user_file is None:
        return _from_toml(BUILTIN)
    if not user_file.is_file():
        raise DirectionError(f"directions file {user_file} does not exist (expected a .toml file with "
                             f"[[direction]] tables, or a text file of directions separated by '---' lines)")
    if user_file.suffix.lower() == ".toml":
        return _from_toml(user_file)
    return _from_text(user_file)


def _from_toml(path: Path) -> list[Direction]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise DirectionError(f"{path}: not valid TOML ({err})") from None
    except UnicodeDecodeError:
        raise DirectionError(f"{path}: not UTF-8 text") from None
    unknown = sorted(set(data) - {"direction"})
    if unknown:
        raise DirectionError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected only "
                             f"[[direction]] tables with name, title and text")
    entries = data.get("direction")
    if not isinstance(entries, list) or not entries:
        raise DirectionError(f"{path}: no directions; add at least one [[direction]] table with name, title, text")
    directions = []
    for index, entry in enumerate(entries, start=1):
        try:
            directions.append(Direction.model_validate(entry))
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "entry"
            label = entry.get("name", f"#{index}") if isinstance(entry, dict) else f"#{index}"
            raise DirectionError(f"{path}: direction {label} (number {index}), field {where}: {first['msg']}"
                                 + (f" (name must match {NAME_PATTERN})" if where == "name" else "")) from None
    return _unique(path, directions)


def _from_text(path: Path) -> list[Direction]:
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DirectionError(f"{path}: not UTF-8 text") from None
    chunks = _RULE.split(content) if _RULE.search(content) else _BLANK.split(content)
    directions: list[Direction] = []
    for chunk in (c.strip() for c in chunks):
        if not chunk:
            continue
        title = chunk.splitlines()[0].strip().lstrip("#").strip()[:200] or "User direction"
        try:
            directions.append(Direction(name=f"user-{len(directions) + 1}", title=title, text=chunk))
        except ValidationError as err:
            raise DirectionError(f"{path}: direction {len(directions) + 1} ('{title[:40]}'): "
                                 f"{err.errors()[0]['msg']}") from None
    if not directions:
        raise DirectionError(f"{path}: no directions found; write one per paragraph, or separate them with "
                             f"lines holding only '---'")
    return directions


def _unique(path: Path, directions: list[Direction]) -> list[Direction]:
    seen: set[str] = set()
    for direction in directions:
        if direction.name in seen:
            raise DirectionError(f"{path}: direction name {direction.name!r} is used twice; names must be unique")
        seen.add(direction.name)
    return directions
