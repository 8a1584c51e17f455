"""Names of what a rule reads (a symbol, a stored series, or `A / B` / `A - B` of two), and the
names a desk reads for them: `ff:pb_small_vs_large` is "small-cap P/B / large-cap P/B".

Pandas-free, so that parsing rules files does not load it (`signals.legs` loads the values).
Display names are only what alerts and records show; rule ids, event keys and stored data keep
the ids. Price symbols and series without a known description keep their id.
"""

from __future__ import annotations

import re

# Operators need spaces around them because symbols contain '-' (BRK-B) and '^'.
BINARY = re.compile(r"^\s*(?P<left>\S+)\s+(?P<op>[/-])\s+(?P<right>\S+)\s*$")

# The valuation series `signals.valuation` computes, with what each one measures.
SERIES_IDS = {
    "ff:pb_micro": "P/B of micro caps (size quintile 1)",
    "ff:pb_small": "P/B of small caps (size quintiles 2-3)",
    "ff:pb_large": "P/B of large caps (size quintiles 4-5)",
    "ff:pb_small_vs_large": "small-cap P/B / large-cap P/B",
    "ff:pb_micro_vs_large": "micro-cap P/B / large-cap P/B",
}

# A P/E snapshot `pe:IWM` reads "IWM P/E".
_PE_PREFIX = "pe:"


def split_expression(name: str) -> tuple[str, ...]:
    """The leaf names of `A / B`, `A - B` or a single name."""
    match = BINARY.match(name)
    return (name.strip(),) if match is None else (match["left"], match["right"])


def display_name(name: str) -> str:
    """The readable name of a series id or of an expression of two (`A - B`, `A / B`)."""
    leaves = split_expression(name)
    if len(leaves) == 2:
        operator = " / " if " / " in name else " - "
        return operator.join(_leaf_name(leaf) for leaf in leaves)
    return _leaf_name(name.strip())


def _leaf_name(leaf: str) -> str:
    if leaf in SERIES_IDS:
        return SERIES_IDS[leaf]
    if leaf.startswith(_PE_PREFIX) and len(leaf) > len(_PE_PREFIX):
        return f"{leaf.removeprefix(_PE_PREFIX)} P/E"
    return leaf
