"""Imports every storage module that registers a migration set, in the order they apply."""

from storage import (  # noqa: F401
    chat_rules,
    outbox,
    outbox_claims,  # after outbox: it adds the claim column and redoes outbox_open
    outbox_health,
    owed_alerts,  # after rule_state: it adds a column to events
    pacing,
    prices,
    replicas,
    rewinds,
    rule_checks,  # after rule_state
    rule_state,
    seen_requests,
    series,
    service_state,
    subscriptions,
    versioning,  # after prices and series: its triggers watch them
)
