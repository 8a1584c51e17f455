"""Dates looked up in a rising index by binary search.

What `Index.get_indexer` and `Series.reindex` give for an index without repeated dates, but
without hashing the whole index at each call: a first import's quality review lines every
linked instrument up on a symbol's dates about two hundred times, and the hashing was a fifth
of that review. Anything else (an index out of order, other units, not dates) takes pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def positions_in(index: pd.Index, wanted: pd.Index) -> np.ndarray:
    """`index.get_indexer(wanted)`: each wanted date's position in `index`, -1 where it has
    none (`index` holds each date once)."""
    keys, looked = np.asarray(index), np.asarray(wanted)
    if not _searchable(keys, looked):
        return index.get_indexer(wanted)
    return _search(keys, looked)


def values_on(series: pd.Series, wanted: pd.Index) -> np.ndarray:
    """`series.reindex(wanted)` as float64 (NaN where `series` has no value on a date)."""
    keys, looked = np.asarray(series.index), np.asarray(wanted)
    if not _searchable(keys, looked):
        return series.reindex(wanted).to_numpy(dtype=np.float64)
    at = _search(keys, looked)
    values = series.to_numpy(dtype=np.float64)
    found = at >= 0
    out = np.full(len(at), np.nan)
    out[found] = values[at[found]]
    return out


def _search(keys: np.ndarray, looked: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.full(len(looked), -1, dtype=np.intp)
    at = np.minimum(np.searchsorted(keys, looked), len(keys) - 1)
    return np.where(keys[at] == looked, at, -1).astype(np.intp)


def _searchable(keys: np.ndarray, looked: np.ndarray) -> bool:
    """Both plain dates of one unit, `keys` rising (sorted, none twice, no NaT)."""
    if keys.dtype.kind != "M" or looked.dtype != keys.dtype or np.isnat(keys).any():
        return False
    return bool(np.all(keys[1:] > keys[:-1]))
