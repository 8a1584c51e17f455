"""One health model for `rotation-bot status`, the `/status` chat command and `/healthz`.

Health is read from SQLite only (prices, service runs, heartbeat, outbox), so the CLI can
report on a service running in another process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import calendar
from bot.logging_setup import Redactor, secret_values
from storage import prices, replicas, rewinds, series, service_state
from storage.db import Store, open_db
from storage.outbox_health import count_by_status, destination_pauses
from storage.stamps import short_time

if TYPE_CHECKING:
    from bot.config import Settings

# The service writes its heartbeat every 30 s; three missed beats mean it is not running.
HEARTBEAT_STALE = timedelta(seconds=90)
# Replicas refresh their registry row every 5 s; three missed beats mean it is gone.
REPLICA_GONE = timedelta(seconds=15)


@dataclass(frozen=True)
class SymbolHealth:
    """Freshness of one cached symbol against the last completed NYSE session."""

    symbol: str
    last_final_date: date | None
    last_date: date | None
    sessions_behind: int
    fetched_at: str | None

    @property
    def stale(self) -> bool:
        """True when final bars are missing for a completed session."""
        return self.sessions_behind > 0


@dataclass(frozen=True)
class Health:
    """Everything `status` reports; `problems` empty means healthy."""

    checked_at: datetime
    expected_session: date
    symbols: list[SymbolHealth]
    last_evaluation: dict[str, Any] | None
    last_evaluated_session: date | None
    service: dict[str, str]
    service_running: bool
    outbox: dict[str, int] | None
    problems: list[str] = field(default_factory=list)
    # Bars and points held back by the data-quality checks until confirmed (or a person decides)
    suspect: list[dict[str, Any]] = field(default_factory=list)
    # `rotation-bot run` processes on this database (several on PostgreSQL), leader first
    replicas: list[dict[str, Any]] = field(default_factory=list)
    # Destinations paused by an outage: their alerts wait, one probe at a time
    paused: list[dict[str, Any]] = field(default_factory=list)
    # Resolved bars a stored rule state read past: the next check steps those rules again
    rewinds_pending: int = 0

    @property
    def leader(self) -> dict[str, Any] | None:
        """The replica that leads now (runs the schedule), or None."""
        return next((r for r in self.replicas if r["state"] == "leader"), None)

    @property
    def ok(self) -> bool:
        """True when there is nothing to fix."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the `status --json` shape)."""
        data = asdict(self)
        data["status"] = "ok" if self.ok else "degraded"
        data["symbols"] = [{**asdict(s), "stale": s.stale} for s in self.symbols]
        data["leader"] = self.leader["id"] if self.leader else None
        return data


def collect_health(db: Store, now: datetime, settings: Settings) -> Health:
    """Read the health of data, evaluations, the service and the outbox at `now`."""
    expected = calendar.last_completed_session(now)
    symbols = [_symbol_health(row, expected) for row in prices.freshness(db)]
    state = service_state.get_state(db)
    health = Health(
        checked_at=now,
        expected_session=expected,
        symbols=symbols,
        last_evaluation=service_state.last_run(db, "evaluate", outcome=None),
        last_evaluated_session=service_state.last_evaluated_session(db),
        service=state,
        service_running=_running(state, now),
        outbox=count_by_status(db),
        suspect=suspect_data(db),
        replicas=replica_states(_registered(db), now),
        paused=paused_destinations(db, settings),
        rewinds_pending=rewinds.count_pending(db),
    )
    health.problems.extend(find_problems(health, now, settings))
    return health


def paused_destinations(db: Store, settings: Settings) -> list[dict[str, Any]]:
    """Destinations failing now: since when, how many failed tries, the next probe, why.

    The error is shown in chat by `/status`: any secret in it (a webhook URL's token) is
    redacted as in the logs.
    """
    redact = Redactor(secret_values(settings))
    pauses = sorted(destination_pauses(db).values(), key=lambda p: p.failing_since)
    return [
        {
            "destination": p.destination,
            "failures": p.failures,
            "failing_since": p.failing_since.isoformat(),
            "next_probe": p.probe_at.isoformat(),
            "last_error": redact(p.last_error),
        }
        for p in pauses
    ]


