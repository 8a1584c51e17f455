"""Stored states are the same JSON bytes `dataclasses.asdict` wrote before (older rows and
newer ones read back alike), and read back as the state written."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from signals.models import Evaluation, RuleState, SideState
from storage.rule_checks import evaluation_from_json, evaluation_to_json
from storage.rule_state import state_from_json, state_to_json

_SIDES = st.builds(
    SideState,
    phase=st.sampled_from(["inactive", "pending", "firing"]),
    streak=st.integers(min_value=0, max_value=10**6),
    episode=st.none() | st.dates().map(date.isoformat) | st.text(max_size=12),
)
_STATES = st.builds(
    RuleState,
    up=_SIDES,
    down=_SIDES,
    cooldown=st.integers(min_value=-5, max_value=10**6),
    fired=st.integers(min_value=0, max_value=10**6),
    last_session=st.none() | st.dates(),
)


def as_asdict_wrote(state: RuleState) -> str:
    """What `state_to_json` wrote up to commit 5a1fffe (every state stored since)."""
    data = asdict(state)
    data["last_session"] = state.last_session.isoformat() if state.last_session else None
    return json.dumps(data, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(_STATES)
def test_state_json_is_the_bytes_asdict_wrote(state: RuleState) -> None:
    text = state_to_json(state)
    assert text == as_asdict_wrote(state)
    assert state_from_json(text) == state


def test_every_field_is_written() -> None:
    # A field added to RuleState or SideState must be written: the hand-made dict names them.
    data = json.loads(state_to_json(RuleState()))
    assert set(data) == {field.name for field in fields(RuleState)}
    for side in ("up", "down"):
        assert set(data[side]) == {field.name for field in fields(SideState)}


def test_default_state_text_is_unchanged() -> None:
    assert state_to_json(RuleState()) == (
        '{"cooldown": 0, "down": {"episode": null, "phase": "inactive", "streak": 0}, '
        '"fired": 0, "last_session": null, '
        '"up": {"episode": null, "phase": "inactive", "streak": 0}}'
    )


@settings(max_examples=100, deadline=None)
@given(_STATES, st.none() | st.floats(allow_nan=False), st.text(max_size=30))
def test_stored_evaluation_round_trips(state: RuleState, measure: float | None, text: str) -> None:
    evaluation = Evaluation("r-1", "OK", text, state, measure=measure, summary=text)
    assert evaluation_from_json(evaluation_to_json(evaluation)) == evaluation
