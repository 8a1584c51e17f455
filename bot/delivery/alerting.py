"""From new events to outbox rows: mutes, subscriber mentions, DMs and re-notification rounds.

Both `rotation-bot run` (bot/service/jobs.py) and `check --deliver` (bot/delivery/sender.py)
queue alerts through `queue_alerts`, so they honour the same mutes and subscriptions.

Who is pinged is decided when an alert is queued and stored with its outbox row (the
`mentions` column), in the same transaction as the row: a restart can neither lose nor
repeat it, and a replayed or retried post pings the same people. At send time the stored ids
are narrowed to those still subscribed with `mention` (`mentions_to_send`), so unsubscribing
while an alert waits for a retry is honoured, while someone subscribing afterwards is not
pinged about an alert that fired before they asked. DM subscribers get their own outbox row
(`discord:dm:<id>` / `slack:dm:<id>`), queued once with the alert and delivered like any row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.config import Settings
from bot.crash_points import crash_point
from bot.delivery.destinations import dm_platforms
from bot.platforms import all_platforms, is_dm, platform_named, platform_of
from signals.models import Event
from signals.rules import Rule
from storage import outbox, owed_alerts, renotify
from storage import subscriptions as subs
from storage.db import Store

log = logging.getLogger(__name__)

Render = Callable[[Event], bytes | None]
Route = Callable[[str], Sequence[str]]  # rule id -> its channels (bot.rules.routing.router)
Rows = dict[str, tuple[str, ...]]  # destination -> subscriber ids that row may ping


@dataclass
class QueueReport:
    """What `queue_alerts` did: rows added, alerts queued, and the alerts a mute held back."""

    rows: int = 0
    alerts: int = 0
    muted: list[str] = field(default_factory=list)
    known: int = 0


def queue_alerts(
    db: Store,
    events: Sequence[Event],
    destinations: Sequence[str],
    *,
    settings: Settings | None,
    rules: Iterable[Rule] = (),
    render: Render = lambda event: None,
    now: datetime,
    on_call: bool = True,
    route: Route | None = None,
) -> QueueReport:
    """Queue new events for every destination, with their subscribers' mentions and DMs.

    Args:
        route: the channels of each rule's alerts (its `destinations`, routes); None: all
            `destinations`.
        settings: for the DM platforms and renotify rounds; None: no DMs, no re-notification.
        rules: the rules in force, for their `renotify_minutes` (re-notification starts here).
        render: draws an event's chart; called only for alerts actually queued.
        on_call: False in a replay: no mentions, DMs, mutes or re-notification.
    """
    by_id = {rule.id: rule for rule in rules}
    report = QueueReport()
    known = outbox.known_alert_keys(db, (e.dedupe_key for e in events))
    for event in events:
        if event.dedupe_key in known:
            report.known += 1  # queued before (a re-run): its rows and DMs already exist
            continue
        if on_call and _held_by_mute(db, event, now):
            report.muted.append(event.dedupe_key)
            if settings is not None:
                _stop_if_reversed(db, event, by_id, settings, now)
            continue
        channels = route(event.rule_id) if route else destinations
        rows = _plan_rows(db, event.rule_id, channels, settings, on_call)
        with db.atomic():
            report.rows += outbox.enqueue_alert(
                db, event.dedupe_key, event, rows, chart=render(event), now=now
            )
            if on_call and settings is not None and event.rule_id in by_id:
                track_event(db, event, by_id[event.rule_id], settings, now=now)
        report.alerts += 1
    return report


def queue_owed(
    db: Store,
    destinations: Sequence[str],
    *,
    settings: Settings | None,
    rules: Iterable[Rule] = (),
    render: Render = lambda event: None,
    now: datetime,
    on_call: bool = True,
    route: Route | None = None,
) -> QueueReport:
    """Queue every recorded event still owed its alert (`storage.owed_alerts`), oldest first.

    Each alert's chart is drawn first; then its rows, its re-notification and the clearing of
    its owed mark are one transaction, so a crash anywhere leaves it either owed (queued by
    the next pass) or queued, never both nor neither. Mutes, subscribers, DMs and routes are
    decided here, at queue time. Arguments as for `queue_alerts`.
    """
    by_id = {rule.id: rule for rule in rules}
    report = QueueReport()
    for event in owed_alerts.owed_events(db):
        if on_call and _held_by_mute(db, event, now):
            report.muted.append(event.dedupe_key)
            with db.atomic():
                if owed_alerts.settle(db, event.dedupe_key) and settings is not None:
                    _stop_if_reversed(db, event, by_id, settings, now)
            continue
        channels = route(event.rule_id) if route else destinations
        rows = _plan_rows(db, event.rule_id, channels, settings, on_call)
        chart = render(event)
        crash_point("drawn")
        with db.atomic():
            if not owed_alerts.settle(db, event.dedupe_key):
                continue  # another queuer took it meanwhile
            report.rows += outbox.enqueue_alert(
                db, event.dedupe_key, event, rows, chart=chart, now=now
            )
            if on_call and settings is not None and event.rule_id in by_id:
                track_event(db, event, by_id[event.rule_id], settings, now=now)
        crash_point("queued")
        report.alerts += 1
    return report


def track_event(
    db: Store, event: Event, rule: Rule, settings: Settings, *, now: datetime
) -> renotify.Renotify | None:
    """Re-notify a fired alert every `renotify_minutes` of its rule; its reversal stops that.

    The service calls this for every new event it delivers; it is idempotent.
    """
    if event.kind == "reversed":
        renotify.stop_renotify(db, replace(event, kind="fired").dedupe_key)  # its firing's key
        return None
    if not rule.renotify_minutes:
        return None
    return renotify.schedule_renotify(
        db,
        event.dedupe_key,
        event.rule_id,
        interval=timedelta(minutes=rule.renotify_minutes),
        max_rounds=settings.renotify_rounds,
        now=now,
    )


def _held_by_mute(db: Store, event: Event, now: datetime) -> bool:
    mute = subs.muted(db, event.rule_id, now)
    if mute is None:
        return False
    log.info(
        "%s is muted (%s until %s, by %s): alert %s recorded, not posted",
        event.rule_id,
        mute.rule_id,
        mute.until,
        mute.muted_by,
        event.dedupe_key,
    )
    return True


def _stop_if_reversed(
    db: Store, event: Event, rules: dict[str, Rule], settings: Settings, now: datetime
) -> None:
    # A reversal ends the reminders of its firing even when it is not posted.
    if event.kind == "reversed" and event.rule_id in rules:
        track_event(db, event, rules[event.rule_id], settings, now=now)


def _plan_rows(
    db: Store,
    rule_id: str,
    destinations: Sequence[str],
    settings: Settings | None,
    on_call: bool,
) -> Rows:
    """Every destination with the subscribers it may ping, plus a row per DM subscriber."""
    if not on_call:
        return {destination: () for destination in destinations}
    found = {p.name: subs.recipients(db, rule_id, p.name) for p in all_platforms()}
    rows: Rows = {}
    for destination in destinations:
        platform = platform_of(destination)
        rows[destination] = found[platform.name].mention if platform else ()
    for name in dm_platforms(settings) if settings is not None else ():
        dm_destination = platform_named(name).dm_destination
        rows.update({dm_destination(user): () for user in found[name].dm})
    return rows


def mentions_to_send(db: Store, row: outbox.OutboxRow, rule_id: str) -> tuple[str, ...]:
    """The row's stored mentions that are still `mention` subscribers of the rule."""
    platform = platform_of(row.destination)
    if not row.mentions or platform is None or is_dm(row.destination):
        return ()
    current = set(subs.recipients(db, rule_id, platform.name).mention)
    return tuple(user for user in row.mention_ids if user in current)


