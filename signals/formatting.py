"""Number formats shared by event titles, fields and check summaries."""

from __future__ import annotations

import math


def fmt_pct(value: float, *, signed: bool = True) -> str:
    """12.41 → '+12.4%' (the value is already in percent)."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


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


def fmt_value(value: float) -> str:
    """A level: 2517.3 → '2,517.30', 0.35123 → '0.3512'."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.2f}" if abs(value) >= 10 else f"{value:,.4f}"
