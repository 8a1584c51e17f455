"""The `PriceSource` and `SeriesSource` roles and the errors every source reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from signals.models import PriceBar, SeriesPoint


class SourceError(Exception):
    """A data source failed in a way the user must hear about (one readable line)."""


class FetchInterrupted(Exception):
    """The program is shutting down: a fetch (or its backoff sleep) was cut short on purpose."""


@dataclass
class FetchResult:
    """Bars fetched per symbol, and a reason for each symbol that returned nothing usable."""

    bars: dict[str, list[PriceBar]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)  # what the source fixed, per symbol

    @property
    def ok(self) -> bool:
        """True when every requested symbol delivered bars."""
        return not self.failures


class PriceSource(Protocol):
    """Anything that delivers daily bars for symbols from a start date."""

    name: str

    def fetch(self, starts: dict[str, date]) -> FetchResult:
        """Bars for each symbol from its start date (inclusive) to today."""
        ...


class SeriesSource(Protocol):
    """Anything that delivers dated values for series ids."""

    name: str

    def fetch_series(self, series_ids: Sequence[str], start: date | None) -> list[SeriesPoint]:
        """Points for the given series from `start` (inclusive), or their whole history."""
        ...
