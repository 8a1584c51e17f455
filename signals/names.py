"""The names a desk reads for stored series: `ff:pb_small_vs_large` is "small-cap P/B /
large-cap P/B". Only what alerts and records show; rule ids, event keys and stored data keep
the ids. Price symbols and series without a known description keep their id."""

from __future__ import annotations

from signals.legs import split_expression
from signals.valuation import SERIES_IDS

# A P/E snapshot `pe:IWM` reads "IWM P/E".
_PE_PREFIX = "pe:"


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
