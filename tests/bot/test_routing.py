"""Routing (issue 14 item 1): rule destinations, `[[routes]]`, `[digest]`; which channel got what.

The alerts go through the real discord.py and slack_sdk clients to the local stand-ins; the
rules file is real TOML on disk, read like `ROTATION_RULES`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings, load_settings
from bot.delivery.digest import digest_destinations
from bot.rules.files import RulesFileError, load_routing, load_rules, validate_file
from bot.rules.routing import destination_problems, router, unmatched_routes, unroutable
from bot.service.jobs import ServiceJobs
from storage import subscriptions as subs
from storage.db import open_db
from storage.outbox import list_outbox
from storage.owed_alerts import mark_owed
from storage.rule_state import record_events
from tests.bot.test_alerting import deliver
from tests.bot.test_digest import NOW, SESSION, seed
from tests.bot.test_digest_delivery import settings_for
from tests.bot.test_signal_cli import DISABLE_DEFAULTS
from tests.fakes.delivery_kit import T0, FakeClock, make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_interactions import CHANNEL, FakeDiscordApp
from tests.fakes.on_call_kit import desk_settings
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

RATES_DISCORD = "700000000000000222"  # channel A: named by the rule itself
RATES_SLACK = "C0RATES01"  # channel B: the `rates` route
DESK_DISCORD = "700000000000000333"  # channel C: the `critical` route after `continue`

ROUTED = (
    DISABLE_DEFAULTS
    + f"""
[[rules]]
id = "own"
type = "new_high"
symbol = "IWM"
destinations = ["discord:{RATES_DISCORD}"]

[[rules]]
id = "tagged"
type = "new_high"
symbol = "IWB"
tags = ["rates", "critical"]

[[rules]]
id = "plain"
type = "new_high"
symbol = "IWC"

[[routes]]
tags = ["rates"]
destinations = ["slack:{RATES_SLACK}"]
continue = true

[[routes]]
tags = ["critical"]
destinations = ["discord:{DESK_DISCORD}"]

[[routes]]
tags = ["critical"]
destinations = ["slack:C0NEVER01"]  # never reached: the route above stops

[digest]
destinations = ["slack:{RATES_SLACK}"]
"""
)


def title(payload: dict[str, Any]) -> str:
    """An alert embed's title without its direction arrow."""
    return str(payload["embeds"][0]["title"]).split(" ", 1)[1]


def rules_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def routed(tmp_path: Path, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack) -> Settings:
    """Both platforms' default channels, and the routed rules file."""
    return desk_settings(fake_discord_app, fake_slack, rules_path=rules_file(tmp_path, ROUTED))