def suspect_data(db: Store) -> list[dict[str, Any]]:
    """Every suspect bar and point: name, date, value and why (oldest first)."""
    bars = [
        {
            "symbol": r["symbol"],
            "date": r["date"],
            "value": r["adj_close"] or r["close"],
            "note": r["quality_note"],
        }
        for r in prices.flagged_bars(db, ["suspect"])
    ]
    points = [
        {
            "symbol": r["series_id"],
            "date": r["date"],
            "value": r["value"],
            "note": r["quality_note"],
        }
        for r in series.flagged_points(db, ["suspect"])
    ]
    return sorted(bars + points, key=lambda row: (row["date"], row["symbol"]))


def _registered(db: Store) -> list[dict[str, Any]]:
    """The replica rows worth showing. SQLite runs one process: the rows of its earlier runs
    are history (one `stopped` row per restart), so only the latest start is shown."""
    rows = replicas.list_replicas(db)
    if rows and all(row.get("engine") == "sqlite" for row in rows):
        return rows[:1]  # the most recently started
    return rows


def replica_states(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Registry rows with a `state`: leader, follower, stopped or gone; the leader first.

    Only one row is the leader: the live one that took the lease last (a hung former leader
    still says `leader` until it wakes, but it is gone by then).
    """
    states = [{**row, "state": _replica_state(row, now)} for row in rows]
    claims = [r for r in states if r["state"] == "leader"]
    claims.sort(key=lambda r: str(r.get("leader_since") or ""), reverse=True)
    for row in claims[1:]:
        row["state"] = "follower"
    return sorted(states, key=lambda r: (r["state"] != "leader", r["state"] == "gone"))


def _replica_state(row: dict[str, Any], now: datetime) -> str:
    if row["role"] == "stopped":
        return "stopped"
    if now - datetime.fromisoformat(str(row["last_seen"])) > REPLICA_GONE:
        return "gone"
    return str(row["role"])


def read_health(path: Path, now: datetime, settings: Settings) -> Health:
    """`collect_health` on its own connection (safe from any thread)."""
    db = open_db(path, migrate=False)
    try:
        return collect_health(db, now, settings)
    finally:
        db.close()


def _symbol_health(row: dict[str, object], expected: date) -> SymbolHealth:
    last_final = _date(row.get("last_final_date"))
    behind = 0
    if last_final is None:
        behind = 1
    elif last_final < expected:
        behind = len(calendar.sessions_between(last_final + timedelta(days=1), expected))
    return SymbolHealth(
        symbol=str(row["symbol"]),
        last_final_date=last_final,
        last_date=_date(row.get("last_date")),
        sessions_behind=behind,
        fetched_at=str(row["fetched_at"]) if row.get("fetched_at") else None,
    )


def _date(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _running(state: dict[str, str], now: datetime) -> bool:
    beat = max(state.get("heartbeat", ""), state.get("started_at", ""))
    if not beat or state.get("stopped_at", "") >= beat:
        return False
    return now - datetime.fromisoformat(beat) <= HEARTBEAT_STALE


def find_problems(health: Health, now: datetime, settings: Settings) -> list[str]:
    """Human-readable problems, one line each."""
    problems = []
    if not health.symbols:
        problems.append("no price data cached (run rotation-bot prices update)")
    stale = [s for s in health.symbols if s.stale]
    if stale:
        names = ", ".join(f"{s.symbol} ({s.sessions_behind} behind)" for s in stale[:8])
        more = f" and {len(stale) - 8} more" if len(stale) > 8 else ""
        problems.append(f"stale data for {health.expected_session}: {names}{more}")
    due = calendar.last_completed_session(now, timedelta(minutes=settings.close_delay_minutes))
    evaluated = health.last_evaluated_session
    if evaluated is None or evaluated < due:
        problems.append(f"session {due} not evaluated yet (last: {evaluated or 'never'})")
    last = health.last_evaluation or {}
    if last.get("outcome") == "stale":  # it ran, and evaluated nothing: not an ok run
        problems.append(f"evaluation of {last['session']} stale: {last['detail']}")
    if not health.service_running:
        problems.append("service not running (no recent heartbeat)")
    live = [r for r in health.replicas if r["state"] in ("leader", "follower")]
    if live and health.leader is None:
        problems.append("no replica leads: nothing evaluates until one takes the lease")
    stuck = [r for r in live if r.get("stalled")]
    for row in stuck:
        role = "leader" if row["state"] == "leader" else "replica"
        problems.append(f"{role} {row['id']} is stuck {row['stalled']}")
    for pause in health.paused:
        since = short_time(pause["failing_since"])
        problems.append(
            f"{pause['destination']} failing since {since} ({pause['failures']} tries; next "
            f"{short_time(pause['next_probe'])}): {pause['last_error']}; its alerts wait"
        )
    if health.outbox and health.outbox["dead"]:
        problems.append(f"{health.outbox['dead']} dead deliveries (see rotation-bot outbox)")
    return problems + lasting_suspects(health)


def render_lines(health: Health) -> list[str]:
    """Plain-text report, one fact per line (the CLI and `/status` format from this)."""
    lines = [f"status: {'ok' if health.ok else 'degraded'}"]
    lines += [f"  problem: {problem}" for problem in health.problems]
    lines.append(f"expected session: {health.expected_session}")
    last = health.last_evaluation
    when = f"{last['finished_at']} ({last['outcome']})" if last else "never"
    lines.append(f"last evaluation: {health.last_evaluated_session or 'none'}, run {when}")
    running = "running" if health.service_running else "not running"
    lines.append(f"service: {running}, heartbeat {health.service.get('heartbeat', 'none')}")
    lines += replica_lines(health)
    if health.outbox is None:
        lines.append("outbox: not created yet")
    else:
        lines.append("outbox: " + ", ".join(f"{k} {v}" for k, v in health.outbox.items()))
    for symbol in health.symbols:
        behind = f"{symbol.sessions_behind} behind" if symbol.stale else "fresh"
        lines.append(f"  {symbol.symbol:<8} {symbol.last_final_date or '-'}  {behind}")
    if health.rewinds_pending:
        lines.append(
            f"rewinds pending: {health.rewinds_pending} (bars resolved after rules read past "
            "them; the next check steps those rules again)"
        )
    if health.suspect:
        lines.append(f"suspect, held back until confirmed: {len(health.suspect)}")
    for run in suspect_runs(health.suspect):
        days = run["first"] if run["bars"] == 1 else f"{run['first']} → {run['last']}"
        count = "" if run["bars"] == 1 else f" ({run['bars']} bars)"
        lines.append(f"  {run['symbol']:<8} {days}{count}  {run['note']}")
    return lines


def suspect_runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Suspect bars grouped per symbol and note: a level held for months is one line. The
    second source's reading added to a held bar's note differs per day: grouped without it,
    the run shows its latest bar's."""
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        note = str(row["note"])
        key = (str(row["symbol"]), _own_note(note))
        run = runs.setdefault(key, {"symbol": key[0], "first": row["date"]})
        run["note"], run["last"], run["bars"] = note, row["date"], run.get("bars", 0) + 1
    return sorted(runs.values(), key=lambda run: (run["first"], run["symbol"]))


def _own_note(note: str) -> str:
    """A held bar's note without the second source's reading (bot/sources/second_source.py);
    a note that is the second source's alone stays whole (each day its own line)."""
    return note if note.startswith("second source ") else note.split("; second source ")[0]


def lasting_suspects(health: Health) -> list[str]:
    """A problem line per level held for more than one session: a person should look."""
    return [
        f"{run['symbol']} held as suspect since {run['first']} ({run['bars']} bars): a level "
        f"its linked instruments do not share; if it is real: rotation-bot prices accept "
        f"{run['symbol']} {run['first']}"
        for run in suspect_runs(health.suspect)
        if run["bars"] > 1
    ]


def replica_lines(health: Health) -> list[str]:
    """`replicas: 3 (leader host:pid since ...)` then one line per replica."""
    if not health.replicas:
        return []
    leader = health.leader
    leads = f"leader {leader['id']} since {leader['leader_since']}" if leader else "no leader"
    lines = [f"replicas: {len(health.replicas)} ({leads})"]
    for row in health.replicas:
        lines.append(
            f"  {row['id']:<24} {row['state']:<8} last seen {row['last_seen']}"
            f"  started {row['started_at']}  v{row['version']}"
            + (f"  stuck {row['stalled']}" if row.get("stalled") else "")
        )
    return lines
