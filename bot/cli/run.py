"""`rotation-bot run [--replay FROM:TO] [--speed N] [--digest/--no-digest]`: the main job.

Heavy modules (APScheduler, pandas, the chat SDKs) are imported inside the command so that
`rotation-bot --help` stays fast.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Coroutine
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli import app
from bot.cli.common import (
    app_context,
    fail,
    print_error,
    print_problems,
    routing_or_exit,
    rules_or_exit,
)

if TYPE_CHECKING:
    from bot.config import Settings

ReplayOption = Annotated[
    str | None,
    typer.Option(
        "--replay",
        metavar="FROM:TO",
        help="Rehearse sessions FROM..TO (YYYY-MM-DD:YYYY-MM-DD) on cached data, no network.",
    ),
]
SpeedOption = Annotated[
    float,
    typer.Option(
        "--speed",
        min=0,
        help="Replay pace in simulated seconds per real second; 0 = as fast as possible.",
    ),
]

DigestOption = Annotated[
    bool | None,
    typer.Option(
        "--digest/--no-digest",
        help="Post the daily digest. Default: on when live, off in a replay (alerts only).",
        show_default=False,
    ),
]


@app.command()
def run(
    ctx: typer.Context,
    replay: ReplayOption = None,
    speed: SpeedOption = 0.0,
    digest: DigestOption = None,
) -> None:
    """Start the bot: refresh data, evaluate rules on the NYSE schedule, deliver alerts."""
    exit_quietly_on_signals(ctx)
    settings = app_context(ctx).settings
    window = parse_window(replay) if replay is not None else None
    # A replay rehearses alerts: sixty digest panels around a handful of alerts bury them.
    digests = digest if digest is not None else window is None
    if speed and window is None:
        fail("--speed only applies to --replay", code=2)
    if window is not None and not isinstance(settings.db_path, Path):
        fail("--replay works on a copy of a SQLite file; it cannot replay a PostgreSQL URL", 2)
    if window is not None and not settings.db_path.exists():
        fail(f"no database at {settings.db_path}: import or update prices before a replay", 2)
    if window is None:
        check_chat_settings(settings)
    # Open and migrate the database and read the rules here, in the foreground: a bad --db or
    # an invalid rules file stops the start with clear lines, instead of failing every job later.
    app_context(ctx).db.close()
    routing_or_exit(settings, rules_or_exit(settings))  # a route nobody can post to stops it
    raise typer.Exit(serve(settings, window, speed, digests=digests))


def exit_quietly_on_signals(ctx: typer.Context) -> None:
    """Until the service installs its own handlers: SIGINT or SIGTERM exits 0 at once.

    The start-up (imports, migration, rules) does nothing a signal could leave half done:
    each migration is one transaction. Without this, Ctrl-C then printed a traceback. The
    previous handlers come back when the command ends (it may run inside a test process).
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.signal(signum, _exit_now)
        ctx.call_on_close(lambda signum=signum, previous=previous: signal.signal(signum, previous))


def _exit_now(signum: int, frame: object) -> None:
    raise SystemExit(0)


def parse_window(text: str) -> tuple[date, date]:
    """`FROM:TO` as two dates with at least one NYSE session between them; exit 2 if not."""
    from bot import calendar

    first, _, last = text.partition(":")
    try:
        start, end = date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
    except ValueError:
        fail(f"--replay wants FROM:TO as YYYY-MM-DD:YYYY-MM-DD, got {text!r}", code=2)
    if start > end:
        fail(f"--replay FROM {start} is after TO {end}", code=2)
    try:
        sessions = calendar.sessions_between(start, end)
    except calendar.CalendarRangeError as error:
        fail(str(error), code=2)
    if not sessions:
        fail(f"no NYSE session between {start} and {end}", code=2)
    return start, end


def serve(
    settings: Settings, window: tuple[date, date] | None, speed: float, *, digests: bool = True
) -> int:
    """Compose and run the service (live, or a replay on a scratch copy of the database)."""
    from bot.logging_setup import configure_logging

    redact = configure_logging(settings)
    if window is None:
        return _run(settings, settings.db_path, None, speed, redact, digests)
    import tempfile

    from bot.service.jobs import replay_copy

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rotation-replay-") as scratch:
        copy = replay_copy(settings.db_path, Path(scratch) / "replay.db")
        jobs: list[Any] = []
        code = _run(settings, copy, window, speed, redact, digests, keep=jobs)
    typer.echo(replay_summary(window, jobs[0], time.monotonic() - started, digests=digests))
    if code == 0 and jobs[0].sessions_evaluated and not jobs[0].rules_evaluated:
        # "0 alert(s)" would read as "nothing happened", when nothing could happen.
        print_error(
            "no rule was evaluated: every rule was NO DATA or STALE in every session "
            "(is the span past the stored data? `rotation-bot check` shows each rule's data)"
        )
        return 1
    return code


