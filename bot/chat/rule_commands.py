"""`/rule`: admins create, edit, disable, enable and delete rules from chat.

A mixin of `bot.chat.core.Commands` (it needs the core's `settings`, `db`, `clock` and rule
lists). `new` and `edit` save nothing: they answer a `RulePreview` (the rule as it will be
stored, its backtest since 2000, last five events and chart) whose Save or Cancel button
settles it (`save_preview`, `cancel_preview`). A rule is validated exactly as in a rules file
(`parse_rule`, the same messages). Saved rules live in `storage.chat_rules`; the service
reads them at its next job and primes a new one silently, like any rule seen the first time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.chat import rule_forms
from bot.chat.parsing import CommandError, echo
from bot.chat.replies import Actor, RuleChangeReply, RulePreview
from bot.chat.signal_queries import BACKTEST_START, signal_detail
from bot.config import Settings
from bot.platforms import platform_named
from bot.rules.files import RulesFileError
from bot.rules.routing import destination_problems, unroutable
from bot.rules.stored import file_rule_ids, parse_stored, rule_toml
from signals.rule_fields import RuleError
from signals.rules import Rule, parse_rule
from storage import chat_rules
from storage.db import Store
from storage.rule_state import forget_state

PREVIEW_MINUTES = 15


def author_of(actor: Actor) -> str:
    """How a chat rule records who made or changed it: `<platform>:<user id>`."""
    return f"{actor.platform}:{actor.user_id}"


class RuleCommands:
    """/rule new|edit|disable|enable|delete and the preview's Save and Cancel buttons."""

    settings: Settings
    db: Store
    clock: Callable[[], datetime]

    def file_rules(self) -> list[Rule]:
        """The rules from the files (provided by the core)."""
        raise NotImplementedError

    def rule(self, actor: Actor, words: Sequence[str]) -> RulePreview | RuleChangeReply:
        """Run one `/rule ...` line (words already split); admins only."""
        require_rule_admin(actor)
        action, rest = rule_forms.split_action(words)
        if action == "new":
            return self._preview(actor, "new", rule_forms.new_rule_mapping(rest))
        if action == "edit":
            return self._preview(actor, "edit", self._edited_mapping(*rule_forms.edits(rest)))
        if len(rest) != 1:
            raise CommandError(f"Usage: /rule {action} ID")
        changes = {"disable": self._disable, "enable": self._enable, "delete": self._delete}
        return changes[action](actor, rest[0])

    # new, edit: a preview first

    def _edited_mapping(self, rule_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        mapping = self._chat_rule(rule_id)[1].to_mapping()
        if "type" in changes and changes["type"] != mapping["type"]:
            raise CommandError("A rule's type cannot change: create a new rule instead.")
        for key, value in changes.items():
            if value is None:
                mapping.pop(key, None)
            else:
                mapping[key] = value
        return mapping

    def _preview(self, actor: Actor, action: str, mapping: dict[str, Any]) -> RulePreview:
        rule = _validated(mapping)
        # Refused here rather than queued: a row for a platform this bot cannot post to would
        # wait in the outbox until it dies of age.
        if problems := unroutable(self.settings, rule.destinations):
            raise CommandError(f"rule {rule.id}: destinations: {problems[0]}")
        if action == "new":
            self._check_new_id(rule.id)
        now = self.clock()
        toml = rule_toml(rule)
        token = secrets.token_urlsafe(12)
        expires = now + timedelta(minutes=PREVIEW_MINUTES)
        record = chat_rules.Preview(
            token, action, rule.id, toml, author_of(actor), now.isoformat(), expires.isoformat()
        )
        chat_rules.add_preview(self.db, record, now=now)
        return self._preview_reply(record, rule)

    def _preview_reply(self, record: chat_rules.Preview, rule: Rule) -> RulePreview:
        detail = signal_detail(self.db, rule, self.clock(), {}, 0)
        events = detail.backtest.recent if detail.backtest else ()
        fired = detail.backtest.fired if detail.backtest else None
        count = (
            "no backtest (no stored prices yet)"
            if fired is None
            else f"fired {fired} times since {BACKTEST_START.year}"
        )
        text = f"Preview of {rule.id}: {count}. Save or Cancel within {PREVIEW_MINUTES} minutes."
        return RulePreview(
            token=record.token,
            action=record.action,  # type: ignore[arg-type]
            rule_id=rule.id,
            title=rule.title,
            toml=record.toml,
            backtest=detail.backtest,
            last_events=events,
            chart=detail.chart,
            expires_at=record.expires_at,
            text=text,
            track_record=detail.track_record,
        )

    def _check_new_id(self, rule_id: str) -> None:
        files = {rule.id: "rules file" for rule in self.file_rules()}
        try:
            files |= {k: f"{v} rules" for k, v in file_rule_ids(self.settings).items()}
        except RulesFileError:
            pass  # the rules in force are already read above; an unreadable file: no clash
        if rule_id in files:
            raise CommandError(
                f"Rule id {rule_id} is taken by the {files[rule_id]}; pick another with id=..."
            )
        if chat_rules.get_rule(self.db, rule_id) is not None:
            raise CommandError(f"Rule {rule_id} exists already; change it with /rule edit.")

    # Save, Cancel

    def save_preview(self, actor: Actor, token: str) -> RuleChangeReply:
        """Save a previewed rule (admins); a second press or an expired preview is refused."""
        require_rule_admin(actor)
        record = self._open_preview(token)
        rule = parse_stored(_as_chat_rule(record))
        who, now = author_of(actor), self.clock()
        with self.db.atomic():
            # Settled first: its write lock orders two Saves, so the checks below see the
            # other's rule; a refusal rolls the settling back and leaves the preview open.
            if not chat_rules.settle_preview(self.db, token, "saved", by=who, now=now):
                raise CommandError(_closed(chat_rules.get_preview(self.db, token)))
            if record.action == "new":
                self._check_new_id(rule.id)
            elif chat_rules.get_rule(self.db, rule.id) is None:
                raise CommandError(f"Rule {rule.id} was deleted meanwhile; nothing saved.")
            chat_rules.save_rule(self.db, rule.id, record.toml, by=who, now=now)
            if record.action == "new":
                forget_state(self.db, rule.id)  # a rule deleted earlier starts afresh
        verb = "Saved new rule" if record.action == "new" else "Saved changes to"
        text = f"{verb} {rule.id}; the service evaluates it from its next check."
        return RuleChangeReply("saved", rule.id, who, text)

    def cancel_preview(self, actor: Actor, token: str) -> RuleChangeReply:
        """Discard a preview (admins); nothing is stored."""
        require_rule_admin(actor)
        record = self._open_preview(token)
        who = author_of(actor)
        if not chat_rules.settle_preview(self.db, token, "cancelled", by=who, now=self.clock()):
            raise CommandError(_closed(chat_rules.get_preview(self.db, token)))
        return RuleChangeReply("cancelled", record.rule_id, who, f"Discarded {record.rule_id}.")

    def _open_preview(self, token: str) -> chat_rules.Preview:
        record = chat_rules.get_preview(self.db, token)
        if record is None or record.outcome is not None:
            raise CommandError(_closed(record))
        if datetime.fromisoformat(record.expires_at) <= self.clock():
            raise CommandError(
                f"This preview expired after {PREVIEW_MINUTES} minutes; nothing was saved. "
                "Run the /rule command again."
            )
        return record

    # disable, enable, delete: at once

    def _disable(self, actor: Actor, rule_id: str) -> RuleChangeReply:
        return self._set_enabled(actor, rule_id, enabled=False)

    def _enable(self, actor: Actor, rule_id: str) -> RuleChangeReply:
        return self._set_enabled(actor, rule_id, enabled=True)

    def _set_enabled(self, actor: Actor, rule_id: str, *, enabled: bool) -> RuleChangeReply:
        rule = self._chat_rule(rule_id)[1]
        verb = "enabled" if enabled else "disabled"
        if rule.enabled == enabled:
            return RuleChangeReply(verb, rule.id, author_of(actor), f"{rule.id} is {verb} already.")
        changed = parse_rule({**rule.to_mapping(), "enabled": enabled})
        with self.db.atomic():
            chat_rules.save_rule(
                self.db, rule.id, rule_toml(changed), by=author_of(actor), now=self.clock()
            )
            if enabled:
                forget_state(self.db, rule.id)  # primed afresh: no alert for what happened off
        return RuleChangeReply(verb, rule.id, author_of(actor), f"{verb.capitalize()} {rule.id}.")

    def _delete(self, actor: Actor, rule_id: str) -> RuleChangeReply:
        stored = self._stored(rule_id)  # a rule that no longer validates can still go
        with self.db.atomic():
            chat_rules.delete_rule(self.db, stored.rule_id)
            forget_state(self.db, stored.rule_id)
        text = f"Deleted {stored.rule_id} (made by {stored.created_by})."
        return RuleChangeReply("deleted", stored.rule_id, author_of(actor), text)

    def _chat_rule(self, rule_id: str) -> tuple[chat_rules.ChatRule, Rule]:
        """A chat rule by id and its rule; CommandError if it is not one, or no longer valid."""
        stored = self._stored(rule_id)
        try:
            return stored, parse_stored(stored)
        except RulesFileError as error:  # e.g. stricter validation since: only delete helps
            raise CommandError(
                f"Stored rule {stored.rule_id} no longer validates ({error.problems[0]}); "
                "delete it and create it again."
            ) from None

    def _stored(self, rule_id: str) -> chat_rules.ChatRule:
        """A chat rule's record; CommandError naming where any other rule comes from."""
        wanted = rule_id.strip().lower()
        stored = chat_rules.get_rule(self.db, wanted)
        if stored is not None:
            return stored
        if wanted in {rule.id for rule in self.file_rules()}:
            raise CommandError(
                f"{wanted} comes from a rules file; chat changes only rules made in chat."
            )
        known = [r.rule_id for r in chat_rules.list_rules(self.db)]
        hint = f" Chat rules: {', '.join(known[:10])}." if known else " No rules made in chat yet."
        raise CommandError(f"No rule made in chat is called {echo(rule_id, 64)}.{hint}")


def require_rule_admin(actor: Actor) -> None:
    """CommandError telling a non-admin how to become one."""
    if actor.is_admin:
        return
    platform = platform_named(actor.platform)
    setting = f"{platform.name.upper()}_ADMIN_IDS"
    raise CommandError(
        f"Only admins can change rules: ask the bot's operator to add your {platform.title} "
        f"user id ({actor.user_id}) to {setting}."
    )


def _validated(mapping: dict[str, Any]) -> Rule:
    """The rule, or the rules-file messages for every problem, on one line."""
    try:
        rule = parse_rule(mapping)
    except RuleError as error:
        raise CommandError(str(error)) from None
    # The same check as a rules file's `destinations`, so chat cannot store a rule that the
    # router would refuse at the next start.
    if problems := destination_problems(rule.destinations):
        raise CommandError(f"rule {rule.id}: destinations: {problems[0]}")
    return rule


def _as_chat_rule(record: chat_rules.Preview) -> chat_rules.ChatRule:
    return chat_rules.ChatRule(
        record.rule_id, record.toml, record.author, record.created_at, record.author, ""
    )


def _closed(record: chat_rules.Preview | None) -> str:
    if record is None or record.outcome is None:
        return "This preview is unknown or too old; run the /rule command again."
    return f"This preview was already {record.outcome} by {record.settled_by}."
