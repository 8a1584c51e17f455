"""The one command core both chat adapters call: parse arguments, query, return plain data.

Every public method is a blocking sync function (SQLite, pandas, maybe a data fetch):
adapters run it with `asyncio.to_thread`, format the returned dataclass from `bot/chat/replies.py`
after `bot.safety.sanitize(reply, platform)`, and show a `CommandError`'s one line as the
reply (ephemeral on Discord). Nothing here imports a chat SDK.

The database may be a `Store` (single-threaded use: tests, the CLI) or a factory
returning a new connection; with a factory each worker thread gets its own connection,
because a SQLite connection must not be shared across threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.chat import parsing
from bot.chat.help_text import help_reply
from bot.chat.on_call import OnCallCommands, make_actor
from bot.chat.parsing import CommandError
from bot.chat.replies import (
    Actor,
    HelpReply,
    SignalDetail,
    SignalsReply,
    SpreadReply,
    StatusReply,
)
from bot.chat.rule_commands import RuleCommands
from bot.chat.signal_cache import SignalCache
from bot.chat.signal_queries import signal_detail, signal_rows
from bot.chat.spread_query import spread_from_cache, spread_reply
from bot.config import Settings
from bot.rules.files import RulesFileError, load_rules
from bot.rules.stored import rule_origins, with_chat_rules
from bot.service.health import collect_health, render_lines
from bot.sources.bar_checks import today_in_new_york
from bot.sources.base import PriceSource
from bot.sources.quality import log_changes, quality_config, review_prices
from bot.sources.refresh import drop_unstorable
from signals.legs import DataError
from signals.measures import Basis, WindowError
from signals.models import SpreadReport
from signals.rules import Rule
from storage import prices as price_store
from storage import subscriptions as subs
from storage.db import Store, open_db
from storage.stamps import utc_now

log = logging.getLogger(__name__)

__all__ = ["Actor", "CommandError", "Commands", "make_actor"]


class Commands(OnCallCommands, RuleCommands):
    """The chat commands, independent of any platform."""

    def __init__(
        self,
        settings: Settings,
        db: Store | Callable[[], Store],
        *,
        source: PriceSource | None = None,
        rules: Sequence[Rule] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self._db_source = db
        self._local = threading.local()
        self.source = source
        self._rules = list(rules) if rules is not None else None
        self.clock = clock
        self._signal_cache = SignalCache()  # /signals on unchanged data answers from memory

    @classmethod
    def for_path(cls, settings: Settings, path: Path, **options: Any) -> Commands:
        """A core that opens one connection to the SQLite file `path` per worker thread."""
        return cls(settings, lambda: open_db(path), **options)

    @property
    def db(self) -> Store:
        """The database connection for the calling thread."""
        if isinstance(self._db_source, Store):
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
        if price_store.has_symbol(self.db, symbol):
            return None
        if self.source is None:
            known = price_store.cached_symbols(self.db)
            raise CommandError(f"No data for {symbol}.{parsing.suggestion(symbol, known)}")
        return self._fetch_symbol(symbol)

    def _fetch_symbol(self, symbol: str) -> str:
        assert self.source is not None
        start = self.settings.history_start
        try:
            result = self.source.fetch({symbol: start})
        except Exception as error:  # a source's failure is reported, never a crash
            log.warning("fetching %s from %s failed: %s", symbol, self.source.name, error)
            raise CommandError(f"Could not fetch {symbol} from {self.source.name}.") from None
        fetched = [bar for bar in result.bars.get(symbol, []) if bar.has_value()]
        if fetched:  # the screen of every other path: never an impossible or shifted bar
            result.bars[symbol] = fetched
            dropped = drop_unstorable(result, today_in_new_york(), self.settings.weekday_symbols)
            for line in dropped.get(symbol, []):
                log.warning("%s", line)
        bars = result.bars.get(symbol, []) if fetched else []
        if not bars:
            known = price_store.cached_symbols(self.db)
            reason = parsing.one_line(result.failures.get(symbol, "no data"), 80)
            hint = parsing.suggestion(symbol, known)
            raise CommandError(f"No data for {symbol} ({self.source.name}: {reason}).{hint}")
        price_store.upsert_bars(self.db, bars)
        log_changes(review_prices(self.db, [symbol], quality_config(self.settings)))
        return f"{symbol} was not cached: fetched {len(bars)} bars from {self.source.name}."

    # /signals, /signal ID

    def signals(self) -> SignalsReply:
        """Every rule: state, current measure against threshold, last fired (nothing saved)."""
        found = signal_rows(self.db, self.rules(), self.clock(), self._mutes(), self._signal_cache)
        origins = self.rule_origins()
        rows = tuple(replace(row, origin=origins.get(row.rule_id, "")) for row in found)
        firing = [row.rule_id for row in rows if row.phase == "firing"]
        text = f"{len(rows)} signals, {len(firing)} firing" + (
            f": {', '.join(firing)}." if firing else "."
        )
        return SignalsReply(rows, text)

    def signal(self, rule: str | None, actor: Actor | None = None) -> SignalDetail:
        """One rule in detail: state, parameters, last events, backtest since 2000, chart."""
        rule_id = parsing.parse_rule_id(rule, self.rule_ids())
        (chosen,) = [r for r in self.rules() if r.id == rule_id]
        count = len(subs.subscribers_for(self.db, rule_id, actor.platform)) if actor else 0
        return signal_detail(self.db, chosen, self.clock(), self._mutes(), count)

    def _mutes(self) -> dict[str, subs.Mute]:
        return {m.rule_id: m for m in subs.active_mutes(self.db, self.clock())}

    # Autocomplete helpers (fast, never raise)

    def rule_choices(self, prefix: str = "", limit: int = 25) -> list[str]:
        """Rule ids containing `prefix` (case-insensitive), for autocomplete."""
        wanted = prefix.strip().lower()
        try:
            known = self.rule_ids()
        except CommandError:  # an invalid rules file: the command itself will say so
            return []
        return [rule_id for rule_id in known if wanted in rule_id.lower()][:limit]

    def symbol_choices(self, prefix: str = "", limit: int = 25) -> list[str]:
        """Cached symbols starting with `prefix` (case-insensitive), for autocomplete."""
        wanted = prefix.strip().upper()
        return [s for s in price_store.cached_symbols(self.db) if s.startswith(wanted)][:limit]

    # /status

    def status(self) -> StatusReply:
        """Data freshness per symbol, last evaluation, service heartbeat, outbox backlog."""
        health = collect_health(self.db, self.clock(), self.settings)
        lines = tuple(render_lines(health))
        summary = "ok" if health.ok else "degraded: " + "; ".join(health.problems)
        leader = health.leader
        leads = f"{leader['id']} since {leader['leader_since']}" if leader else ""
        text = f"Status {summary}"
        return StatusReply(health.ok, tuple(health.problems), lines, health, text, leads)

    # /help

    def help(self, prefix: str = "/") -> HelpReply:
        """Every command with its usage; `prefix` is the Slack command prefix, if any."""
        return help_reply(prefix)

    # Rules

    def rule_ids(self) -> list[str]:
        """Ids of the rules in force, in rules-file order."""
        return [rule.id for rule in self.rules()]

    def rules(self) -> list[Rule]:
        """The rules in force: the files' rules (below), then the rules made in chat."""
        return with_chat_rules(self.file_rules(), self.db)

    def file_rules(self) -> list[Rule]:
        """The defaults and ROTATION_RULES, or the rules given to __init__."""
        if self._rules is not None:
            return self._rules
        # Read afresh each time (under 1 ms), as every scheduled job does, so that after an
        # edit of the rules file chat answers about the same rules the service evaluates.
        return _load_rules(self.settings)

    def rule_origins(self) -> dict[str, str]:
        """Where each rule comes from: `defaults`, `file` or `chat (<author>)`."""
        return rule_origins(self.settings, self.db)


def _load_rules(settings: Settings) -> list[Rule]:
    try:
        return list(load_rules(settings))
    except RulesFileError as error:
        # The service validates the rules file at start; a chat user still gets one line.
        raise CommandError(f"The rules file is invalid: {error.problems[0]}") from None
