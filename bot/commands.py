"""The one command core both chat adapters call: parse arguments, query, return plain data.

Every public method is a blocking sync function (SQLite, pandas, maybe a data fetch):
adapters run it with `asyncio.to_thread`, format the returned dataclass from `bot/replies.py`
after `bot.safety.sanitize(reply, platform)`, and show a `CommandError`'s one line as the
reply (ephemeral on Discord). Nothing here imports a chat SDK.

The database may be a `Database` (single-threaded use: tests, the CLI) or a factory
returning a new connection; with a factory each worker thread gets its own connection,
because a SQLite connection must not be shared across threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlite_utils import Database

from bot import parsing
from bot.config import Settings
from bot.help_text import help_reply
from bot.parsing import CommandError
from bot.replies import (
    AckReply,
    Actor,
    HelpReply,
    LegReply,
    MuteReply,
    Platform,
    SpreadReply,
    SubscriptionReply,
    SubscriptionRow,
    SubscriptionsReply,
)
from bot.sources.base import PriceSource
from bot.spread_query import has_symbol, spread_from_cache
from signals.legs import DataError
from signals.measures import Basis, WindowError
from signals.models import ChartSpec, LegReturn, SpreadReport
from storage import prices as price_store
from storage import subscriptions as subs

log = logging.getLogger(__name__)

__all__ = ["Actor", "CommandError", "Commands", "make_actor"]


def make_actor(
    settings: Settings, platform: Platform, user_id: str, role_ids: Sequence[str] = ()
) -> Actor:
    """An Actor, admin when the user id or one of their role ids is configured as admin."""
    admins = settings.discord_admin_ids if platform == "discord" else settings.slack_admin_ids
    ids = {str(user_id), *(str(role) for role in role_ids)}
    return Actor(platform, str(user_id), tuple(str(r) for r in role_ids), bool(ids & set(admins)))


def utc_now() -> datetime:
    """The real clock, aware UTC."""
    return datetime.now(UTC)


class Commands:
    """The chat commands, independent of any platform."""

    def __init__(
        self,
        settings: Settings,
        db: Database | Callable[[], Database],
        *,
        source: PriceSource | None = None,
        rules: Sequence[Any] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self._db_source = db
        self._local = threading.local()
        self.source = source
        self._rules = list(rules) if rules is not None else None
        self.clock = clock

    @property
    def db(self) -> Database:
        """The database connection for the calling thread."""
        if isinstance(self._db_source, Database):
            return self._db_source
        if getattr(self._local, "db", None) is None:
            self._local.db = self._db_source()
        return self._local.db

    # /spread

    def spread(
        self,
        a: str | None,
        b: str | None,
        window: str | None = None,
        *,
        as_of: date | None = None,
        basis: str = "total",
    ) -> SpreadReply:
        """A's return over `window` (default ytd) minus B's, from the price cache."""
        sym_a, sym_b = parsing.parse_symbol(a), parsing.parse_symbol(b)
        if sym_a == sym_b:
            raise CommandError(f"Pick two different symbols (both are {sym_a}).")
        spelled = parsing.parse_window(window, today=self.clock().date())
        if basis not in ("total", "price"):
            raise CommandError("Basis must be `total` or `price`.")
        notes = tuple(n for n in (self._ensure_symbol(s) for s in (sym_a, sym_b)) if n)
        report = self._spread_report(sym_a, sym_b, spelled, as_of, basis)  # type: ignore[arg-type]
        return spread_reply(report, notes)

    def _spread_report(
        self, a: str, b: str, window: str, as_of: date | None, basis: Basis
    ) -> SpreadReport:
        try:
            return spread_from_cache(self.db, a, b, window, as_of=as_of, basis=basis)
        except (DataError, WindowError) as error:
            raise CommandError(str(error)) from None

    def _ensure_symbol(self, symbol: str) -> str | None:
        """None when cached; a note after fetching it; CommandError with close matches."""
        if has_symbol(self.db, symbol):
            return None
        if self.source is None:
            known = price_store.cached_symbols(self.db)
            raise CommandError(f"No data for {symbol}.{parsing.suggestion(symbol, known)}")
        return self._fetch_symbol(symbol)

    def _fetch_symbol(self, symbol: str) -> str:
        assert self.source is not None
        start = date.fromisoformat(self.settings.history_start)
        try:
            result = self.source.fetch({symbol: start})
        except Exception as error:  # a source's failure is reported, never a crash
            log.warning("fetching %s from %s failed: %s", symbol, self.source.name, error)
            raise CommandError(f"Could not fetch {symbol} from {self.source.name}.") from None
        bars = [bar for bar in result.bars.get(symbol, []) if bar.has_value()]
        if not bars:
            known = price_store.cached_symbols(self.db)
            reason = parsing.one_line(result.failures.get(symbol, "no data"), 80)
            hint = parsing.suggestion(symbol, known)
            raise CommandError(f"No data for {symbol} ({self.source.name}: {reason}).{hint}")
        price_store.upsert_bars(self.db, bars)
        return f"{symbol} was not cached: fetched {len(bars)} bars from {self.source.name}."

    # Autocomplete helpers (fast, never raise)

    def symbol_choices(self, prefix: str = "", limit: int = 25) -> list[str]:
        """Cached symbols starting with `prefix` (case-insensitive), for autocomplete."""
        wanted = prefix.strip().upper()
        return [s for s in price_store.cached_symbols(self.db) if s.startswith(wanted)][:limit]

    # /subscribe, /unsubscribe, /subscriptions

    def subscribe(
        self, actor: Actor, rule: str | None, mode: str | None = None
    ) -> SubscriptionReply:
        """Subscribe the actor to a rule or `all`, mentioned in the channel (default) or by DM."""
        rule_id = parsing.parse_rule_id(rule, self.rule_ids(), allow_all=True)
        chosen = parsing.parse_mode(mode)
        before = {s.rule_id: s.mode for s in self._subscriptions_of(actor)}
        subs.subscribe(self.db, actor.platform, actor.user_id, rule_id, chosen, now=self.clock())
        action = "updated" if rule_id in before else "subscribed"
        how = "by direct message" if chosen == "dm" else "with a mention in the channel"
        what = "every signal" if rule_id == parsing.ALL else rule_id
        verb = "Updated: you will" if action == "updated" else "Subscribed: you will"
        return SubscriptionReply(action, rule_id, chosen, 0, f"{verb} hear about {what} {how}.")

    def unsubscribe(self, actor: Actor, rule: str | None) -> SubscriptionReply:
        """Remove one subscription, or all of the actor's with `all`."""
        rule_id = self._owned_rule_id(actor, rule)
        removed = subs.unsubscribe(self.db, actor.platform, actor.user_id, rule_id)
        if removed == 0:
            text = f"You were not subscribed to {rule_id}."
            return SubscriptionReply("not_subscribed", rule_id, None, 0, text)
        what = f"all {removed} subscriptions" if rule_id == parsing.ALL else rule_id
        return SubscriptionReply(
            "unsubscribed", rule_id, None, removed, f"Unsubscribed from {what}."
        )

    def _owned_rule_id(self, actor: Actor, rule: str | None) -> str:
        # A rule removed from the rules file can still be unsubscribed from.
        owned = [s.rule_id for s in self._subscriptions_of(actor) if s.rule_id != parsing.ALL]
        return parsing.parse_rule_id(rule, {*self.rule_ids(), *owned}, allow_all=True)

    def subscriptions(self, actor: Actor) -> SubscriptionsReply:
        """The actor's own subscriptions on this platform."""
        rows = tuple(
            SubscriptionRow(s.rule_id, s.mode, s.created_at) for s in self._subscriptions_of(actor)
        )
        if not rows:
            return SubscriptionsReply(rows, "You have no subscriptions. Try /subscribe all.")
        listed = ", ".join(f"{r.rule_id} ({r.mode})" for r in rows)
        return SubscriptionsReply(rows, f"Your subscriptions: {listed}.")

    def _subscriptions_of(self, actor: Actor) -> list[subs.Subscription]:
        return subs.list_subscriptions(self.db, actor.platform, actor.user_id)

    # /mute, /unmute (admins), Acknowledge button

    def mute(self, actor: Actor, rule: str | None, duration: str | None) -> MuteReply:
        """Silence a rule (or `all`) for a duration such as 4h or 1d; admins only."""
        self._require_admin(actor, "mute")
        rule_id = parsing.parse_rule_id(rule, self.rule_ids(), allow_all=True)
        length = parsing.parse_duration(duration)
        now = self.clock()
        record = subs.mute(
            self.db, rule_id, now + length, by=actor.user_id, platform=actor.platform, now=now
        )
        text = f"Muted {rule_id} until {_short_time(record.until)}."
        return MuteReply("muted", rule_id, record.until, actor.user_id, text)

    def unmute(self, actor: Actor, rule: str | None) -> MuteReply:
        """Lift a mute; admins only."""
        self._require_admin(actor, "unmute")
        muted_ids = [m.rule_id for m in subs.active_mutes(self.db, self.clock())]
        rule_id = parsing.parse_rule_id(rule, {*self.rule_ids(), *muted_ids}, allow_all=True)
        if subs.unmute(self.db, rule_id):
            return MuteReply("unmuted", rule_id, None, actor.user_id, f"Unmuted {rule_id}.")
        return MuteReply("not_muted", rule_id, None, actor.user_id, f"{rule_id} was not muted.")

    def _require_admin(self, actor: Actor, verb: str) -> None:
        if not actor.is_admin:
            raise CommandError(f"Only admins can {verb} signals.")

    def acknowledge(self, actor: Actor, alert_key: str) -> AckReply:
        """Record an alert's acknowledgement; the first one wins and later ones are told who."""
        key = parsing.one_line(alert_key, 200)
        if not key:
            raise CommandError("Missing alert key.")
        ack = subs.acknowledge(
            self.db, key, platform=actor.platform, user_id=actor.user_id, now=self.clock()
        )
        when = _short_time(ack.acked_at)
        text = (
            f"Acknowledged at {when}."
            if ack.first
            else f"Already acknowledged by {ack.user_id} ({ack.platform}) at {when}."
        )
        return AckReply(key, ack.first, ack.platform, ack.user_id, ack.acked_at, text)

    # /help

    def help(self, prefix: str = "/") -> HelpReply:
        """Every command with its usage; `prefix` is the Slack command prefix, if any."""
        return help_reply(prefix)

    # Rules

    def rule_ids(self) -> list[str]:
        """Ids of the rules in force, in rules-file order."""
        return [rule.id for rule in self.rules()]

    def rules(self) -> list[Any]:
        """The rules in force (loaded once from the package defaults and ROTATION_RULES)."""
        if self._rules is None:
            self._rules = _load_rules(self.settings)
        return self._rules


