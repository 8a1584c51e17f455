"""Subscriptions, mutes and acknowledgements: the on-call half of the command core.

A mixin of `bot.chat.core.Commands`, kept apart so each module stays small; it needs the
core's `db`, `clock` and `rule_ids`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.chat import parsing
from bot.chat.parsing import CommandError
from bot.chat.replies import (
    AckReply,
    Actor,
    MuteReply,
    SubscriptionReply,
    SubscriptionRow,
    SubscriptionsReply,
)
from bot.config import Settings
from bot.delivery.ack_copies import AckNote, show_acknowledged_everywhere
from bot.platforms import PlatformName, platform_named
from storage import renotify
from storage import subscriptions as subs
from storage.db import Store
from storage.stamps import short_time

log = logging.getLogger(__name__)


def make_actor(
    settings: Settings, platform: PlatformName, user_id: str, role_ids: Sequence[str] = ()
) -> Actor:
    """An Actor, admin when the user id or one of their role ids is configured as admin."""
    roles = tuple(str(role) for role in role_ids)
    is_admin = platform_named(platform).is_admin(settings, (str(user_id), *roles))
    return Actor(platform, str(user_id), roles, is_admin)


class OnCallCommands:
    """/subscribe, /unsubscribe, /subscriptions, /mute, /unmute and the Acknowledge button."""

    db: Store
    settings: Settings
    clock: Callable[[], datetime]

    def rule_ids(self) -> list[str]:
        """Ids of the rules in force (provided by the core)."""
        raise NotImplementedError

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
        text = f"Muted {rule_id} until {short_time(record.until)}."
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
        # A reminder or escalation carries its round's key; the alert is what gets acknowledged.
        key = renotify.original_alert_key(parsing.one_line(alert_key, 200))
        if not key:
            raise CommandError("Missing alert key.")
        ack = subs.acknowledge(
            self.db, key, platform=actor.platform, user_id=actor.user_id, now=self.clock()
        )
        when = short_time(ack.acked_at)
        text = (
            f"Acknowledged at {when}."
            if ack.first
            else f"Already acknowledged by {ack.user_id} ({ack.platform}) at {when}."
        )
        return AckReply(key, ack.first, ack.platform, ack.user_id, ack.acked_at, text)

    def show_ack_everywhere(
        self, reply: AckReply, who: str, pressed: str | None = None
    ) -> dict[str, str]:
        """After the first acknowledgement: show it on every other posted copy of the alert.

        Args:
            who: the acknowledger's name as their platform shows it (plain text).
            pressed: the message id the button was on (its handler edits that one).

        Returns destination -> outcome; a failed edit is logged and leaves the ack recorded.
        """
        title = platform_named(reply.platform).title
        note = AckNote(who or reply.user_id, title, reply.acked_at)
        where = (reply.platform, pressed) if pressed else None
        try:
            return show_acknowledged_everywhere(
                self.db, self.settings, reply.alert_key, note, pressed=where
            )
        except Exception:  # a bug or the database: the ack stands, the log says what failed
            log.exception("acknowledgement of %s not shown on its other copies", reply.alert_key)
            return {}
