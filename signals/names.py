"""Names of what a rule reads: a symbol, a stored series, or `A / B` / `A - B` of two.

Pandas-free, so that parsing rules files does not load it (`signals.legs` loads the values).
"""

from __future__ import annotations

import re

# Operators need spaces around them because symbols contain '-' (BRK-B) and '^'.
BINARY = re.compile(r"^\s*(?P<left>\S+)\s+(?P<op>[/-])\s+(?P<right>\S+)\s*$")


def split_expression(name: str) -> tuple[str, ...]:
    """The leaf names of `A / B`, `A - B` or a single name."""
    match = BINARY.match(name)
    return (name.strip(),) if match is None else (match["left"], match["right"])
