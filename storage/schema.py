"""Imports every storage module that registers a migration set, in the order they apply."""

from storage import (  # noqa: F401
    outbox,
    outbox_health,
    prices,
    replicas,
    rule_state,
    series,
    service_state,
    subscriptions,
    versioning,  # after prices and series: its triggers watch them
)
