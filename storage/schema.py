"""Imports every storage module that registers a migration set, in the order they apply."""

from storage import prices, series, subscriptions  # noqa: F401
