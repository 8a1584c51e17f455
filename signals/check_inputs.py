"""What a rule's evaluation was computed from, as one key: reuse it while nothing changed.

A check with no new bar would give every rule the evaluation the last check gave it (the
stored state already covers every bar). `rule_inputs` names everything an evaluation
depends on: the rule's definition (its fingerprint), the content of each leaf it reads (a
digest per leaf, so a revised IWM bar re-evaluates exactly the rules reading IWM), the
sessions the hole checks compare with, the session the staleness check expects, and the
state it starts from. Equal keys, equal evaluations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

import pandas as pd

from signals.memo import shared
from signals.models import MarketData


def leaf_digest(market: MarketData, leaf: str) -> str:
    """A digest of every stored value of one symbol or series (once per market)."""
    return shared(market.memo, ("leaf digest", leaf), lambda: _digest_leaf(market, leaf))


def _digest_leaf(market: MarketData, leaf: str) -> str:
    hasher = hashlib.sha256(leaf.encode())
    for kind, values in (("prices", market.prices.get(leaf)), ("series", market.series.get(leaf))):
        hasher.update(kind.encode())
        if values is not None:
            hasher.update(pd.util.hash_pandas_object(values, index=True).to_numpy().tobytes())
            names = values.columns if isinstance(values, pd.DataFrame) else [values.name]
            hasher.update(repr(list(names)).encode())
    return hasher.hexdigest()


def sessions_digest(market: MarketData) -> str:
    """The exchange sessions the hole checks read (none when the caller gave none)."""
    sessions = market.sessions
    if sessions is None:
        return "none"
    return shared(
        market.memo,
        ("sessions digest",),
        lambda: hashlib.sha256(sessions.asi8.tobytes()).hexdigest(),
    )


def rule_inputs(
    fingerprint: str,
    leaves: Iterable[str],
    market: MarketData,
    expected: date | None,
    state_text: str,
) -> str:
    """The key of one rule's evaluation: definition, data, sessions, expectation, state.

    `state_text` is the starting state as text (its `repr`: every field, dates included).
    """
    parts = [fingerprint, sessions_digest(market), str(expected), state_text]
    parts.extend(f"{leaf}={leaf_digest(market, leaf)}" for leaf in sorted(set(leaves)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
