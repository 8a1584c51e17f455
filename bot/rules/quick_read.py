"""Reading a rules file without its layout, for the common case: a valid file.

The layout scan (`bot.rules.toml_layout`) walks the text character by character to give each
problem its line; on a desk's 10,000-rule file it costs about as much as `tomllib` itself,
and a valid file has no problem to place. `toml_without_layout` parses with `tomllib` alone
and gives up (None) on anything the full read would report: a TOML error, or nesting deep
enough that the scan might refuse it (`MAX_DEPTH`). The caller then reads the file again with
its layout, so every message is the one the full read gives, with its line. A line with
`MAX_DEPTH` dots or more is never given to `tomllib` first: the scan refuses a key of that
many parts before `tomllib` reads it (which takes time quadratic in the parts: minutes for a
line of 100,000).
"""

from __future__ import annotations

import functools
import re
import tomllib
from typing import Any

from bot.rules.toml_layout import MAX_DEPTH

# Containers below the document this deep mean the file might be refused by the scan (it counts
# open brackets and key parts, each at least one container): such a file takes the full read.
# A rules file nests four deep at most (rules, a rule, a field's array, an inline table).
QUICK_DEPTH = MAX_DEPTH // 2
# A line with this many dots may be a dotted key deeper than the scan allows (keys are one line).
_MANY_DOTS = re.compile(r"\.[^.\n]*" * MAX_DEPTH)


def toml_without_layout(text: str) -> dict[str, Any] | None:
    """The TOML document of `text`; None when it does not read or nests deeper than QUICK_DEPTH."""
    if _MANY_DOTS.search(text):
        return None
    try:
        data = toml_document(text)
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError; the full read says
        return None
    return None if _nests_deeper(data, QUICK_DEPTH) else data


@functools.lru_cache(maxsize=2)
def toml_document(text: str) -> dict[str, Any]:
    """`tomllib.loads(text)`, kept for the next read of the same text (a check reads the rules,
    then the routing: one parse). The document is shared: its readers never change it."""
    return tomllib.loads(text)


def _nests_deeper(value: dict[str, Any] | list[Any], levels: int) -> bool:
    """Whether a dict or list holds a container more than `levels` levels below it."""
    children = value.values() if isinstance(value, dict) else value
    inner = [child for child in children if isinstance(child, dict | list)]
    if not inner:
        return False
    return levels == 0 or any(_nests_deeper(child, levels - 1) for child in inner)