def replay_summary(window: tuple[date, date], jobs: Any, seconds: float, *, digests: bool) -> str:
    """The closing lines of a replay: sessions, alerts per rule, digests, wall time."""
    alerts = jobs.alerts_by_rule
    lines = [
        f"Replay {window[0]}..{window[1]}: {jobs.sessions_evaluated} session(s) replayed, "
        f"{sum(alerts.values())} alert(s), digests {'on' if digests else 'off'}, "
        f"{seconds:.1f} s"
    ]
    width = max((len(rule) for rule in alerts), default=0)
    lines += [f"  {rule:<{width}}  {count}" for rule, count in sorted(alerts.items())]
    return "\n".join(lines)


def _run(
    settings: Settings,
    db_path: Path,
    window: tuple[date, date] | None,
    speed: float,
    redact: Any,
    digests: bool = True,
    keep: list[Any] | None = None,
) -> int:
    from bot.chat.chart_pool import configure_charts
    from bot.service.clock import RealClock, SimulatedClock
    from bot.service.jobs import ServiceJobs
    from bot.service.leader import Leadership
    from bot.service.runner import Service
    from bot.service.schedule import replay_window
    from bot.service.web import set_limits
    from bot.service.web_door import DoorLimits

    set_limits(DoorLimits.from_settings(settings))
    configure_charts(settings.chart_workers or None, settings.charts_per_user)
    jobs = ServiceJobs(settings, db_path, network=window is None, digests=digests)
    if keep is not None:
        keep.append(jobs)  # the replay's summary reads what the jobs counted
    clock = SimulatedClock(replay_window(*window)[0], speed) if window else RealClock()
    observer, extra = _metrics(settings, db_path, clock)
    leadership = Leadership.for_database(db_path, settings.leader_lease_seconds)
    extra += chat_adapters(settings, db_path, replay=window is not None, leadership=leadership)
    extra += _outbox_wakeups(db_path, lambda: service.wake_sender(), replay=window is not None)
    service = Service(
        settings, jobs, db_path=db_path, clock=clock, replay=window,
        observer=observer, redact=redact, extra_tasks=extra, leadership=leadership,
    )  # fmt: skip
    jobs.leads = service.is_leader  # re-notification rounds are the leader's
    try:
        import asyncio

        return asyncio.run(service.run())
    finally:
        jobs.close()


def _outbox_wakeups(
    db_path: Path | str, wake: Any, *, replay: bool
) -> list[Coroutine[Any, Any, None]]:
    """On PostgreSQL, any replica's enqueue wakes this one's sender (polling stays the fallback)."""
    from bot.delivery.wake import wake_on_queued

    return [] if replay else [wake_on_queued(db_path, wake)]


def _metrics(
    settings: Settings, db_path: Path, clock: Any
) -> tuple[Any, list[Coroutine[Any, Any, None]]]:
    if settings.metrics_port is None:
        return None, []
    from bot.service.health import read_health
    from bot.service.metrics import Metrics, MetricsServer

    async def health() -> Any:
        import asyncio

        return await asyncio.to_thread(read_health, db_path, clock.now(), settings)

    metrics = Metrics()
    server = MetricsServer(metrics, health, settings.metrics_host, settings.metrics_port)
    return metrics, [server.serve()]


def check_chat_settings(settings: Settings) -> None:
    """Exit 2 with one `config error:` line per problem when commands are half set up."""
    from bot.platforms import all_platforms, load_ref

    problems = [
        line
        for platform in all_platforms()
        if platform.chat_check and platform.chat_wanted(settings)
        for line in load_ref(platform.chat_check)(settings)
    ]
    print_problems(problems)
    if problems:
        raise typer.Exit(2)


def chat_adapters(
    settings: Settings, db_path: Path, *, replay: bool = False, leadership: Any = None
) -> list[Coroutine[Any, Any, None]]:
    """Long-running chat clients (Discord gateway, Slack app), run until cancelled.

    Posting alerts needs none of them (REST and webhooks); they serve the slash commands and
    the alert buttons. A replay starts none: it rehearses alerts, not the desk's commands.
    Each adapter gets its own command core (its own SQLite connection per worker thread).
    An adapter that must run once per bot (the Discord gateway) runs on the leader only.
    """
    from bot.platforms import all_platforms

    if replay:
        return []
    return [
        _adapter(platform, settings, db_path, leadership)
        for platform in all_platforms()
        if platform.chat_wanted(settings)
    ]


def _adapter(
    platform: Any, settings: Settings, db_path: Path, leadership: Any
) -> Coroutine[Any, Any, None]:
    from bot.platforms import load_ref

    core = _command_core(settings, db_path)
    runner = load_ref(platform.chat_runner)
    if leadership is None or not platform.chat_leader_only(settings):
        return runner(settings, core)
    what = f"the {platform.title} gateway"
    return leadership.while_leading(lambda: runner(settings, core), what)


def _command_core(settings: Settings, db_path: Path) -> Any:
    from bot.chat.core import Commands
    from bot.sources.yahoo import YahooSource  # unknown symbols are fetched on demand

    return Commands.for_path(settings, db_path, source=YahooSource.from_settings(settings))
