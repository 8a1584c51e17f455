"""The corruption corpus on both paths and in both modes (issue 19, item 6).

A variant of `corpus_kit.VARIANTS` damages a copy of the real files. It reaches the bot
through one of two paths:

- `file`: `prices import` and `series import` of the CSV files, as a desk downloads them;
- `stand-in`: `prices update` through the Yahoo stand-in (the real yfinance) and `series
  update` through the FRED stand-in, serving the same rows in the platforms' wire formats;

and is judged in one of two modes:

- `hindsight`: every row stored, then `backtest` of the default rules (plus `EXTRA_RULES`);
- `live`: the cache primed with the clean rows up to the evening before the damage, then one
  session at a time the rows up to that evening are delivered and `check` runs (announced
  events with the evening they were announced on).

`compare` counts, against the same path and mode on the clean files: false alerts, real events
missed, and real events moved (alerted, but later than in the clean run, by how many sessions).
A real event one session late counts as moved, never as on time.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result
from yfinance.data import YfData

from bot.calendar import NEW_YORK, sessions_between
from bot.cli import _register_commands, app
from tests.bot.corpus_kit import EXTRA_RULES, MACRO, Variant, clean_copy
from tests.corruptions import chart_from_rows
from tests.fakes.fred import FakeFred, serve_fred
from tests.fakes.yahoo import FakeYahoo, reset_yfinance

Event = tuple[str, str, str]  # rule id, kind, event date
Announced = dict[Event, str]  # event -> the evening it was announced (its date in hindsight)
PATHS = ("file", "stand-in")
MODES = ("hindsight", "live")
# Live runs deliver the sessions from the first damaged one to this many after the last
# (at most MAX_SESSIONS evenings); the suite passes fewer.
AFTER = 3
MAX_SESSIONS = 10
MOVE_LIMIT = 10  # a real event alerted later than this many sessions counts as missed
HISTORY_START = "1987-01-01"
MACRO_SERIES = ("DFEDTARU", "DFEDTARL", "DGS3MO", "DGS10")


@dataclass
class Tally:
    """One variant on one path in one mode, against the clean run of the same."""

    false: list[Event] = field(default_factory=list)
    missed: list[Event] = field(default_factory=list)
    moved: list[tuple[Event, int]] = field(default_factory=list)  # (clean event, sessions late)
    tracebacks: int = 0
    refused: str = ""  # the refusal's line, when the bad data was refused whole
    skipped: str = ""  # why this path or mode does not apply
    clean: int = 0  # real events the clean run has in the same span

    def line(self) -> str:
        if self.skipped:
            return f"n/a ({self.skipped})"
        if self.refused and not (self.false or self.missed or self.moved):
            return f"refused ({self.refused[:60]})"
        late = ",".join(str(n) for _, n in self.moved)
        moved = f"{len(self.moved)}" + (f" (+{late})" if late else "")
        counts = f"false {len(self.false)}  missed {len(self.missed)}  moved {moved}"
        return f"{counts}  tracebacks {self.tracebacks}  (of {self.clean} real)"


def compare(events: Announced, clean: Announced) -> Tally:
    """False, missed and moved events of `events` against the `clean` run."""
    tally = Tally(clean=len(clean))
    left = dict(events)
    for event in sorted(clean, key=lambda e: e[2]):
        match = _match(event, clean, left)
        if match is None:
            tally.missed.append(event)
            continue
        late = max(_sessions(event[2], match[2]), _sessions(clean[event], left.pop(match)))
        if late:
            tally.moved.append((event, late))
    tally.false = sorted(left)
    return tally


def _match(event: Event, clean: Announced, left: Announced) -> Event | None:
    """The same event, or the same rule and kind dated later (before the clean run's next)."""
    if event in left:
        return event
    rule, kind, day = event
    later = [e[2] for e in clean if e[:2] == (rule, kind) and e[2] > day]
    until = min(later, default="9999")
    found = sorted(e for e in left if e[:2] == (rule, kind) and day < e[2] < until)
    if found and _sessions(day, found[0][2]) <= MOVE_LIMIT:
        return found[0]
    return None


def _sessions(first: str, then: str) -> int:
    """NYSE sessions from `first` to `then` (0 when the same or earlier)."""
    if then <= first:
        return 0
    return len(sessions_between(date.fromisoformat(first), date.fromisoformat(then))) - 1


# -- running the CLI ---------------------------------------------------------------------------


def invoke(db_path: Path, env: dict[str, str], *args: str) -> Result:
    _register_commands()
    return CliRunner().invoke(app, ["--db", str(db_path), *args], env=env)


def copy_db(source: Path, target: Path) -> None:
    """A copy of a SQLite file with what its write-ahead log holds (a file copy may lose it)."""
    with closing(sqlite3.connect(source)) as old, closing(sqlite3.connect(target)) as new:
        old.backup(new)


def crashed(result: Result) -> bool:
    """A traceback: an exception other than the CLI's own exit."""
    return result.exception is not None and not isinstance(result.exception, SystemExit)


def backtest_events(db_path: Path, env: dict[str, str]) -> tuple[Announced, bool]:
    result = invoke(db_path, env, "backtest", "--json")
    if crashed(result):
        return {}, True
    rules = json.loads(result.stdout)["rules"]
    events = {(r["id"], e["kind"], e["date"]) for r in rules for e in r["events"]}
    return {e: e[2] for e in events}, False


def check_events(db_path: Path, env: dict[str, str], evening: str) -> tuple[Announced, bool]:
    result = invoke(db_path, env, "check", "--json")
    if crashed(result):
        return {}, True
    found = json.loads(result.stdout)["new_events"]
    return {(e["rule_id"], e["kind"], e["date"]): evening for e in found}, False


# -- the files of a run --------------------------------------------------------------------------


def files_of(root: Path) -> list[Path]:
    return sorted([*root.glob("prices/*.csv"), *root.glob("macro/*.csv")])


def rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return [row for row in csv.reader(handle) if row]


def changed_dates(clean: Path, copy: Path) -> list[str]:
    """Dates of rows the variant changed, added or removed, in any file."""
    days: set[str] = set()
    for path in files_of(copy):
        mine = {tuple(r) for r in rows_of(path)[1:]}
        theirs = {tuple(r) for r in rows_of(clean / path.relative_to(copy))[1:]}
        days |= {r[0] for r in mine ^ theirs}
    return sorted(days)


def cut_copy(source: Path, target: Path, last: str, first: str = "") -> Path:
    """Every file of `source` with only the rows dated `first`..`last`."""
    shutil.rmtree(target, ignore_errors=True)
    for path in files_of(source):
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = rows_of(path)
        kept = [rows[0], *[r for r in rows[1:] if first <= r[0] <= last]]
        if len(kept) == 1:
            continue  # nothing in the range: no file (as a download with no new rows)
        with out.open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(kept)
    return target


def drop_unchanged(copy: Path, clean: Path) -> None:
    """Keep only the files the variant changed (a re-import of what was downloaded again)."""
    for path in files_of(copy):
        if path.read_bytes() == (clean / path.relative_to(copy)).read_bytes():
            path.unlink()


def heal(copy: Path, clean: Path, days: list[str]) -> None:
    """Put the clean rows of `days` back (a provisional bar replaced by the final one)."""
    for path in files_of(copy):
        theirs = {r[0]: r for r in rows_of(clean / path.relative_to(copy))[1:]}
        rows = rows_of(path)
        body = [theirs.get(r[0], r) if r[0] in days else r for r in rows[1:]]
        with path.open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows([rows[0], *body])


# -- the two paths -----------------------------------------------------------------------------


class FilePath:
    """`prices import` and `series import` of CSV files."""

    name = "file"

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def deliver(self, root: Path, db_path: Path, partial_day: str = "") -> Result | None:
        """Import the files under `root`; the first failing result (or the last one)."""
        result = None
        if any((root / "prices").glob("*.csv")):
            result = invoke(db_path, self.env, "prices", "import", str(root / "prices"))
            if result.exit_code != 0:
                return result
        macro = root / "macro" / MACRO
        if macro.exists():
            result = invoke(db_path, self.env, "series", "import", str(macro))
        return result


class StandInPath:
    """`prices update` through the Yahoo stand-in, `series update` through the FRED one."""

    name = "stand-in"

    def __init__(self, env: dict[str, str], yahoo: FakeYahoo, fred: FakeFred) -> None:
        self.env = {
            **env,
            "ROTATION_YAHOO_URL": yahoo.base_url,
            "FRED_CSV_URL": fred.url,
            "FRED_SERIES": ",".join(MACRO_SERIES),
            "ROTATION_HISTORY_START": HISTORY_START,
        }
        self.yahoo, self.fred = yahoo, fred

    def deliver(self, root: Path, db_path: Path, partial_day: str = "") -> Result | None:
        """Serve the files under `root` (every row), then update prices and series."""
        ends: dict[str, list[str]] = {}  # symbols by their last date
        for csv_path in sorted((root / "prices").glob("*.csv")):
            rows = rows_of(csv_path)
            if len(rows) > 1:
                body = chart_from_rows(rows, csv_path.stem)
                _stamp_snapshot(body, rows[-1][0], partial=rows[-1][0] == partial_day)
                self.yahoo.add_chart(body)
                ends.setdefault(rows[-1][0], []).append(csv_path.stem)
        # One update per last date: one call refuses a symbol whose bars stop before the
        # others' (a partial answer), and the shared files do end on different dates.
        results = [self._update(db_path, ends[d]) for d in sorted(ends)]
        macro = root / "macro" / MACRO
        if macro.exists():
            self.fred.series = _fred_series(rows_of(macro))
            results.append(invoke(db_path, self.env, "series", "update"))
        failed = [r for r in results if crashed(r)] or [r for r in results if r.exit_code != 0]
        return failed[0] if failed else (results[-1] if results else None)

    def _update(self, db_path: Path, symbols: list[str]) -> Result:
        # yfinance memoises answers per URL in the process: a fresh one for every update,
        # as every `prices update` of a desk is a fresh process.
        YfData.cache_get.cache_clear()
        return invoke(db_path, self.env, "prices", "update", *symbols)


def _stamp_snapshot(body: dict[str, Any], last: str, partial: bool) -> None:
    """Yahoo's meta says when the answer was taken: 14:05 for a partial session, else the close."""
    taken = time(14, 5) if partial else time(16, 0)
    moment = datetime.combine(date.fromisoformat(last), taken, tzinfo=NEW_YORK)
    body["chart"]["result"][0]["meta"]["regularMarketTime"] = int(moment.timestamp())


def _fred_series(rows: list[list[str]]) -> dict[str, list[tuple[str, str]]]:
    """The macro file's columns as FRED serves them (`.` where the file has no value)."""
    header = rows[0]
    series: dict[str, list[tuple[str, str]]] = {}
    for name in MACRO_SERIES:
        i = header.index(name)
        series[name] = [(r[0], r[i] or ".") for r in rows[1:] if r[0] >= HISTORY_START]
    return series


@contextmanager
def stand_ins() -> Iterator[tuple[FakeYahoo, FakeFred]]:
    """The Yahoo and FRED stand-ins, yfinance reset, for a whole run."""
    with pytest.MonkeyPatch.context() as patch:
        reset_yfinance(patch)
        with FakeYahoo() as yahoo, serve_fred() as fred:
            yield yahoo, fred


# -- the matrix --------------------------------------------------------------------------------


class Corpus:
    """The clean copy, its runs per path and mode (cached), and each variant's runs."""

    def __init__(
        self,
        shared: Path,
        folder: Path,
        stand_ins: tuple[FakeYahoo, FakeFred],
        since: str = "",
        evenings: tuple[int, int] = (AFTER, MAX_SESSIONS),
    ) -> None:
        """`since`: keep only the rows from that date; `evenings`: (after the damage, at most)."""
        self.folder = folder
        self.after, self.max_sessions = evenings
        self.root = clean_copy(shared, folder / "clean")
        if since:
            cut_copy(self.root, folder / "since", "9999", since)
            shutil.rmtree(self.root)
            (folder / "since").rename(self.root)
        (self.root / "corpus-rules.toml").write_text(EXTRA_RULES)
        env = self.env()
        self.paths = {"file": FilePath(env), "stand-in": StandInPath(env, *stand_ins)}
        self.every = [r[0] for r in rows_of(self.root / "prices" / "^RUT.csv")[1:]]
        self._cache: dict[tuple, Any] = {}

    def env(self) -> dict[str, str]:
        return {
            "ROTATION_RULES": str(self.root / "corpus-rules.toml"),
            "ROTATION_FETCH_RETRIES": "0",
            "FRENCH_5X5_URL": "off",
        }

    def run(self, variant: Variant, path: str, mode: str, work: Path) -> Tally:
        copy = work / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(self.root, copy, ignore=shutil.ignore_patterns("*.db*", "*.toml"))
        variant.corrupt(copy)
        days = changed_dates(self.root, copy)
        if mode == "hindsight":
            return self._hindsight(variant, self.paths[path], copy, days, work)
        return self._live(variant, self.paths[path], copy, days, work)

    # hindsight: the damaged rows stored over a cache, then a backtest of everything

    def _hindsight(
        self, variant: Variant, way: Any, copy: Path, days: list[str], work: Path
    ) -> Tally:
        base, clean = self._hindsight_base(variant, way, days)
        db_path = work / "hindsight.db"
        db_path.unlink(missing_ok=True)
        if base is not None:
            copy_db(base, db_path)
            if way.name == "file":
                drop_unchanged(copy, self.root)
        partial = max(days) if variant.transient else ""
        first = cut_copy(copy, work / "first", partial) if partial else copy
        result = way.deliver(first, db_path, partial_day=partial)
        if result is not None and crashed(result):
            return Tally(tracebacks=1)
        if result is not None and result.exit_code != 0:  # refused with its one-line reason
            return Tally(refused=_last_line(result))
        if partial:  # the final bars arrive the next evening
            heal(copy, self.root, days)
            way.deliver(copy, db_path)
        events, broke = backtest_events(db_path, way.env)
        tally = compare(events, clean)
        tally.tracebacks = int(broke)
        return tally

    def _hindsight_base(
        self, variant: Variant, way: Any, days: list[str]
    ) -> tuple[Path | None, Announced]:
        """The cache the damage arrives on, and the clean backtest of the same delivery.

        Files are imported over the whole clean cache (a re-import); the stand-ins serve the
        damaged rows to a cache updated up to the evening before them (an update only fetches
        what is new), or to an empty cache when the damage starts with the history.
        """
        if way.name == "file":
            key = ("full", way.name)
            if key not in self._cache:
                db_path = self.folder / "full-file.db"
                assert way.deliver(self.root, db_path).exit_code == 0
                self._cache[key] = db_path, backtest_events(db_path, way.env)[0]
            full, clean = self._cache[key]
            return (None if variant.fresh else full), clean
        at = next((i for i, d in enumerate(self.every) if d >= days[0]), len(self.every))
        before = self.every[at - 1] if at >= 30 else ""
        key = ("hindsight", way.name, before)
        if key not in self._cache:
            db_path = self.folder / f"hindsight-clean-{before}.db"
            if before:
                copy_db(self._primed_before(way, before), db_path)
            way.deliver(self.root, db_path)
            self._cache[key] = backtest_events(db_path, way.env)[0]
        return (self._primed_before(way, before) if before else None), self._cache[key]

    # live: primed up to the evening before, then one evening at a time

    def live_days(self, variant: Variant, days: list[str]) -> list[str]:
        first = variant.live_from or days[0]
        start = next(i for i, d in enumerate(self.every) if d >= first)
        last = next((i for i, d in enumerate(self.every) if d >= days[-1]), len(self.every) - 1)
        end = min(max(last, start) + self.after, start + self.max_sessions - 1)
        return self.every[start : end + 1]

    def _primed_before(self, way: Any, before: str) -> Path:
        key = ("before", way.name, before)
        if key not in self._cache:
            db_path = self.folder / f"before-{way.name}-{before}.db"
            cut = cut_copy(self.root, self.folder / "cut-before", before)
            assert not crashed(way.deliver(cut, db_path))
            invoke(db_path, way.env, "check", "--json")  # primes every rule
            self._cache[key] = db_path
        return self._cache[key]

    def _evenings(self, way: Any, source: Path, days: list[str], work: Path, partial: list[str]):
        """(announced events, tracebacks, refusal) of delivering `source` evening by evening."""
        before = self.every[self.every.index(days[0]) - 1]
        db_path = work / "live.db"
        copy_db(self._primed_before(way, before), db_path)
        found: Announced = {}
        tracebacks, refused = 0, ""
        for day in days:
            evening = cut_copy(source, work / "evening", day, self._overlap_start(days[0]))
            if day in partial:
                heal(evening, self.root, [d for d in partial if d < day])
            else:
                heal(evening, self.root, partial)
            result = way.deliver(evening, db_path, partial_day=day if day in partial else "")
            tracebacks += int(result is not None and crashed(result))
            if result is not None and result.exit_code != 0 and not refused:
                refused = _last_line(result)
            events, broke = check_events(db_path, way.env, day)
            tracebacks += int(broke)
            found.update({e: d for e, d in events.items() if e not in found})
        return found, tracebacks, refused

    def _overlap_start(self, first: str) -> str:
        """A daily download carries a few sessions before the evening (the overlap)."""
        return self.every[max(self.every.index(first) - 5, 0)]

    def _live(self, variant: Variant, way: Any, copy: Path, days: list[str], work: Path) -> Tally:
        if (variant.live_from or days[0]) > self.every[-1]:
            return Tally(skipped="damage after the last session of the data")
        evenings = self.live_days(variant, days)
        if self.every.index(evenings[0]) < 30:
            return Tally(skipped="damage from the first rows: no evening before it")
        key = ("live", way.name, tuple(evenings))
        if key not in self._cache:
            self._cache[key] = self._evenings(way, self.root, evenings, work, [])[0]
        partial = days if variant.transient else []
        events, tracebacks, refused = self._evenings(way, copy, evenings, work, partial)
        tally = compare(events, self._cache[key])
        tally.tracebacks, tally.refused = tracebacks, refused
        return tally


def _last_line(result: Result) -> str:
    text = (result.stderr or result.output).strip().splitlines()
    return text[-1] if text else f"exit {result.exit_code}"
