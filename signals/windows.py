"""Window names (ytd, 3m, 42d, since:DATE ...) parsed into `Window`: no pandas, so that reading
and validating rules files does not load it (the returns over windows are `signals.measures`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

Basis = Literal["total", "price"]
WindowKind = Literal["ytd", "qtd", "mtd", "months", "sessions", "since"]

_MONTHS = {"1m": 1, "3m": 3, "6m": 6, "1y": 12}
_SESSIONS = re.compile(r"^(\d+)d$")
WINDOW_HELP = "ytd, qtd, mtd, 1m, 3m, 6m, 1y, Nd (N sessions, e.g. 42d) or since:YYYY-MM-DD"


class WindowError(ValueError):
    """A window string that is not one of the supported forms."""


@dataclass(frozen=True)
class Window:
    """A parsed window; `text` is its canonical spelling."""

    kind: WindowKind
    text: str
    count: int = 0  # months for "months", sessions for "sessions"
    since: date | None = None


def parse_window(text: str) -> Window:
    """Parse `ytd`, `qtd`, `mtd`, `1m`, `3m`, `6m`, `1y`, `Nd` or `since:YYYY-MM-DD`."""
    spelled = text.strip().lower()
    if spelled in ("ytd", "qtd", "mtd"):
        return Window(kind=spelled, text=spelled)  # type: ignore[arg-type]
    if spelled in _MONTHS:
        return Window(kind="months", text=spelled, count=_MONTHS[spelled])
    if (match := _SESSIONS.match(spelled)) is not None:
        count = int(match[1])
        if count < 1:
            raise WindowError(f"window {text!r}: the number of sessions must be at least 1")
        return Window(kind="sessions", text=spelled, count=count)
    if spelled.startswith("since:"):
        return Window(kind="since", text=spelled, since=_parse_since(text, spelled[6:]))
    raise WindowError(f"unknown window {text!r}; use {WINDOW_HELP}")


def _parse_since(text: str, day: str) -> date:
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise WindowError(f"window {text!r}: {day!r} is not a date (YYYY-MM-DD)") from None


def basis_column(basis: str) -> str:
    """The price column a return basis reads: total → adj_close, price → close."""
    if basis not in ("total", "price"):
        raise ValueError(f"unknown basis {basis!r}; use total or price")
    return "adj_close" if basis == "total" else "close"
