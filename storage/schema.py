"""Imports every storage module that registers a migration set, in the order they apply."""

from storage import prices, series  # noqa: F401