# Re-notification rounds


def queue_renotifications(
    db: Store,
    destinations: Sequence[str],
    *,
    settings: Settings,
    now: datetime,
    route: Route | None = None,
) -> int:
    """Queue every due round: reminders to the subscribers, or the escalation to the channel.

    A round's rows and its bookkeeping are written in one transaction, so a restart neither
    skips nor repeats it. Rounds of a muted rule wait until the mute ends. Returns rows added.
    `route`: as for `queue_alerts` (an escalation goes to the rule's own channels).
    """
    added = 0
    for due in renotify.due_renotifications(db, now):
        if subs.muted(db, due.rule_id, now) is not None:
            continue
        try:
            event, chart = outbox.load_alert(db, due.dedupe_key)
        except KeyError:
            log.warning("no stored alert %s to re-notify; stopping its rounds", due.dedupe_key)
            renotify.stop_renotify(db, due.dedupe_key)
            continue
        channels = route(due.rule_id) if route else destinations
        with db.atomic():
            added += _queue_round(db, due, event, chart, channels, settings, now)
            renotify.record_renotify(db, due.dedupe_key, now=now)
    return added


def _queue_round(
    db: Store,
    due: renotify.Renotify,
    event: Event,
    chart: bytes | None,
    destinations: Sequence[str],
    settings: Settings,
    now: datetime,
) -> int:
    channels = [d for d in destinations if not is_dm(d)]
    rows = _plan_rows(db, event.rule_id, channels, settings, on_call=True)
    if due.escalate:
        key, framed = renotify.escalation_key(due.dedupe_key), escalation_event(event, due.round)
        rows = {d: m for d, m in rows.items() if not is_dm(d)}
        log.info("escalating %s to the channel after %d reminder(s)", due.dedupe_key, due.round)
    else:
        number = due.round + 1
        key, framed = (
            renotify.renotify_key(due.dedupe_key, number),
            reminder_event(event, due, number),
        )
        rows = {d: m for d, m in rows.items() if is_dm(d) or m}  # only where someone is pinged
        chart = None  # the original alert already shows it
        log.info(
            "re-notifying %s (round %d) to %d destination(s)", due.dedupe_key, number, len(rows)
        )
    return outbox.enqueue_alert(db, key, framed, rows, chart=chart, now=now)


def reminder_event(event: Event, due: renotify.Renotify, number: int) -> Event:
    """The alert framed as reminder `number` of `due.max_rounds` to its subscribers."""
    return replace(
        event,
        title=f"Reminder {number}/{due.max_rounds}: {event.title}",
        description=_joined("Not acknowledged yet.", event.description),
    )


def escalation_event(event: Event, reminders: int) -> Event:
    """The alert framed for the whole channel after `reminders` unanswered reminders."""
    return replace(
        event,
        title=f"Escalated: {event.title}",
        description=_joined(
            f"Escalated: not acknowledged after {reminders} reminder(s).", event.description
        ),
    )


def _joined(first: str, rest: str) -> str:
    return f"{first} {rest}".strip()
