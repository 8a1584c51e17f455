"""A symbol dated a session early is held by the review `prices update` runs after storing
(an incremental one, from just before the new bars), not only by a first import's: from the
slip, though the shift shows only sessions after it began."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from bot.sources.quality import DEFAULT_CONFIG, review_prices
from signals import quality as q
from signals.models import PriceBar
from storage.db import Store
from storage.prices import load_for_review, upsert_bars

GROUP = ("^RUT", "IWM", "IWC", "IJR")


def closes(days: int = 260, slip: int = 200) -> dict[str, pd.Series]:
    """^RUT and three funds tracking it; IWM's closes from `slip` on stamped a session early."""
    rng = np.random.default_rng(11)
    index = pd.bdate_range("2021-01-04", periods=days + 1)
    common = rng.normal(0, 0.012, days + 1)
    series = {
        name: pd.Series(100 * np.exp(np.cumsum(common + rng.normal(0, 0.0008, days + 1))), index)
        for name in GROUP
    }
    iwm = series["IWM"].to_numpy()
    series["IWM"] = pd.Series(np.r_[iwm[: slip - 1], iwm[slip:]], index=index[:-1])
    return {name: values.iloc[:days] for name, values in series.items()}


def store(db: Store, prices: dict[str, pd.Series], until: int) -> None:
    bars = [
        PriceBar(name, day.date(), close=float(v), adj_close=float(v), source="test")
        for name, values in prices.items()
        for day, v in values.iloc[:until].items()
    ]
    upsert_bars(db, bars)


def statuses(db: Store, name: str) -> pd.Series:
    return load_for_review(db, [name], None)[name]["status"]


def test_the_update_that_brings_a_shifted_session_holds_it(fresh_db: Store) -> None:
    prices = closes()
    store(fresh_db, prices, 259)  # the evening before: 59 sessions dated early already
    review_prices(fresh_db, GROUP, DEFAULT_CONFIG)
    store(fresh_db, prices, 260)
    newest: date = prices["IWM"].index[-1].date()
    changes = review_prices(fresh_db, GROUP, DEFAULT_CONFIG, since=newest - timedelta(days=7))
    held = {c.date: c for c in changes if c.name == "IWM"}
    assert held[newest].new == q.SUSPECT
    assert held[newest].note.endswith(
        "follow ^RUT/IWC/IJR one session later: dated a session early?"
    )
    frames = load_for_review(fresh_db, list(GROUP), None)
    assert (frames["IWM"]["status"].iloc[200:] == q.SUSPECT).all()  # held since the first review
    for name in ("^RUT", "IWC", "IJR"):
        assert (frames[name]["status"] == q.OK).all(), name


def test_an_update_that_shows_the_shift_holds_the_sessions_before_it_too(fresh_db: Store) -> None:
    prices = closes()
    store(fresh_db, prices, 250)  # 51 sessions dated early: not enough to tell on these moves
    review_prices(fresh_db, GROUP, DEFAULT_CONFIG)
    assert (statuses(fresh_db, "IWM") == q.OK).all()
    for until in range(251, 261):  # then one session per evening, as the service updates
        store(fresh_db, prices, until)
        since = prices["IWM"].index[until - 1].date() - timedelta(days=7)
        review_prices(fresh_db, GROUP, DEFAULT_CONFIG, since=since)
        if (statuses(fresh_db, "IWM") == q.SUSPECT).any():
            break
    assert until < 260  # found: its first bars are weeks older than `since`
    iwm = statuses(fresh_db, "IWM")
    assert (iwm.iloc[200:] == q.SUSPECT).all() and (iwm.iloc[:198] == q.OK).all()
    for name in ("^RUT", "IWC", "IJR"):
        assert (statuses(fresh_db, name) == q.OK).all(), name
