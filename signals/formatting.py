"""Number formats shared by event titles, fields and check summaries."""

from __future__ import annotations

import math


def fmt_pct(value: float, *, signed: bool = True) -> str:
    """12.41 → '+12.4%' (the value is already in percent)."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def fmt_gain(value: float, reference: float) -> str:
    """How far `value` is above `reference`, in points and percent, never '+0.0%' for a real
    gain: 243.99 over 243.01 → '+0.98 (+0.40%)', 2,531.16 over 2,530.90 → '+0.26 (+0.010%)'."""
    if math.isnan(value) or math.isnan(reference) or reference == 0:
        return "n/a"
    points, pct = value - reference, (value / reference - 1) * 100
    decimals = 1
    while decimals < MAX_DECIMALS - 2 and pct != 0 and abs(pct) < 10 ** (1 - decimals):
        decimals += 1  # two significant digits of a small percentage
    base = 2 if abs(reference) >= 10 else 4
    return f"{points:+,.{base}f} ({pct:+.{decimals}f}%)"


def fmt_pp(value: float) -> str:
    """0.52 → '+0.5 pp'."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.1f} pp"


def fmt_bps(value: float, *, signed: bool = True) -> str:
    """412.3 → '+412 bps'."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.0f} bps" if signed else f"{value:.0f} bps"


def fmt_value(value: float, decimals: int | None = None) -> str:
    """A level: 2517.3 → '2,517.30', 0.35123 → '0.3512'."""
    if value is None or math.isnan(value):
        return "n/a"
    if decimals is None:
        decimals = 2 if abs(value) >= 10 else 4
    return f"{value:,.{decimals}f}"


# More decimals than this shows noise, not a difference a desk cares about.
MAX_DECIMALS = 6


def distinct_decimals(value: float, other: float, decimals: int) -> int:
    """The fewest decimals, at least `decimals`, that show two different numbers differently.

    A measure printed next to its threshold must not read "0.36 / 0.36" when it crossed it.
    """
    while decimals < MAX_DECIMALS and value != other:
        if f"{value:.{decimals}f}" != f"{other:.{decimals}f}":
            break
        decimals += 1
    return decimals


def fmt_value_pair(value: float, other: float) -> tuple[str, str]:
    """Two levels with the same decimals, enough of them to tell the two apart."""
    if math.isnan(value) or math.isnan(other):
        return fmt_value(value), fmt_value(other)
    base = 2 if min(abs(value), abs(other)) >= 10 else 4
    decimals = distinct_decimals(value, other, base)
    return fmt_value(value, decimals), fmt_value(other, decimals)


def fmt_pct_pair(value: float, other: float) -> tuple[str, str]:
    """Two signed percentages with enough decimals to tell the two apart."""
    if math.isnan(value) or math.isnan(other):
        return fmt_pct(value), fmt_pct(other)
    decimals = distinct_decimals(value, other, 1)
    return f"{value:+.{decimals}f}%", f"{other:+.{decimals}f}%"


def fmt_bps_pair(value: float, other: float) -> tuple[str, str]:
    """Two signed basis-point figures with enough decimals to tell the two apart."""
    if math.isnan(value) or math.isnan(other):
        return fmt_bps(value), fmt_bps(other)
    decimals = distinct_decimals(value, other, 0)
    return f"{value:+.{decimals}f} bps", f"{other:+.{decimals}f} bps"
