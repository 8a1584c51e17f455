"""The quality status of a stored bar or point: what `signals.quality` decides, what storage
filters on. Plain constants, so that reading the database needs no pandas."""

from __future__ import annotations

# Statuses of a stored bar or point. Only USABLE ones are read by rules, spreads and charts.
OK, SUSPECT, CONFIRMED, DISCARDED = "ok", "suspect", "confirmed", "discarded"
ACCEPTED, REJECTED = "accepted", "rejected"  # a person's verdict; the checks never undo it
USABLE = (OK, CONFIRMED, ACCEPTED)
