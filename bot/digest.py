"""The daily digest: a leaderboard (YTD, 1M), the key spreads and the rules nearest to firing.

`build_digest` returns plain data; `digest_message` turns it into the same platform-neutral
`AlertMessage` alerts use, so every notifier (console, Discord, Slack) can post it. A digest
is informational: it is posted once to each destination, failures are logged, not retried.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlite_utils import Database

from bot.config import Settings
from bot.evaluation import check_rules
from bot.notifier import AlertMessage, Broadcaster, DeliveryError, Notifier
from bot.notifiers import build_notifiers, close_notifiers
from bot.rules_file import load_rules
from signals.legs import DataError
from signals.measures import WindowError, leg_return, parse_window
from storage.prices import load_prices

log = logging.getLogger(__name__)

LEADERBOARD = ("IWC", "IWM", "IJR", "OEF", "SPY", "QQQ", "RSP")
KEY_SPREADS = (("IWC", "OEF"), ("IWM", "SPY"), ("RSP", "SPY"), ("IJR", "SPY"))
WINDOWS = ("ytd", "1m")
NEAREST = 5  # rules listed as closest to firing


@dataclass(frozen=True)
class LeaderRow:
    """Total returns of one symbol in percent (None when the history is too short)."""

    symbol: str
    ytd: float | None
    one_month: float | None


@dataclass(frozen=True)
class NearRule:
    """A rule not firing, with its measure and threshold."""

    rule_id: str
    summary: str
    distance: float  # |measure - threshold| relative to the threshold (or to 1 near zero)


@dataclass(frozen=True)
class Digest:
    """Everything the daily digest shows for one session."""

    session: date
    rows: tuple[LeaderRow, ...]
    spreads: tuple[tuple[str, str, float | None, float | None], ...]  # A, B, YTD bps, 1M bps
    near: tuple[NearRule, ...]


def build_digest(db: Database, settings: Settings, session: date, now: datetime) -> Digest:
    """Returns, spreads and nearest rules as of `session`, from the cache only."""
    symbols = sorted({*LEADERBOARD, *(s for pair in KEY_SPREADS for s in pair)})
    # Both WINDOWS anchor after November 1 of the previous year: older rows are never read
    # (the whole history of the eight ETFs took ten times as long to load, every session).
    start = date(session.year - 1, 11, 1)
    frames = load_prices(db, symbols, start=start, end=session, final_only=True)
    returns = {symbol: _returns(frames.get(symbol), session) for symbol in symbols}
    rows = [LeaderRow(s, *returns[s]) for s in LEADERBOARD]
    rows.sort(key=lambda row: -1e9 if row.ytd is None else row.ytd, reverse=True)
    spreads = tuple((a, b, *_spread_bps(returns[a], returns[b])) for a, b in KEY_SPREADS)
    return Digest(session, tuple(rows), spreads, tuple(nearest_rules(db, settings, session, now)))


def _returns(frame: object, session: date) -> tuple[float | None, float | None]:
    values = []
    for window in WINDOWS:
        try:
            series = frame["adj_close"].dropna()  # type: ignore[index]
            values.append(leg_return(series.rename("x"), parse_window(window), session).pct)
        except (DataError, WindowError, KeyError, TypeError, IndexError):
            values.append(None)
    return values[0], values[1]


def _spread_bps(
    a: tuple[float | None, float | None], b: tuple[float | None, float | None]
) -> tuple[float | None, float | None]:
    return tuple(  # type: ignore[return-value]
        None if x is None or y is None else (x - y) * 100.0 for x, y in zip(a, b, strict=True)
    )


def nearest_rules(db: Database, settings: Settings, session: date, now: datetime) -> list[NearRule]:
    """Rules not firing, nearest to their threshold first (a what-if check, nothing saved)."""
    report = check_rules(db, load_rules(settings), as_of=session, now=now, persist=False)
    near = []
    for check in report.checks:
        ev = check.evaluation
        firing = "firing" in (ev.state.up.phase, ev.state.down.phase)
        if ev.status != "OK" or firing or ev.measure is None or ev.threshold is None:
            continue
        distance = abs(ev.measure - ev.threshold) / max(abs(ev.threshold), 1.0)
        near.append(NearRule(ev.rule_id, ev.summary or ev.rule_id, distance))
    return sorted(near, key=lambda rule: rule.distance)[:NEAREST]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _bps(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0f} bps"


def digest_fields(digest: Digest) -> tuple[tuple[str, str], ...]:
    """The digest as name/value fields, the form every notifier lays out."""
    board = "\n".join(
        f"{r.symbol:<4} YTD {_pct(r.ytd):>7}  1M {_pct(r.one_month):>7}" for r in digest.rows
    )
    spreads = "\n".join(f"{a}-{b}: YTD {_bps(y)}, 1M {_bps(m)}" for a, b, y, m in digest.spreads)
    near = "\n".join(f"{rule.rule_id}: {rule.summary}" for rule in digest.near) or "none"
    return (("Leaderboard", board), ("Key spreads", spreads), ("Closest to firing", near))


def digest_message(digest: Digest, chart_png: bytes | None = None) -> AlertMessage:
    """The platform-neutral message (an `AlertMessage` with kind `digest`)."""
    leader = digest.rows[0] if digest.rows and digest.rows[0].ytd is not None else None
    lead = f": {leader.symbol} leads YTD {_pct(leader.ytd)}" if leader else ""
    return AlertMessage(
        key=f"digest:{digest.session.isoformat()}",
        rule_id="digest",
        kind="digest",
        title=f"Daily rotation digest {digest.session}{lead}",
        direction="neutral",
        data_date=digest.session,
        fields=digest_fields(digest),
        symbols=LEADERBOARD,
        chart_png=chart_png,
    )


def render_leaderboard(digest: Digest) -> bytes | None:
    """A bar chart of YTD and 1M returns (PNG), or None when nothing has a return."""
    rows = [row for row in digest.rows if row.ytd is not None]
    if not rows:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    positions = range(len(rows))
    axes.barh([p + 0.2 for p in positions], [r.ytd or 0.0 for r in rows], 0.4, label="YTD")
    axes.barh([p - 0.2 for p in positions], [r.one_month or 0.0 for r in rows], 0.4, label="1M")
    axes.set_yticks(list(positions), [row.symbol for row in rows])
    axes.invert_yaxis()
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("total return, %")
    axes.set_title(f"Leaderboard {digest.session}")
    axes.legend(loc="lower right")
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def send_digest(
    db: Database,
    settings: Settings,
    session: date,
    now: datetime,
    notifiers: Sequence[Notifier] | None = None,
) -> str:
    """Build and post the digest to every destination; return a summary.

    Args:
        notifiers: the caller's destinations (left open); None: built from settings and closed.
    """
    digest = build_digest(db, settings, session, now)
    message = digest_message(digest, render_leaderboard(digest))
    own = build_notifiers(settings) if notifiers is None else []
    try:
        outcomes = Broadcaster(notifiers or own).send(message, idempotency_key=message.key)
    finally:
        close_notifiers(own)
    failed = [name for name, result in outcomes.items() if isinstance(result, DeliveryError)]
    return f"digest posted to {len(outcomes) - len(failed)}, failed: {', '.join(failed) or 'none'}"
