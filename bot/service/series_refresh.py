"""The series the service refreshes after the close: FRED's rates and the French library's
valuation file. One failing series never stops the others; each failure is one log line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.config import Settings
from bot.sources import quality, valuation
from bot.sources.base import SourceError
from bot.sources.fred import FredSource, update_start
from bot.sources.french import FrenchSource
from storage import series
from storage.db import Store

log = logging.getLogger(__name__)


def refresh_fred(db: Store, settings: Settings, sleep: Callable[[float], None]) -> tuple[int, int]:
    """FRED points changed and series failed; one failing series never stops the others."""
    source = FredSource.from_settings(settings, sleep=sleep)
    last = series.last_series_dates(db)
    changed, failed = 0, 0
    for series_id in settings.fred_series:
        try:
            points = source.fetch_one(series_id, update_start(last.get(series_id)))
        except SourceError as error:
            failed += 1
            log.warning("FRED refresh of %s failed: %s", series_id, error)
            continue
        changed += series.upsert_points(db, points)
    config = quality.quality_config(settings)
    quality.log_changes(quality.review_series(db, settings.fred_series, config))
    return changed, failed


def refresh_french(
    db: Store, settings: Settings, now: datetime, sleep: Callable[[float], None]
) -> str:
    """The French library's file, when a new vintage may exist (about monthly)."""
    if not settings.french_url or not valuation.check_due(db, now):
        return ""
    source = FrenchSource.from_settings(settings, sleep=sleep)
    try:
        result = valuation.store_valuation(db, source.fetch(), now)
    except SourceError as error:
        log.warning("French library refresh failed: %s", error)
        return "; French library failed"
    return f"; French vintage {result.vintage}, {len(result.new_months)} new month(s)"