def _load_rules(settings: Settings) -> list[Any]:
    # TODO(issue 3): bot/rules_file.load_rules is being written by the engine helper.
    from bot.rules_file import load_rules  # type: ignore[import-not-found]

    return list(load_rules(settings))


def _short_time(stamp: str) -> str:
    """`2026-03-02T14:30:00+00:00` as `2026-03-02 14:30 UTC`."""
    moment = datetime.fromisoformat(stamp).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def spread_reply(report: SpreadReport, notes: tuple[str, ...] = ()) -> SpreadReply:
    """The platform-neutral answer for an engine `SpreadReport`."""
    a, b = _leg(report.a), _leg(report.b)
    start = min(report.a.start, report.b.start)
    chart = ChartSpec(
        kind="relative",
        legs=(a.symbol, b.symbol),
        start=start,
        end=report.as_of,
        basis="adj_close" if report.basis == "total" else "close",
    )
    text = (
        f"{a.symbol} {a.return_pct:+.2f}% vs {b.symbol} {b.return_pct:+.2f}% "
        f"({report.window}, {report.basis} return): spread {report.spread_bps:+,.0f} bps, "
        f"from {start.isoformat()} to {report.as_of.isoformat()}"
    )
    if report.a.end != report.b.end:
        notes = (*notes, f"Legs end on different sessions: {a.symbol} {a.end}, {b.symbol} {b.end}.")
    return SpreadReply(
        a, b, report.window, report.basis, report.as_of,
        report.spread_bps, report.spread_pp, chart, text, notes,
    )  # fmt: skip


def _leg(leg: LegReturn) -> LegReply:
    return LegReply(leg.name, leg.pct, leg.start, leg.end, leg.start_value, leg.end_value)
