"""The sender: deliver due outbox rows, per destination in order, with retries.

Each row is claimed (status `sending`, attempt counted) before the platform is called and
updated after it answers. A row still `sending` when its claim expires means a sender died
between the call and the update: the notifier is asked whether the message already exists
(Discord: recent posts by the bot, plus the nonce; Slack: message metadata) before posting.
A transient failure (5xx, timeout, connection refused) pauses the destination
(bot/delivery/outage.py): one probe at a time with the destination's own backoff, the rows
behind it waiting without spending attempts. HTTP 429 waits for the platform's `retry_after`.
A permanent error (bad token, unknown channel, missing permission) makes the row dead at once;
otherwise a row gives up only by age (`max_age_hours`). Dead rows stay visible and can be re-queued.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config import Settings
from bot.crash_points import crash_point
from bot.delivery.alerting import mentions_to_send
from bot.delivery.message import (
    AlertMessage,
    DeliveryError,
    DeliveryResult,
    Notifier,
    PermanentError,
    RateLimited,
    TransientError,
    redact,
)
from bot.delivery.outage import DestinationHealth, expire_old_rows
from bot.delivery.outbox_messages import outbox_message
from bot.delivery.pacing import SharedPacing
from storage.db import Store
from storage.outbox import OutboxRow, open_destinations
from storage.outbox_claims import (
    Claim,
    claim_next,
    finish_delivered,
    finish_failed,
    replica_id,
    still_owner,
)
from storage.outbox_health import ExpiredRow, destination_pauses
from storage.stamps import utc_now

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

MAX_BACKOFF_SECONDS = 900.0


@dataclass(frozen=True)
class DeliveryPolicy:
    """How long to try: age before a row is dead, backoff base, claim lease, wait budget."""

    max_age_hours: float = 6.0
    base_delay: float = 2.0
    lease_seconds: float = 60.0
    max_wait: float = 300.0


@dataclass
class DeliveryReport:
    """What one `deliver_pending` run did; `outcomes` has one line per attempt."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    outcomes: list[dict[str, object]] = field(default_factory=list)

    def note(self, row: OutboxRow | ExpiredRow, outcome: str, detail: str = "") -> None:
        """Record one attempt's outcome."""
        self.outcomes.append(
            {
                "id": row.id,
                "key": row.dedupe_key,
                "destination": row.destination,
                "outcome": outcome,
                "detail": detail,
            }
        )