def test_a_rule_its_tags_and_the_defaults_each_reach_their_channels(
    db_path: Path, routed: Settings, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> None:
    rules = load_rules(routed)
    defaults = [f"discord:{CHANNEL}", f"slack:{CHANNEL_ID}"]
    route = router(load_routing(routed), rules, defaults)
    events = [make_event(rule=rule, title=f"{rule} fired") for rule in ("own", "tagged", "plain")]

    report = deliver(db_path, routed, events, FakeClock(), rules=rules, route=route)

    assert report.delivered == 5 and report.dead == 0
    discord = {(m.channel_id, title(m.payload)) for m in fake_discord_app.messages}
    assert discord == {
        (RATES_DISCORD, "own fired"),  # the rule's own destination, nothing else
        (DESK_DISCORD, "tagged fired"),  # second route, reached through `continue`
        (CHANNEL, "plain fired"),  # no route: the default channel
    }
    slack = {(p.channel, p.payload["text"]) for p in fake_slack.messages}
    assert {channel for channel, _ in slack} == {RATES_SLACK, CHANNEL_ID}
    texts = dict(slack)
    assert "tagged fired" in texts[RATES_SLACK] and "plain fired" in texts[CHANNEL_ID]


def test_routed_rows_are_delivered_once_and_a_rerun_adds_nothing(
    db_path: Path, routed: Settings, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> None:
    rules = load_rules(routed)
    route = router(load_routing(routed), rules, [f"discord:{CHANNEL}"])
    event = make_event(rule="tagged")
    for _ in range(2):
        deliver(db_path, routed, [event], FakeClock(), rules=rules, route=route)
    db = open_db(db_path)
    rows = list_outbox(db)
    db.close()
    assert sorted(r["destination"] for r in rows) == [
        f"discord:{DESK_DISCORD}",
        f"slack:{RATES_SLACK}",
    ]
    assert all(r["status"] == "delivered" and r["message_id"] for r in rows)
    assert len(fake_discord_app.messages) == 1 and len(fake_slack.messages) == 1


def test_subscribers_are_pinged_in_the_routed_channel_and_mutes_hold_it(
    db_path: Path, routed: Settings, fake_discord_app: FakeDiscordApp
) -> None:
    db = open_db(db_path)
    subs.subscribe(db, "discord", "42", "own", "mention", now=T0)
    db.close()
    rules = load_rules(routed)
    route = router(load_routing(routed), rules, [f"discord:{CHANNEL}"])
    deliver(db_path, routed, [make_event(rule="own")], FakeClock(), rules=rules, route=route)
    [post] = fake_discord_app.messages
    assert post.channel_id == RATES_DISCORD and "<@42>" in post.payload["content"]

    db = open_db(db_path)
    subs.mute(db, "own", datetime(2027, 1, 1, tzinfo=UTC), by="42", platform="discord", now=T0)
    db.close()
    event = make_event(day=21, rule="own")
    deliver(db_path, routed, [event], FakeClock(), rules=rules, route=route)
    assert len(fake_discord_app.messages) == 1  # muted: recorded, not posted


def test_the_digest_has_its_own_destinations(routed: Settings, tmp_path: Path) -> None:
    assert digest_destinations(routed, ["discord:1"]) == (f"slack:{RATES_SLACK}",)
    plain = load_settings(None, rules_path=rules_file(tmp_path, DISABLE_DEFAULTS))
    assert digest_destinations(plain, ["discord:1", "slack:webhook"]) == (
        "discord:1",
        "slack:webhook",
    )


def test_routing_explains_itself_and_flags_routes_that_match_nothing(routed: Settings) -> None:
    rules = {rule.id: rule for rule in load_rules(routed)}
    routing = load_routing(routed)
    headers = [n for n, line in enumerate(ROUTED.splitlines(), 1) if line == "[[routes]]"]
    assert routing.explain(rules["own"], ["d"]) == ((f"discord:{RATES_DISCORD}",), "rule")
    assert routing.explain(rules["tagged"], ["d"]) == (
        (f"slack:{RATES_SLACK}", f"discord:{DESK_DISCORD}"),
        f"route {routed.rules_path}:{headers[0]}, route {routed.rules_path}:{headers[1]}",
    )
    assert routing.explain(rules["plain"], ["d"]) == (("d",), "default")
    assert unmatched_routes(routing, list(rules.values())) == []
    only_plain = [rules["plain"]]
    assert len(unmatched_routes(routing, only_plain)) == 3


def test_destinations_are_checked_per_platform() -> None:
    assert destination_problems(["discord:700000000000000222", "slack:C0RATES01"]) == []
    problems = destination_problems(
        ["teams:123", "discord:#rates", "slack:c0lower", "slack:D0DIRECT1", "discord:dm:42", "x"]
    )
    assert problems == [
        "'teams:123': unknown platform 'teams'; write discord:<channel id>, slack:<channel id>",
        "'discord:#rates': not a Discord channel id; use a channel snowflake (digits only)",
        "'slack:c0lower': not a Slack channel id; use a channel id like C0123456789 "
        "(C or G, then capitals and digits)",
        "'slack:D0DIRECT1': not a Slack channel id; use a channel id like C0123456789 "
        "(C or G, then capitals and digits)",
        "'discord:dm:42': a route names channels; DMs come from /subscribe",
        "'x': unknown platform 'x'; write discord:<channel id>, slack:<channel id>",
    ]


def test_every_routing_problem_comes_with_its_line(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path,
        """[[rules]]
id = "mine"
type = "new_high"
symbol = "IWM"
destinations = ["discord:abc"]

[[routes]]
tags = ["rates"]
destinations = ["telegram:1"]
channel = "x"

[[routes]]
ids = "mine"
destinations = []
continue = "yes"

[digest]
destinations = ["slack:general"]
colour = "red"
""",
    )
    assert validate_file(path) == [
        f"{path}:5: rule mine: destinations: 'discord:abc': not a Discord channel id; "
        "use a channel snowflake (digits only)",
        f"{path}:10: routes[0]: channel: unknown key; allowed: continue, destinations, ids, tags",
        f"{path}:13: routes[1]: ids: must be a list of strings",
        f"{path}:15: routes[1]: continue: must be true or false",
        f"{path}:14: routes[1]: destinations: required, at least one channel",
        f"{path}:19: digest: colour: unknown key; allowed: destinations",
        f"{path}:18: digest: destinations: 'slack:general': not a Slack channel id; "
        "use a channel id like C0123456789 (C or G, then capitals and digits)",
    ]
    with pytest.raises(RulesFileError):
        load_routing(load_settings(None, rules_path=path))


def test_a_platform_that_cannot_post_by_channel_id_is_an_error(tmp_path: Path) -> None:
    hook = "https://discord.com/api/webhooks/112233445566778899/" + "x" * 68
    webhooks_only = load_settings(None, discord_webhook_url=SecretStr(hook))
    assert unroutable(webhooks_only, ["discord:700000000000000222", "slack:C0RATES01"]) == [
        "discord:700000000000000222: Discord is not configured to post to channels by id; "
        "set DISCORD_BOT_TOKEN (webhooks post to one channel only)",
        "slack:C0RATES01: Slack is not configured to post to channels by id; "
        "set SLACK_BOT_TOKEN (a webhook posts to one channel only)",
    ]
    path = rules_file(tmp_path, ROUTED)
    env = {"ROTATION_RULES": str(path), "DISCORD_BOT_TOKEN": "", "SLACK_BOT_TOKEN": ""}
    db = str(tmp_path / "r.db")
    result = CliRunner().invoke(app, ["--db", db, "run"], env=env)
    assert result.exit_code == 2
    assert f"config error: discord:{RATES_DISCORD}: Discord is not configured" in result.output
    checked = CliRunner().invoke(app, ["--db", db, "rules", "validate"], env=env)
    assert checked.exit_code == 1 and "set SLACK_BOT_TOKEN" in checked.output


def test_rules_list_and_show_say_where_alerts_go(tmp_path: Path) -> None:
    path = rules_file(tmp_path, ROUTED)
    env = {"ROTATION_RULES": str(path), "COLUMNS": "250"}
    db = str(tmp_path / "r.db")
    listed = CliRunner().invoke(app, ["--db", db, "rules", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert f"discord:{RATES_DISCORD} (rule)" in listed.output
    assert "the default channels" in listed.output
    shown = CliRunner().invoke(app, ["--db", db, "rules", "show", "tagged"], env=env)
    assert shown.exit_code == 0, shown.output
    assert 'tags = ["rates", "critical"]' in shown.output  # TOML, not a Python list
    assert f"alerts to: slack:{RATES_SLACK}, discord:{DESK_DISCORD} (route {path}:" in (
        shown.output.replace("\n", "")
    )
    missing = CliRunner().invoke(app, ["--db", db, "rules", "show", "nope"], env=env)
    assert missing.exit_code == 1 and "no rule 'nope'" in missing.output


def test_rule_destinations_do_not_reprime_the_rule(tmp_path: Path) -> None:
    settings = load_settings(None, rules_path=rules_file(tmp_path, ROUTED))
    own = next(rule for rule in load_rules(settings) if rule.id == "own")
    assert replace(own, destinations=()).fingerprint() == own.fingerprint()


def test_the_docs_routing_example_is_a_valid_rules_file(tmp_path: Path) -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
    section = page.read_text(encoding="utf-8")
    section = section[section.index("## Routing") :]
    start = section.index("```toml") + len("```toml")
    example = section[start : section.index("```", start)]
    path = rules_file(tmp_path, example)
    assert validate_file(path) == []
    settings = load_settings(None, rules_path=path)
    rules = {rule.id: rule for rule in load_rules(settings)}
    routing = load_routing(settings)
    # Copied as shown, the example changes the default Fed rule rather than adding a second
    # rule on the same series, which would double every Fed alert.
    assert [rule.id for rule in rules.values() if "DFEDTARU" in rule.legs()] == ["fed-rate-change"]
    assert routing.destinations_of(rules["fed-rate-change"], ["d"]) == (
        "slack:C0RATES01",
        "discord:700000000000000333",
        "slack:C0DESK001",
    )
    assert unmatched_routes(routing, list(rules.values())) == []


async def test_the_service_digest_job_posts_to_the_digest_destinations_only(
    db_path: Path, fake_discord: FakeDiscord, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    db = open_db(db_path)
    seed(db)
    db.close()
    text = f'[digest]\ndestinations = ["slack:{RATES_SLACK}", "discord:{RATES_DISCORD}"]\n'
    settings = settings_for(fake_discord, fake_slack, db_path).model_copy(
        update={"rules_path": rules_file(tmp_path, text)}
    )
    jobs = ServiceJobs(settings, db_path)
    try:
        summary = await jobs.send_digest(SESSION, NOW)
    finally:
        await asyncio.to_thread(jobs.close)
    assert summary.startswith("digest queued for 2 destination(s)")
    assert [m.channel_id for m in fake_discord.messages] == [RATES_DISCORD]
    assert [p.channel for p in fake_slack.messages] == [RATES_SLACK]


def test_the_service_queues_each_rule_to_its_route(
    db_path: Path, routed: Settings, fake_discord_app: FakeDiscordApp
) -> None:
    jobs = ServiceJobs(routed.model_copy(update={"db_path": db_path}), db_path)
    db = open_db(db_path)
    try:
        rules = jobs._rules(db)
        events = [make_event(rule=rule) for rule in ("own", "tagged", "plain")]
        with db.atomic():  # recorded owed, as an evaluation does; the job queues what is owed
            record_events(db, events)
            mark_owed(db, [event.dedupe_key for event in events])
        jobs._enqueue(db, None, rules)
        rows = {(r["dedupe_key"].split(":")[0], r["destination"]) for r in list_outbox(db)}
    finally:
        db.close()
        jobs.close()
    assert rows == {
        ("own", f"discord:{RATES_DISCORD}"),
        ("tagged", f"slack:{RATES_SLACK}"),
        ("tagged", f"discord:{DESK_DISCORD}"),
        ("plain", f"discord:{CHANNEL}"),
        ("plain", f"slack:{CHANNEL_ID}"),
    }
