"""The one-line forms of `/rule`, read into rule mappings (validation is `parse_rule`'s).

    new spread IWM IWB 42d above 400bps [key=value ...]   spread_threshold (above=up)
    new crossover IWC OEF ytd [up|down|either] [key=value ...]   relative_crossover
    new high ^RUT [key=value ...]                          new_high
    new <type> key=value ...                               any rule type, as in a rules file
    edit ID key=value ... (key= with nothing unsets it)
    disable ID | enable ID | delete ID

A value is read as a TOML value when it is one (`confirm=2`, `intraday=true`,
`since=2010-01-02`), else as text (`a=IWM`, `window=42d`); `tags=size,breakout` is a list.
Without `id=`, a new rule gets one made from its arguments (`iwm-iwb-42d-above-400bps`).
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Sequence
from typing import Any

from bot.chat.parsing import CommandError, echo, one_line

ACTIONS = ("new", "edit", "disable", "enable", "delete")
USAGE = "/rule new spread A B WINDOW above|below Nbps [key=value ...]"
ALIASES = {
    "spread": "spread_threshold",
    "crossover": "relative_crossover",
    "high": "new_high",
    "extreme": "extreme_since",
    "rally": "rally_from_low",
    "rate": "rate_change",
}
_BPS = re.compile(r"^(\d+(?:\.\d+)?)(?:bps)?$", re.IGNORECASE)
_SLUG = re.compile(r"[^a-z0-9_.-]+")
_MAX_ID = 64
_LEGS = ("a", "b", "symbol", "series", "long", "short")
# Fields holding a list of text, read from `key=x,y`. `destinations` (issue 14 routing) is
# read here only as a list; what a destination may be is the rule validation's to say.
LIST_FIELDS = ("tags", "destinations")
MAX_WORDS = 40


def split_words(text: str | None) -> list[str]:
    """A command line's words, quotes honoured (`name="Small caps lead"`)."""
    plain = one_line(text or "", 1000)
    try:
        words = shlex.split(plain)
    except ValueError:
        raise CommandError("Unbalanced quote in the command; close it or drop it.") from None
    if len(words) > MAX_WORDS:
        raise CommandError(f"Too many words ({len(words)}); a rule needs at most {MAX_WORDS}.")
    return words


def split_action(words: Sequence[str]) -> tuple[str, list[str]]:
    """The action (new, edit, ...) and the words after it."""
    if not words or words[0].lower() not in ACTIONS:
        got = f" (got {echo(words[0])})" if words else ""
        raise CommandError(f"Start with one of {', '.join(ACTIONS)}{got}. Example: {USAGE}")
    return words[0].lower(), list(words[1:])


def new_rule_mapping(words: Sequence[str]) -> dict[str, Any]:
    """The mapping a `new ...` line describes (not yet validated), with an id."""
    if not words:
        raise CommandError(f"Say what to watch. Example: {USAGE}")
    kind = ALIASES.get(words[0].lower(), words[0].lower())
    positional, options = _split_options(words[1:])
    mapping: dict[str, Any] = {"type": kind}
    if kind == "spread_threshold" and positional:
        mapping |= _spread(positional)
    elif kind == "relative_crossover" and positional:
        mapping |= _crossover(positional)
    elif kind == "new_high" and positional:
        mapping |= _single("symbol", positional, "/rule new high SYMBOL")
    elif positional:
        raise CommandError(f"Give {kind}'s fields as key=value (got {echo(positional[0])}).")
    mapping |= options
    mapping.setdefault("id", _made_id(words[0], positional, options))
    return mapping


def edits(words: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """`ID key=value ...`: the rule id and the changed fields (None: unset the field)."""
    if not words:
        raise CommandError("Usage: /rule edit ID key=value ...")
    positional, options = _split_options(words[1:])
    if positional:
        raise CommandError(f"Give changes as key=value (got {echo(positional[0])}).")
    if not options:
        raise CommandError("Nothing to change. Usage: /rule edit ID key=value ...")
    if "id" in options:
        raise CommandError("A rule's id cannot change: create a new rule, then delete this one.")
    return words[0], options


def _split_options(words: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    positional: list[str] = []
    options: dict[str, Any] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep:
            if options:
                raise CommandError(f"Put key=value options last (got {echo(word)} after them).")
            positional.append(word)
            continue
        if not key:
            raise CommandError(f"Missing the field name before = in {echo(word)}.")
        name = key.strip().lower()
        options[name] = _list(raw) if name in LIST_FIELDS else read_value(raw) if raw else None
    return positional, options


def _list(raw: str) -> Any:
    """`tags=size,breakout` (or the TOML list): chat quoting eats a list's inner quotes."""
    value = read_value(raw)
    if isinstance(value, str):
        return [tag.strip() for tag in value.strip("[]").split(",") if tag.strip()]
    return value


def read_value(raw: str) -> Any:
    """A TOML value when the text is one, else the text itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        return raw


def _spread(words: list[str]) -> dict[str, Any]:
    usage = f"Usage: {USAGE}"
    if len(words) != 5:
        raise CommandError(f"A spread rule needs A B WINDOW above|below Nbps. {usage}")
    a, b, window, side, size = words
    if side.lower() not in ("above", "below"):
        raise CommandError(f"Say above or below (got {echo(side)}). {usage}")
    match = _BPS.match(size)
    if match is None:
        raise CommandError(f"The threshold is a number of bps such as 400bps (got {echo(size)}).")
    direction = "up" if side.lower() == "above" else "down"
    return {"a": a.upper(), "b": b.upper(), "window": window.lower(),
            "direction": direction, "threshold_bps": _number(match[1])}  # fmt: skip


def _crossover(words: list[str]) -> dict[str, Any]:
    if len(words) not in (3, 4):
        raise CommandError("Usage: /rule new crossover A B WINDOW [up|down|either]")
    mapping = {"a": words[0].upper(), "b": words[1].upper(), "window": words[2].lower()}
    return mapping | ({"direction": words[3].lower()} if len(words) == 4 else {})


def _single(field: str, words: list[str], usage: str) -> dict[str, Any]:
    if len(words) != 1:
        raise CommandError(f"Usage: {usage} [key=value ...]")
    return {field: words[0].upper()}


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _made_id(kind: str, positional: Sequence[str], options: dict[str, Any]) -> str:
    """An id from what the rule watches: `spread IWM IWB 42d above 400bps` ->
    `iwm-iwb-42d-above-400bps`, `high ^RUT` -> `rut-high`, `rally_from_low symbol=IWC` ->
    `iwc-rally_from_low` (a spread says what it is without its type word)."""
    legs = [options[key] for key in _LEGS if isinstance(options.get(key), str)]
    watched = list(positional) or legs
    words = watched if kind.lower() == "spread" else [*watched, kind]
    slug = _SLUG.sub("-", "-".join(words).lower()).strip("-._")
    return slug[:_MAX_ID].rstrip("-._") or "rule"