def backoff_delay(attempts: int, base: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds before retry number `attempts`: base * 2^(attempts-1), jittered by ±50%, capped."""
    delay = base * 2 ** max(attempts - 1, 0)
    return min(delay * (0.5 + rng()), MAX_BACKOFF_SECONDS)


def deliver_pending(
    db: Store,
    notifiers: Sequence[Notifier],
    *,
    now: Clock = utc_now,
    sleep: Sleep = time.sleep,
    policy: DeliveryPolicy | None = None,
    rng: Callable[[], float] = random.random,
    stop: Callable[[], bool] = lambda: False,
) -> DeliveryReport:
    """Deliver every due row; wait for retries that come due within `policy.max_wait` seconds.

    Args:
        now: the clock (returns an aware UTC datetime); `sleep` waits that many seconds.
        stop: checked before each row; once True the send in flight ends the pass and the
            remaining rows stay pending (a shutdown must not wait for a whole backlog).
    """
    sender = _Sender(
        db, {n.name: n for n in notifiers}, now, sleep, policy or DeliveryPolicy(), rng, stop
    )
    return sender.run()


class _Sender:
    def __init__(
        self,
        db: Store,
        notifiers: dict[str, Notifier],
        now: Clock,
        sleep: Sleep,
        policy: DeliveryPolicy,
        rng: Callable[[], float],
        stop: Callable[[], bool],
    ) -> None:
        self.db, self.notifiers, self.now, self.sleep = db, notifiers, now, sleep
        self.policy, self.rng, self.stop = policy, rng, stop
        self.report = DeliveryReport()
        self.owner = replica_id()
        self.messages: dict[str, AlertMessage] = {}
        self.warned: set[str] = set()
        self.health = DestinationHealth(db, lambda n: backoff_delay(n, policy.base_delay, rng))
        self.pacing = SharedPacing(db, now, sleep)
        self.pacing.watch(notifiers.values())

    def run(self) -> DeliveryReport:
        deadline = self.now() + timedelta(seconds=self.policy.max_wait)
        while not self.stop():
            if self._deliver_due():
                continue
            next_at = self.health.next_due(self.notifiers)
            if next_at is None or next_at > deadline:
                break
            self.sleep(max((next_at - self.now()).total_seconds(), 0.0))
        return self.report

    def _deliver_due(self) -> bool:
        """Claim and send due head rows until none is left; True if any row was attempted.

        One row at a time, claimed in the database, so any number of senders (replicas) can
        run this together: each destination stays in order (only its head row can be claimed)
        and a destination whose head failed waits for its retry (`blocked`).
        """
        attempted, blocked = False, set[str]()
        self._give_up_old_rows()
        self._warn_unconfigured()
        while not self.stop():
            claim = claim_next(
                self.db, self._sendable(blocked), self.now(), self.policy.lease_seconds, self.owner
            )
            if claim is None:
                break
            crash_point("claimed")
            attempted = True
            if not self._deliver_row(self.notifiers[claim.row.destination], claim):
                blocked.add(claim.row.destination)  # keep the order: later rows wait for it
        return attempted

    def _sendable(self, blocked: set[str]) -> list[str]:
        """Destinations this sender may claim from now: configured, not paused, not blocked."""
        pauses, now = destination_pauses(self.db), self.now()
        return [
            name
            for name in self.notifiers
            if name not in blocked and not (name in pauses and pauses[name].probe_at > now)
        ]

    def _give_up_old_rows(self) -> None:
        now = self.now()
        for row in expire_old_rows(self.db, self.notifiers, self.policy.max_age_hours, now):
            self.report.dead += 1
            self.report.note(row, "dead", "too old")

    def _warn_unconfigured(self) -> None:
        for destination in open_destinations(self.db) - set(self.notifiers) - self.warned:
            self.warned.add(destination)
            log.warning("alerts wait for %s, which is not configured", destination)

    def _deliver_row(self, notifier: Notifier, claim: Claim) -> bool:
        row = claim.row
        if not self._pace(notifier, claim):
            return False
        attempts = row.attempts + 1
        try:
            result = self._send(notifier, row)
        except DeliveryError as error:
            self._fail(claim, attempts, error)
            return False
        except Exception as error:  # adapter bug: log with traceback, retry like a 5xx
            log.exception("delivery to %s raised unexpectedly", row.destination)
            self._fail(claim, attempts, TransientError(f"{type(error).__name__}: {error}"))
            return False
        crash_point("posted")
        self.health.answered(row.destination, self.now())
        if not finish_delivered(self.db, claim, result.message_id, self.now()):
            self._lost(claim, "delivered")
            return False
        crash_point("delivered")
        self.report.delivered += 1
        self.report.note(row, "delivered", result.message_id or "")
        log.info(
            "delivered %s to %s (message %s)", row.dedupe_key, row.destination, result.message_id
        )
        return True

    def _pace(self, notifier: Notifier, claim: Claim) -> bool:
        """Wait for this post's shared slot; False: do not post (the claim is not ours to use).

        The claim is checked last: a sender that slept past its lease (a long wait, a
        SIGSTOP, a suspended host) must not post a row another sender may already own.
        """
        late = self.pacing.wait_turn(notifier, claim.post_by)
        if late is not None:
            self._release(claim, late)
            return False
        if claim.valid_at(self.now()) and still_owner(self.db, claim):
            return True
        self._lost(claim, "sent")
        return False

    def _release(self, claim: Claim, slot: datetime) -> None:
        """Give a claimed row back untouched, due at `slot` (the pacing wait outlasts the lease)."""
        reason = claim.row.last_error or "waiting for the platform's rate limit"
        finish_failed(self.db, claim, reason, retry_at=slot, now=self.now(), count_attempt=False)

    def _lost(self, claim: Claim, what: str) -> None:
        self.report.note(claim.row, "lost", f"claim expired; not {what}")
        log.warning(
            "claim on %s to %s expired before it was %s; the row is left to its new sender",
            claim.row.dedupe_key,
            claim.row.destination,
            what,
        )

    def _send(self, notifier: Notifier, row: OutboxRow) -> DeliveryResult:
        # Look before posting again whenever an earlier attempt may have reached the platform:
        # a sender died mid-call ('sending'), or a call failed after the platform accepted it
        # (a timeout or a proxy's 502). A 429 gives its attempt back, so it never looks.
        if row.status == "sending" or row.attempts > 0:
            found = self._find_existing(notifier, row)
            if found is not None:
                self._finish_recovered(notifier, row, found)
                return found
        message = self._message(row.dedupe_key)
        message = message.with_mentions(mentions_to_send(self.db, row, message.rule_id))
        return notifier.send(message, idempotency_key=row.dedupe_key)

    def _finish_recovered(self, notifier: Notifier, row: OutboxRow, found: DeliveryResult) -> None:
        # A post found after a crash may lack what the send adds after posting (Slack uploads
        # the chart into the thread in a second call); adapters that do so finish it here.
        finish = getattr(notifier, "finish_recovered", None)
        if finish is not None:
            finish(self._message(row.dedupe_key), found)

    def _find_existing(self, notifier: Notifier, row: OutboxRow) -> DeliveryResult | None:
        since = datetime.fromisoformat(row.created_at) - timedelta(minutes=1)
        try:
            found = notifier.find_existing(row.dedupe_key, since=since)
        except PermanentError as error:
            log.warning(
                "cannot check %s for %s (%s); sending again, a duplicate is possible",
                row.destination,
                row.dedupe_key,
                error.reason,
            )
            return None
        if found is None and row.status == "sending":
            log.warning(
                "outcome of an earlier send of %s to %s unknown and not found; sending",
                row.dedupe_key,
                row.destination,
            )
        return found

    def _message(self, key: str) -> AlertMessage:
        if key not in self.messages:
            self.messages[key] = outbox_message(self.db, key)
        return self.messages[key]

    def _fail(self, claim: Claim, attempts: int, error: DeliveryError) -> None:
        row, reason, now = claim.row, redact(error.reason), self.now()
        if isinstance(error, RateLimited):
            # A floor keeps a platform answering retry_after=0 from spinning this loop.
            retry_at = now + timedelta(seconds=max(error.retry_after, 0.5))
            if self._record_failure(claim, reason, retry_at, count_attempt=False):
                self._log_retry(row, attempts, reason, retry_at, "rate limited")
        elif isinstance(error, PermanentError):
            self.health.answered(row.destination, now)  # it answered: not an outage
            if not self._record_failure(claim, reason, None):
                return
            self.report.dead += 1
            self.report.note(row, "dead", reason)
            log.error(
                "alert %s to %s is dead after %d attempt(s): %s",
                row.dedupe_key,
                row.destination,
                attempts,
                reason,
            )
        else:
            # The destination is failing, not this row: pause it; this row is its next probe.
            retry_at = self.health.failed(row.destination, reason, now)
            if self._record_failure(claim, reason, retry_at):
                self._log_retry(row, attempts, reason, retry_at, "failed")

    def _record_failure(
        self, claim: Claim, reason: str, retry_at: datetime | None, *, count_attempt: bool = True
    ) -> bool:
        """Write the failure if the claim is still ours; a late sender's result is dropped."""
        now = self.now()
        if finish_failed(
            self.db, claim, reason, retry_at=retry_at, now=now, count_attempt=count_attempt
        ):
            return True
        self._lost(claim, "marked failed")
        return False

    def _log_retry(
        self, row: OutboxRow, attempts: int, reason: str, retry_at: datetime, what: str
    ) -> None:
        self.report.retried += 1
        self.report.note(row, "retry", reason)
        log.warning(
            "delivery of %s to %s %s (attempt %d): %s; retry at %s",
            row.dedupe_key,
            row.destination,
            what,
            attempts,
            reason,
            retry_at.isoformat(timespec="seconds"),
        )


def policy_from_settings(settings: Settings) -> DeliveryPolicy:
    """The DeliveryPolicy the settings describe."""
    return DeliveryPolicy(
        max_age_hours=settings.delivery_max_age_hours,
        base_delay=settings.delivery_base_delay,
        lease_seconds=settings.delivery_lease_seconds,
        max_wait=settings.delivery_max_wait,
    )
