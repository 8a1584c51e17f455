"""Corruptions of real price files, one function per kind, reusable by any corruption corpus.

Each takes a Yahoo-format CSV (a copy under `tmp_path`, never the shared original) and damages
it in place; `chart_from_csv` serves a CSV's rows through the Yahoo stand-in's wire format.
"""

from __future__ import annotations

import copy
import csv
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.yahoo import DATA, load_chart

NEW_YORK = ZoneInfo("America/New_York")


def cut_sessions(csv_path: Path, start: date, end: date) -> int:
    """Remove every row dated `start`..`end` (a hole of missing sessions); return how many."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    kept = [row for row in body if not row or not start <= date.fromisoformat(row[0][:10]) <= end]
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *kept])
    return len(body) - len(kept)


def keep_between(csv_path: Path, start: date, end: date) -> int:
    """Keep only the rows dated `start`..`end` (a small real file); return how many remain."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    kept = [row for row in rows[1:] if row and start <= date.fromisoformat(row[0][:10]) <= end]
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([rows[0], *kept])
    return len(kept)


def chart_from_csv(csv_path: Path, symbol: str, start: date, end: date) -> dict[str, Any]:
    """A Yahoo v8 chart body (as the stand-in serves it) holding the CSV's rows start..end."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return chart_from_rows(
        [rows[0], *[r for r in rows[1:] if start <= date.fromisoformat(r[0]) <= end]], symbol
    )


def chart_from_rows(rows: list[list[str]], symbol: str) -> dict[str, Any]:
    """A Yahoo v8 chart body of CSV rows (header first, Yahoo's download columns)."""
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    body = copy.deepcopy(load_chart(DATA / "chart-IWB-dividend-2026-06-05-to-2026-06-11.json"))
    result = body["chart"]["result"][0]
    result["meta"]["symbol"] = symbol
    result["timestamp"] = [_open_stamp(date.fromisoformat(r["Date"])) for r in records]
    quote = {key: [_number(r.get(key.title())) for r in records] for key in _QUOTE}
    result["indicators"] = {
        "quote": [quote],
        "adjclose": [{"adjclose": [_number(r["Adj Close"]) for r in records]}],
    }
    result["events"] = {}
    return body


_QUOTE = ("open", "high", "low", "close", "volume")


def _open_stamp(day: date) -> int:
    """Yahoo stamps a daily bar with the session's open, 09:30 New York."""
    return int(datetime.combine(day, time(9, 30), tzinfo=NEW_YORK).timestamp())


def _number(text: str | None) -> float | None:
    return float(text) if text else None
