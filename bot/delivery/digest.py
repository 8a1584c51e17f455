"""The daily digest: a leaderboard (YTD, 1M), the key spreads and the rules nearest to firing.

`build_digest` returns plain data; `digest_message` turns it into the same platform-neutral
`AlertMessage` alerts use, so every notifier (console, Discord, Slack) can post it. It goes
through the outbox like an alert (`queue_digest`): once per session per destination (key
`digest:<session>`), retried when a destination fails, and found again rather than re-posted
after a crash with bot tokens.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from bot.config import Settings
from bot.delivery.destinations import build_notifiers, close_notifiers, route_notifiers
from bot.delivery.message import AlertMessage, Notifier, monospace
from bot.delivery.outbox_messages import queue_message
from bot.delivery.scorecard import weekly_scorecard
from bot.delivery.sender import (
    DeliveryPolicy,
    DeliveryReport,
    deliver_pending,
    policy_from_settings,
)
from bot.rules.stored import rules_in_force
from bot.what_if import ChecksReport as CheckReport
from bot.what_if import what_if_check
from signals.legs import DataError
from signals.measures import WindowError, leg_return, parse_window
from storage.db import Store
from storage.prices import load_prices
from storage.stamps import utc_now

log = logging.getLogger(__name__)

LEADERBOARD = ("IWC", "IWM", "IJR", "OEF", "SPY", "QQQ", "RSP")
KEY_SPREADS = (("IWC", "OEF"), ("IWM", "SPY"), ("RSP", "SPY"), ("IJR", "SPY"))
WINDOWS = ("ytd", "1m")
NEAREST = 5  # rules listed as closest to firing
# ...and only those within this share of their threshold: a rule 17 % away is not close.
NEAR_WITHIN = 0.10


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
    scorecard: tuple[str, ...] = ()  # weekly: recent firings against their track record


def build_digest(
    db: Store,
    settings: Settings,
    session: date,
    now: datetime,
    *,
    report: CheckReport | None = None,
) -> Digest:
    """Returns, spreads and nearest rules as of `session`, from the cache only.

    `report`: the evaluation job's check of this very session and data, reused for the
    nearest rules instead of re-priming every rule (most of a digest's cost).
    """
    symbols = sorted({*LEADERBOARD, *(s for pair in KEY_SPREADS for s in pair)})
    # Both WINDOWS anchor after November 1 of the previous year: older rows are never read
    # (the whole history of the eight ETFs took ten times as long to load, every session).
    start = date(session.year - 1, 11, 1)
    frames = load_prices(db, symbols, start=start, end=session, final_only=True)
    returns = {symbol: _returns(frames.get(symbol), session) for symbol in symbols}
    rows = [LeaderRow(s, *returns[s]) for s in LEADERBOARD]
    rows.sort(key=lambda row: -1e9 if row.ytd is None else row.ytd, reverse=True)
    spreads = tuple((a, b, *_spread_bps(returns[a], returns[b])) for a, b in KEY_SPREADS)
    near = nearest_rules(db, settings, session, now, report=report)
    loaded = report.market if report is not None else None
    card = weekly_scorecard(db, rules_in_force(settings, db), session, market=loaded)
    return Digest(session, tuple(rows), spreads, tuple(near), card)


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


def nearest_rules(
    db: Store,
    settings: Settings,
    session: date,
    now: datetime,
    *,
    report: CheckReport | None = None,
) -> list[NearRule]:
    """Rules not firing, nearest to their threshold first (a what-if check, nothing saved).

    Without `report` every rule is checked as of `session` (`persist=False`); with one, the
    caller vouches that it is a check of `session` on the same data and rules.
    """
    if report is None:
        rules = rules_in_force(settings, db)
        report = what_if_check(db, rules, as_of=session, now=now)
    near = []
    for check in report.checks:
        ev = check.evaluation
        firing = "firing" in (ev.state.up.phase, ev.state.down.phase)
        if ev.status != "OK" or firing or ev.measure is None or ev.threshold is None:
            continue
        distance = abs(ev.measure - ev.threshold) / max(abs(ev.threshold), 1.0)
        if distance <= NEAR_WITHIN:
            near.append(NearRule(ev.rule_id, ev.summary or ev.rule_id, distance))
    return sorted(near, key=lambda rule: rule.distance)[:NEAREST]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _bps(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.0f} bps"


def digest_fields(digest: Digest) -> tuple[tuple[str, str], ...]:
    """The digest as name/value fields, the form every notifier lays out."""
    board = monospace(
        "\n".join(
            f"{r.symbol:<4} YTD {_pct(r.ytd):>7}  1M {_pct(r.one_month):>7}" for r in digest.rows
        )
    )
    spreads = "\n".join(f"{a}-{b}: YTD {_bps(y)}, 1M {_bps(m)}" for a, b, y, m in digest.spreads)
    near = "\n".join(f"{rule.rule_id}: {rule.summary}" for rule in digest.near)
    near = near or f"none within {NEAR_WITHIN:.0%} of its threshold"
    fields = (("Leaderboard", board), ("Key spreads", spreads), ("Closest to firing", near))
    if digest.scorecard:
        fields += (("Weekly scorecard", "\n".join(digest.scorecard)),)
    return fields


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


def queue_digest(
    db: Store,
    settings: Settings,
    session: date,
    now: datetime,
    destinations: Sequence[str],
    *,
    queued_at: datetime | None = None,
    report: CheckReport | None = None,
    chart: bool = True,
) -> int:
    """Build the digest of `session` and queue it once per destination; return rows added.

    A second call for the same session (a restart, a catch-up) adds no row for a destination
    that already has one. `queued_at` (default `now`) is the real time the rows are written:
    a crash lookup searches the channels from it. `report`: as for `build_digest`.
    `chart=False` skips drawing the leaderboard (no destination shows one; most of the cost).
    """
    digest = build_digest(db, settings, session, now, report=report)
    message = digest_message(digest, render_leaderboard(digest) if chart else None)
    return queue_message(db, message, destinations, now=queued_at or now)


def send_digest(
    db: Store,
    settings: Settings,
    session: date,
    now: datetime,
    notifiers: Sequence[Notifier] | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    policy: DeliveryPolicy | None = None,
) -> str:
    """Queue the digest for every destination and run one delivery pass; return a summary.

    Args:
        notifiers: the caller's destinations (left open); None: built from settings and closed.
        clock, sleep, policy: as for `bot.delivery.sender.deliver_pending` (default: no waiting, a
            failed destination is retried by the next pass).
    """
    own = build_notifiers(settings) if notifiers is None else []
    targets = list(notifiers or own)
    try:
        names = digest_destinations(settings, [notifier.name for notifier in targets])
        routed = route_notifiers(settings, names, targets)
        own, targets = [*own, *routed], [*targets, *routed]
        queue_digest(db, settings, session, now, names, queued_at=clock())
        report = deliver_pending(
            db, targets, now=clock, sleep=sleep, policy=policy or _one_pass(settings)
        )
    finally:
        close_notifiers(own, keep=notifiers or ())
    return digest_summary(report, f"digest:{session.isoformat()}")


def digest_destinations(settings: Settings, defaults: Sequence[str]) -> tuple[str, ...]:
    """The rules file's `[digest] destinations`, else the default channels."""
    from bot.rules.files import load_routing  # the rules file is read only when a digest goes

    return load_routing(settings).digest_destinations(defaults)


def _one_pass(settings: Settings) -> DeliveryPolicy:
    return replace(policy_from_settings(settings), max_wait=0)


def digest_summary(report: DeliveryReport, key: str) -> str:
    """Where the digest went in this pass, and where it failed (and stays queued)."""
    tried = [o for o in report.outcomes if o["key"] == key]
    posted = {o["destination"] for o in tried if o["outcome"] == "delivered"}
    failed = sorted({str(o["destination"]) for o in tried} - posted)
    retry = " (kept in the outbox)" if failed else ""
    return f"digest posted to {len(posted)}, failed: {', '.join(failed) or 'none'}{retry}"
