"""What a rule's evaluation was computed from, as one key: reuse it while nothing changed.

A check with no new bar would give every rule the evaluation the last check gave it (the
stored state already covers every bar). `rule_inputs` names everything an evaluation
depends on: the rule's definition (its fingerprint), the content of each leaf it reads (a
digest per leaf, so a revised IWM bar re-evaluates exactly the rules reading IWM), the
sessions the hole checks compare with, the session the staleness check expects, and the
state it starts from. Equal keys, equal evaluations.

The key is built from the digests alone (not from the market), so a check can decide from
digests it kept that a rule's key is unchanged without loading any price.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
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


def sessions_digest(sessions: pd.DatetimeIndex | None) -> str:
    """The exchange sessions the hole checks read (none when the caller gave none)."""
    if sessions is None:
        return "none"
    return hashlib.sha256(sessions.asi8.tobytes()).hexdigest()


def market_sessions_digest(market: MarketData) -> str:
    """`sessions_digest` of the market's sessions, once per market."""
    return shared(market.memo, ("sessions digest",), lambda: sessions_digest(market.sessions))


def data_part(
    leaves: Iterable[str], digest: Callable[[str], str], sessions: str, expected: date | None
) -> str:
    """What every rule reading these leaves shares in its key (computed once per leaf set):
    `digest(leaf)` is `leaf_digest` of the market, or the digest kept of it."""
    parts = [sessions, str(expected)]
    parts.extend(f"{leaf}={digest(leaf)}" for leaf in sorted(set(leaves)))
    return "\n".join(parts)


def rule_inputs(fingerprint: str, shared_part: str, state_text: str) -> str:
    """The key of one rule's evaluation: definition, data and sessions, expectation, state.

    `shared_part` is `data_part` of its leaves; `state_text` is the starting state as text
    (its `repr`: every field, dates included).
    """
    return hashlib.sha256(f"{fingerprint}\n{state_text}\n{shared_part}".encode()).hexdigest()
