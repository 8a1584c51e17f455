"""A rule's measure per bar as arrays on one date index, the DataFrame made only when read.

A first check builds thousands of frames and reads a handful of values from each (the usable
bars for priming, the last bar, the summary line); a pandas DataFrame per frame and a column
lookup per value cost more than the measure itself. `RuleFrame` keeps the columns as built
(arrays on `index`, scalars broadcast down the column, or a Series pandas aligns) and reads
them as arrays (`column`, `value`); `frame` builds the same DataFrame as before, once, for the
readers that want one (events, holes, track records, tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from signals.holes import Hole


@dataclass(frozen=True, eq=False)
class RuleFrame:
    """A rule's measure per bar, the cleaned legs it came from, and why it may be empty."""

    columns: Mapping[str, object]  # each an array on `index`, a scalar or a Series to align
    index: pd.Index  # the bars' dates (a DatetimeIndex but when there are none)
    legs: dict[str, pd.Series] = field(default_factory=dict)
    note: str | None = None  # why no bar is usable (too little history), for NO DATA
    holes: tuple[Hole, ...] = ()  # sessions missing inside a leg's history
    reach: pd.Series | None = None  # per bar, the earliest bar its measure reads (with holes)
    data_notes: tuple[str, ...] = ()  # what the legs' stored series say of their data (vintage)
    # What is derived from this frame alone, for every rule sharing it (`signals.batch`).
    derived: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """Every column as a DataFrame on `index` (built on first read, then kept)."""
        return pd.DataFrame(dict(self.columns), index=self.index)

    def position(self, day: date) -> int:
        """The bar of `day`, as `index.get_loc` finds it (a search when the dates ascend)."""
        stamps, stamp = self.index.values, np.datetime64(day, "ns")
        if stamps.dtype == stamp.dtype and self.in_order:
            at = int(stamps.searchsorted(stamp))
            if at < len(stamps) and stamps[at] == stamp:
                return at
        return self.index.get_loc(pd.Timestamp(day))  # type: ignore[no-any-return]

    @property
    def in_order(self) -> bool:
        """The dates strictly ascend (as legs are loaded), so a day is found by a search.

        pandas keeps both answers on the index, which every frame on a leg or pair shares.
        """
        return bool(self.index.is_monotonic_increasing and self.index.is_unique)

    def has(self, name: str) -> bool:
        return name in self.columns

    def column(self, name: str) -> np.ndarray:
        """One column as an array, as `frame[name].to_numpy()` gives it (read only)."""
        kept = self.derived.get(("column", name))
        if kept is None:
            kept = self.derived[("column", name)] = self._array(name)
        return kept  # type: ignore[return-value]

    def _array(self, name: str) -> np.ndarray:
        values = self.columns[name]
        if isinstance(values, np.ndarray) and len(values) == len(self.index):
            return values
        if isinstance(values, int | float) and not isinstance(values, bool):
            return np.full(len(self.index), values)  # the dtype pandas gives a scalar column
        return self.frame[name].to_numpy()  # a scalar or a Series: as pandas aligns it

    def rows(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The bars at `positions` as `frame.iloc[positions].to_dict("records")` gives them
        (Python numbers and bools, Timestamps), read from the arrays."""
        columns = {name: self._boxed(name, positions) for name in self.columns}
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]

    def _boxed(self, name: str, positions: np.ndarray) -> list[Any]:
        values = self.column(name)[positions]
        if values.dtype.kind in "fiub":
            return values.tolist()  # type: ignore[no-any-return]
        if values.dtype.kind == "M":
            return list(pd.DatetimeIndex(values))
        return self.frame[name].iloc[positions].tolist()  # type: ignore[no-any-return]

    def value(self, name: str, at: int) -> Any:
        """The column's value on bar `at`, as `frame[name].iat[at]` reads it."""
        values = self.column(name)
        if values.dtype.kind in "fiub":
            return values[at]
        return self.frame[name].iat[at]  # dates and objects: pandas' own scalars
