"""The running service's jobs pick up a rule saved in chat at their next evaluation (no
restart), prime it silently when its condition already holds, and drop it when disabled."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.calendar import NEW_YORK
from bot.chat.core import Commands
from bot.chat.on_call import make_actor
from bot.chat.replies import RulePreview
from bot.chat.rule_forms import split_words
from bot.service.fetch_outage import StaleEvaluation
from bot.service.jobs import ServiceJobs
from signals.models import PriceBar
from storage.db import Store, open_db
from storage.outbox import list_outbox
from storage.prices import upsert_bars
from storage.rule_state import load_states
from tests.bot.test_jobs import fred, settings_for, yahoo
from tests.fakes.fred import FakeFred
from tests.fakes.yahoo import FakeYahoo

__all__ = ["fred", "yahoo"]

RULE = "iwm-chat-high"


def after_close(day: int) -> datetime:
    return datetime(2026, 6, day, 16, 20, tzinfo=NEW_YORK).astimezone(UTC)


async def test_a_chat_rule_joins_the_next_job_primed_silently_then_alerts(
    yahoo: FakeYahoo, fred: FakeFred, db_path: Path
) -> None:
    settings = settings_for(yahoo, fred, db_path).model_copy(update={"discord_admin_ids": ("7",)})
    db = open_db(db_path)
    closes = {8: 100.0, 9: 101.0, 10: 102.0, 11: 103.0}  # IWM at a record: the condition holds
    upsert_bars(db, [PriceBar("IWM", date(2026, 6, d), close=c) for d, c in closes.items()])
    jobs = ServiceJobs(settings, db_path)
    # No rule in force has its data yet (IWM has no adj close): a stale run, not "ok".
    with pytest.raises(StaleEvaluation):
        await jobs.evaluate_session(date(2026, 6, 11), after_close(11), alert=True)
    assert RULE not in load_states(db)

    core = Commands.for_path(settings, db_path, clock=lambda: after_close(11))
    admin = make_actor(settings, "discord", "7")
    line = f"new high IWM id={RULE} min_history=2 basis=close"
    preview = core.rule(admin, split_words(line))
    assert isinstance(preview, RulePreview)
    core.save_preview(admin, preview.token)

    # The same jobs object, no restart: the rule is evaluated and primed, nothing is alerted.
    assert await jobs.evaluate_session(date(2026, 6, 11), after_close(11), alert=True) == 0
    assert RULE in load_states(db)
    assert queued(db) == []

    # A pullback re-arms it; the next record fires it once.
    for day, close in ((12, 95.0), (15, 110.0)):
        upsert_bars(db, [PriceBar("IWM", date(2026, 6, day), close=close)])
        await jobs.evaluate_session(date(2026, 6, day), after_close(day), alert=True)
    assert queued(db) == [f"{RULE}:2026-06-15:fired"]

    # Disabled from chat: the next jobs leave it out.
    core.rule(admin, ["disable", RULE])
    for day, close in ((16, 95.0), (17, 120.0)):
        upsert_bars(db, [PriceBar("IWM", date(2026, 6, day), close=close)])
        with pytest.raises(StaleEvaluation):  # again no rule in force that has its data
            await jobs.evaluate_session(date(2026, 6, day), after_close(day), alert=True)
    jobs.close()
    assert queued(db) == [f"{RULE}:2026-06-15:fired"]


def queued(db: Store) -> list[str]:
    return [r["dedupe_key"] for r in list_outbox(db) if r["dedupe_key"].startswith(RULE)]
