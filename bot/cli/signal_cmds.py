"""`rotation-bot spread` and `check`: the signal engine from the command line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.control import strip_control_codes
from rich.table import Table

from bot.cli import app
from bot.cli.common import (
    app_context,
    console,
    describe_unknown,
    err_console,
    fail,
    id_table_column,
    print_error,
    print_json,
    print_table,
    routing_or_exit,
    rules_or_exit,
    say_when_nothing_evaluated,
)

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.delivery.sender import DeliveryPolicy
    from bot.service.evaluation import CheckReport, RuleCheck
    from signals.models import Evaluation, MarketData, SpreadReport
    from signals.rules import Rule

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="Date YYYY-MM-DD (default: latest).")]
# A date this far past a leg's last bar is "outside the data", not a weekend or holiday.
MAX_GAP = timedelta(days=7)


def parse_day(text: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value, or one clear error line and exit 2 (a usage error)."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date (YYYY-MM-DD)", 2)


def normalize(name: str) -> str:
    """Tickers are stored upper case; series ids with a prefix (pe:IWM) are kept as typed."""
    return name.strip() if ":" in name else name.strip().upper()


@app.command("spread")
def spread_cmd(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="First symbol (e.g. IWC).")],
    b: Annotated[str, typer.Argument(help="Second symbol (e.g. OEF).")],
    window: Annotated[
        str, typer.Option("--window", "-w", help="ytd qtd mtd 1m 3m 6m 1y Nd since:DATE")
    ] = "ytd",
    as_of: AsOf = None,
    basis: Annotated[
        str, typer.Option("--basis", help="total (Adj Close) or price (Close).")
    ] = "total",
    as_json: JsonFlag = False,
) -> None:
    """A's return minus B's over a window: each return, the spread in bps, the dates used."""
    from bot.service.evaluation import expected_last_session
    from signals.legs import DataError
    from signals.measures import WindowError, spread
    from signals.models import MarketData
    from storage.prices import cached_symbols, load_prices
    from storage.series import load_series, series_ids

    day = parse_day(as_of, "--as-of")
    if basis not in ("total", "price"):
        fail(f"--basis: {basis!r} is not total or price", 2)
    db = app_context(ctx).db
    names = [normalize(a), normalize(b)]
    market = MarketData(prices=load_prices(db, names), series=load_series(db, names))
    _ensure_known(market, names, [*cached_symbols(db), *series_ids(db)])
    try:
        report = spread(market, names[0], names[1], window, day, basis)  # type: ignore[arg-type]
    except (DataError, WindowError) as error:
        fail(str(error))
    _check_inside(report, day)
    if as_json:
        print_json(spread_json(report))
        return
    # With --as-of the figure is what the user asked for; without, it should be today's.
    _print_spread(report, None if day is not None else expected_last_session(datetime.now(UTC)))


def _ensure_known(market: MarketData, names: list[str], known: list[str]) -> None:
    """Fail on the first leg with nothing stored, naming the stored names it looks like."""
    for name in names:
        if name not in market.prices and name not in market.series:
            fail(describe_unknown(f"unknown symbol or series {name!r}", name, known))


def _check_inside(report: SpreadReport, day: date | None) -> None:
    for leg in (report.a, report.b):
        if day is not None and day - leg.end > MAX_GAP:
            fail(f"{leg.name}: no data after {leg.end} (asked for {day})")


def spread_json(report: SpreadReport) -> dict[str, Any]:
    """The JSON shape of `spread --json`."""
    legs = {
        key: {
            "symbol": leg.name,
            "start": leg.start,
            "end": leg.end,
            "start_value": leg.start_value,
            "end_value": leg.end_value,
            "return_pct": leg.pct,
        }
        for key, leg in (("a", report.a), ("b", report.b))
    }
    return {
        **legs,
        "window": report.window,
        "basis": report.basis,
        "as_of": report.as_of,
        "spread_pp": report.spread_pp,
        "spread_bps": report.spread_bps,
    }


def _print_spread(report: SpreadReport, expected: date | None) -> None:
    from signals.formatting import fmt_pct

    table = Table(
        box=box.SIMPLE, title=f"{report.window} {report.basis} return, as of {report.as_of}"
    )
    for column in ("symbol", "from", "to", "return"):
        table.add_column(column, justify="right" if column == "return" else "left")
    for leg in (report.a, report.b):
        end = f"{leg.end} STALE" if expected is not None and leg.end < expected else str(leg.end)
        table.add_row(leg.name, str(leg.start), end, fmt_pct(leg.pct, signed=True))
    print_table(table)
    names = f"{report.a.name} - {report.b.name}"
    figure = f"spread {names}: {report.spread_pp:+.2f} pp = {report.spread_bps:+.0f} bps"
    console.print(figure + _stale_note(report, expected), markup=False, highlight=False)


def _stale_note(report: SpreadReport, expected: date | None) -> str:
    """` (STALE: data to DATE, expected DATE)` when a leg ends before the expected session."""
    end = min(report.a.end, report.b.end)
    if expected is None or end >= expected:
        return ""
    return f" (STALE: data to {end}, expected {expected})"


DeliverFlag = Annotated[
    bool,
    typer.Option("--deliver", help="Queue the new alerts in the outbox and deliver them once."),
]


@app.command("check")
def check_cmd(
    ctx: typer.Context, as_of: AsOf = None, as_json: JsonFlag = False, deliver: DeliverFlag = False
) -> None:
    """Evaluate every rule now: state, current measure, threshold, last event, new events.

    Without --as-of the states and new events are saved (as the service does) and the new
    alerts are queued as owed: the next delivering pass (--deliver, or the service) posts
    them. With --as-of it is a dry run showing what the check would have said on that date.
    """
    from bot.service.evaluation import check_rules, load_market
    from bot.service.schedule import alert_cutoff

    day = parse_day(as_of, "--as-of")
    if deliver and day is not None:
        fail("--deliver cannot be combined with --as-of (a dry run records no alerts)", 2)
    db = app_context(ctx).db
    rules = rules_or_exit(app_context(ctx).settings, db=db)
    # A saving check loads the market itself, only if some rule's stored evaluation no longer
    # holds (a check with no new bar loads no price); a dry run and --deliver need it here.
    market = load_market(db, rules) if day is not None or deliver else None
    if market is not None and day is not None:
        check_range(market, day, day, ("--as-of", "--as-of"))
    now = datetime.now(UTC)
    owe_from = alert_cutoff(now, app_context(ctx).settings.catchup_alert_days)
    report = check_rules(
        db, rules, as_of=day, persist=day is None, now=now, market=market, owe_from=owe_from
    )
    delivered = None
    if deliver and market is not None:
        delivered = _deliver(ctx, report, market, now, rules)
    if as_json:
        print_json(check_json(report) | ({"delivery": delivered} if delivered else {}))
    else:
        _print_check(report)
    nothing_current = say_when_nothing_evaluated(report)
    if delivered:  # with --deliver the exit code is the delivery's (documented)
        _print_delivery(delivered, as_json)
    elif nothing_current:
        raise typer.Exit(1)


def _deliver(
    ctx: typer.Context, report: CheckReport, market: MarketData, now: datetime, rules: list[Rule]
) -> dict[str, Any]:
    """Queue the alerts owed (this check's, within the catch-up window, and any left by a crash
    or a plain `check`) and deliver the outbox once."""
    from bot.delivery.destinations import build_notifiers, close_notifiers
    from bot.delivery.enqueue import enqueue_and_deliver
    from bot.delivery.shared_clock import SharedClock
    from bot.rules.routing import router
    from bot.service.schedule import alert_cutoff
    from storage.outbox_health import count_open

    context = app_context(ctx)
    cutoff = alert_cutoff(now, context.settings.catchup_alert_days)
    events = [event for event in report.new_events if event.date >= cutoff]
    routing = routing_or_exit(context.settings, rules)
    notifiers = build_notifiers(context.settings)
    try:
        delivery = enqueue_and_deliver(
            context.db,
            (),  # the events are recorded owed: enqueue_and_deliver queues every owed one
            notifiers,
            market,
            policy=_within_deadline(context.settings),
            settings=context.settings,  # subscribers' mentions and DMs, mutes, renotify
            rules=rules,
            route=router(routing, rules, [notifier.name for notifier in notifiers]),
            now=SharedClock.synced(context.db).now,  # claims and ages: the database's clock
        )
    finally:
        close_notifiers(notifiers)
    pending = count_open(context.db)
    if pending:
        print_error(
            f"alerts still queued after delivering for at most "
            f"{context.settings.check_deliver_deadline:g} s (DELIVERY_CHECK_DEADLINE_SECONDS): "
            "they stay in the outbox for the running service (rotation-bot outbox lists them)"
        )
    return {
        "alerts": len(events),
        "too_old": len(report.new_events) - len(events),
        "delivered": delivery.delivered,
        "retried": delivery.retried,
        "dead": delivery.dead,
        "pending": pending,
    }


def _within_deadline(settings: Settings) -> DeliveryPolicy:
    """The delivery policy, waiting for retries only until the command's deadline: a pass
    never waits for a retry due later than max_wait after it began."""
    from bot.delivery.sender import policy_from_settings

    policy = policy_from_settings(settings)
    return replace(policy, max_wait=min(policy.max_wait, settings.check_deliver_deadline))


def _print_delivery(delivered: dict[str, Any], as_json: bool) -> None:
    # With --json stdout is for the JSON document; the summary goes to stderr.
    out = err_console if as_json else console
    text = ", ".join(f"{key} {value}" for key, value in delivered.items())
    out.print(f"delivery: {text}", markup=False, highlight=False)
    # A retry that then went through is a success; only what is still owed, or lost, fails.
    if delivered["dead"] or delivered["pending"]:
        raise typer.Exit(1)


def check_json(report: CheckReport) -> dict[str, Any]:
    """The JSON shape of `check --json`."""
    from storage.rule_state import event_to_payload

    return {
        "expected_session": report.expected_session,
        "new_events": [event_to_payload(event) for event in report.new_events],
        "primed": list(report.primed),
        "rules": [
            {
                "id": check.rule.id,
                "type": check.rule.type,
                "name": check.rule.title,
                "status": check.evaluation.status,
                "reason": check.evaluation.reason,
                "session": check.evaluation.session,
                "state": check.evaluation.state.phase,
                "measure": check.evaluation.measure,
                "threshold": check.evaluation.threshold,
                "unit": check.evaluation.unit,
                "summary": check.evaluation.summary,
                "events": [event_to_payload(event) for event in check.evaluation.events],
                "last_event": event_to_payload(check.last_event) if check.last_event else None,
            }
            for check in report.checks
        ],
    }


# Rich measures every cell of every row to lay a table out: seconds at 10,000 rules. Above this
# many rows the same columns are printed as plain aligned text.
PLAIN_TABLE_ROWS = 500
CHECK_COLUMNS = ("rule", "status", "state", "now", "last event")


def _print_check(report: CheckReport) -> None:
    title = f"rules (expected session {report.expected_session})"
    rows = [_check_row(check) for check in report.checks]
    if len(rows) > PLAIN_TABLE_ROWS:
        _print_unstyled(plain_table(title, CHECK_COLUMNS, rows))
    else:
        _print_rich_check(title, report, rows)
    _print_reasons_and_events(report)


def _check_row(check: RuleCheck) -> tuple[str, ...]:
    evaluation, last = check.evaluation, check.last_event
    last_text = f"{last.date} {last.kind}" if last else "-"
    phase = evaluation.state.phase
    return (check.rule.id, evaluation.status, phase, _now_cell(evaluation), last_text)


def _print_rich_check(title: str, report: CheckReport, rows: list[tuple[str, ...]]) -> None:
    table = Table(box=box.SIMPLE, title=title, pad_edge=False)
    id_table_column(table, "rule", (check.rule.id for check in report.checks))
    for column in ("status", "state"):
        table.add_column(column, no_wrap=True)
    table.add_column("now")  # wraps between words, never inside one
    table.add_column("last event", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    print_table(table)


def plain_table(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Columns aligned by their widest cell, two spaces apart; the title on top."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [title, ""]
    for row in (headers, *rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _print_reasons_and_events(report: CheckReport) -> None:
    lines = [
        f"{check.rule.id}: {check.evaluation.status}: {check.evaluation.reason}"
        for check in report.checks
        if check.evaluation.reason
    ]
    lines += [
        f"NEW {event.kind} {event.date} [{event.rule_id}] {event.title}"
        for event in report.new_events
    ]
    if lines:  # one print: with thousands of rules, a print per line costs seconds
        _print_unstyled("\n".join(lines))


def _print_unstyled(text: str) -> None:
    """Lines as they are, never wrapped in a pipe; control codes stripped, as rich does."""
    if console.is_terminal:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:  # rich would lay out every line only to print it as it is (0.2 s at 10,000 rules)
        console.file.write(f"{strip_control_codes(text)}\n")


def _now_cell(evaluation: Evaluation) -> str:
    """The rule's figure, with STALE and the date it dates from when its data is old."""
    summary = evaluation.summary or "-"
    if evaluation.status == "STALE" and evaluation.session is not None:
        return f"{summary} (STALE: data to {evaluation.session})"
    return summary


def check_range(
    market: MarketData,
    first: date | None,
    last: date | None,
    options: tuple[str, str] = ("--from", "--to"),
) -> None:
    """Exit with one line when the dates asked for lie wholly outside the stored data."""
    frames = [*market.prices.values(), *market.series.values()]
    days = [frame.index for frame in frames if len(frame)]
    if not days:
        fail("no stored data for these rules; import prices first (rotation-bot prices import)")
    lowest, highest = min(i[0] for i in days).date(), max(i[-1] for i in days).date()
    if first and first > highest:
        fail(f"{options[0]} {first} is after the last stored date {highest}")
    if last and last < lowest:
        fail(f"{options[1]} {last} is before the first stored date {lowest}")
