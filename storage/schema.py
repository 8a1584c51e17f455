"""Imports every storage module that registers a migration set, in the order they apply."""

from storage import outbox, prices, rule_state, series, service_state, subscriptions  # noqa: F401
