"""Fast in-process tests of the pure core: every (state, event) pair, timers, time text."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatemu.store import core
from chatemu.store.errors import Refused, UsageError
from chatemu.store.timefmt import (
    clock_face,
    format_duration,
    format_time,
    parse_duration,
    parse_time,
    seconds,
)

# The contract, written out independently of core.TRANSITIONS:
# (state, event) -> next state.  Every pair not listed must be refused.
ALLOWED = {
    ("queued", "take"): "new",
    ("queued", "present"): "new",
    ("queued", "end"): "closed",
    ("new", "activate"): "active",
    ("new", "end"): "parked-wrapup",
    ("parked", "activate"): "active",
    ("parked", "end"): "parked-wrapup",
    ("active", "park"): "parked",
    ("active", "call-start"): "parked",
    ("active", "end"): "active-wrapup",
    ("active", "wrapup"): "active-wrapup",
    ("active-wrapup", "park"): "parked-wrapup",
    ("active-wrapup", "call-start"): "parked-wrapup",
    ("active-wrapup", "extend"): "active-wrapup",
    ("active-wrapup", "finish"): "closed",
    ("active-wrapup", "expire"): "closed",
    ("parked-wrapup", "activate"): "active-wrapup",
    ("parked-wrapup", "call-end"): "active-wrapup",
    # returning a chat to its queue, transferring it
    ("new", "return"): "queued",
    ("active", "return"): "queued",
    ("parked", "return"): "queued",
    ("active", "transfer-queue"): "queued",
    ("active", "transfer-agent"): "new",
}

# Actions that leave the state as it is, and the states that allow them.
ACTIONS = {
    "send": {"active"},
    "receive": {"queued", "new", "active", "parked"},
    "classify": {"active", "parked", "active-wrapup", "parked-wrapup"},
    "flag-abusive": {"active", "parked", "active-wrapup", "parked-wrapup"},
    "contact": {"new", "active", "parked", "active-wrapup", "parked-wrapup"},
}


@pytest.mark.parametrize("state,action", list(itertools.product(core.STATES, ACTIONS)))
def test_every_state_action_pair(state, action):
    if state in ACTIONS[action]:
        core.require("C1", state, action)
    else:
        with pytest.raises(Refused) as refused:
            core.require("C1", state, action)
        assert "C1" in refused.value.message and state in refused.value.message
        assert refused.value.exit_code == 3
        if action in ("send", "receive") and state in ("active-wrapup", "parked-wrapup", "closed"):
            assert "the customer has left" in refused.value.message


def test_the_action_table_has_nothing_beyond_the_contract():
    assert {action: set(states) for action, states in core.ACTIONS.items()} == ACTIONS


@pytest.mark.parametrize("state,event", list(itertools.product(core.STATES, core.EVENTS)))
def test_every_state_event_pair(state, event):
    if (state, event) in ALLOWED:
        assert core.step("C1", state, event).to == ALLOWED[(state, event)]
        assert core.allowed(state, event)
    else:
        with pytest.raises(Refused) as refused:
            core.step("C1", state, event)
        # The refusal names the chat, its state and what was tried.
        assert "C1" in refused.value.message
        assert state in refused.value.message
        assert core.VERBS[event] in refused.value.message
        assert refused.value.exit_code == 3
        assert not core.allowed(state, event)


def test_table_has_nothing_beyond_the_contract():
    assert {pair: step.to for pair, step in core.TRANSITIONS.items()} == ALLOWED


def test_closed_is_final():
    assert not any(state == core.CLOSED for state, _ in core.TRANSITIONS)


def test_closing_transitions_name_their_reason():
    reasons = {pair: step.closed_reason for pair, step in core.TRANSITIONS.items() if step.to == core.CLOSED}
    assert reasons == {
        ("queued", "end"): "abandoned",
        ("active-wrapup", "finish"): "wrapup-finished",
        ("active-wrapup", "expire"): "wrapup-expired",
    }


def test_timer_operations_of_transitions():
    ops = {pair: step.timer for pair, step in core.TRANSITIONS.items() if step.timer != core.T_NONE}
    assert ops == {
        ("new", "end"): core.T_START_PAUSED,
        ("parked", "end"): core.T_START_PAUSED,
        ("active", "end"): core.T_START,
        ("active", "wrapup"): core.T_START,
        ("active-wrapup", "park"): core.T_PAUSE,
        ("active-wrapup", "call-start"): core.T_PAUSE,
        ("active-wrapup", "extend"): core.T_EXTEND,
        ("active-wrapup", "finish"): core.T_STOP,
        ("active-wrapup", "expire"): core.T_STOP,
        ("parked-wrapup", "activate"): core.T_RESUME,
        ("parked-wrapup", "call-end"): core.T_RESUME,
    }


# -- timers ----------------------------------------------------------------------


def test_timer_runs_pauses_and_resumes_where_it_stopped():
    t = core.timer_start(60_000, now=1_000)
    assert core.timer_left(t, 21_000) == 40_000
    paused = core.timer_pause(t, 21_000)
    assert paused == core.Timer(remaining=40_000)
    # Paused time never counts.
    assert core.timer_left(paused, 10_000_000) == 40_000
    resumed = core.timer_resume(paused, 500_000)
    assert resumed.deadline == 540_000
    assert not core.timer_due(resumed, 539_999)
    assert core.timer_due(resumed, 540_000)


def test_timer_left_is_never_negative():
    t = core.timer_start(1_000, now=0)
    assert core.timer_left(t, 5_000) == 0
    assert core.timer_pause(t, 5_000) == core.Timer(remaining=0)


def test_extend_running_and_paused():
    assert core.timer_extend(core.Timer(deadline=10), 5) == core.Timer(deadline=15)
    assert core.timer_extend(core.Timer(remaining=10), 5) == core.Timer(remaining=15)
    assert core.timer_extend(core.NO_TIMER, 5) == core.NO_TIMER


def test_paused_timer_is_never_due():
    assert not core.timer_due(core.Timer(remaining=0), 10**12)
    assert not core.timer_due(core.NO_TIMER, 10**12)


@given(
    duration=st.integers(0, 10**9),
    start=st.integers(0, 10**12),
    pauses=st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 10**7)), max_size=8),
)
def test_pausing_never_loses_or_adds_running_time(duration, start, pauses):
    """However a timer is paused and resumed, it runs out after exactly `duration` ms of running."""
    now = start
    timer = core.timer_start(duration, now)
    ran = 0
    for run_for, pause_for in pauses:
        left = core.timer_left(timer, now)
        if run_for >= left:
            break
        now += run_for
        ran += run_for
        timer = core.timer_pause(timer, now)
        now += pause_for
        assert core.timer_left(timer, now) == duration - ran
        timer = core.timer_resume(timer, now)
    assert timer.deadline == now + (duration - ran)


def test_apply_timer_dispatches_every_operation():
    running = core.Timer(deadline=100)
    assert core.apply_timer(core.T_NONE, running, 50, 10, 5) == running
    assert core.apply_timer(core.T_START, core.NO_TIMER, 50, 10, 5) == core.Timer(deadline=60)
    assert core.apply_timer(core.T_START_PAUSED, core.NO_TIMER, 50, 10, 5) == core.Timer(remaining=10)
    assert core.apply_timer(core.T_PAUSE, running, 50, 10, 5) == core.Timer(remaining=50)
    assert core.apply_timer(core.T_RESUME, core.Timer(remaining=50), 70, 10, 5) == core.Timer(deadline=120)
    assert core.apply_timer(core.T_EXTEND, running, 50, 10, 5) == core.Timer(deadline=105)
    assert core.apply_timer(core.T_STOP, running, 50, 10, 5) == core.NO_TIMER
    with pytest.raises(ValueError):
        core.apply_timer("bogus", running, 50, 10, 5)


# -- agents ------------------------------------------------------------------------


def test_agent_status_first_that_holds():
    assert core.agent_status("available", True, "active") == "on-call"
    assert core.agent_status("break", False, "active") == "handling-chat"
    assert core.agent_status("available", False, "active-wrapup") == "wrap-up"
    assert core.agent_status("break", False, None) == "break"
    assert core.agent_status("available", False, None) == "available"


# -- durations and times -------------------------------------------------------------


@pytest.mark.parametrize(
    "text,ms",
    [
        ("90", 90_000),
        ("90s", 90_000),
        ("1.5s", 1_500),
        ("2m", 120_000),
        ("1m30s", 90_000),
        ("1h", 3_600_000),
        ("1h30m", 5_400_000),
        ("250ms", 250),
        ("1.5m", 90_000),
        ("0", 0),
        ("0.001", 1),
    ],
)
def test_parse_duration(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    "text",
    ["", " ", "-5", "-5s", "abc", "5x", "1.0005s", "s", "m30", "1s1m", "5 s", "1e3", "9" * 40, "nan", "inf", "1h-1m",
     "\u0663s", "\uff11s"],  # non-ASCII digits: Arabic-Indic three, fullwidth one
)
def test_bad_durations_are_usage_errors(text):
    with pytest.raises(UsageError) as error:
        parse_duration(text)
    assert error.value.exit_code == 2


@given(st.integers(0, 100 * 365 * 24 * 3_600_000))
def test_duration_text_round_trips(ms):
    assert parse_duration(format_duration(ms)) == ms


def test_times():
    assert parse_time("2026-01-05T09:00:00Z") == 1_767_603_600_000
    assert parse_time("2026-01-05T10:00:00+01:00") == 1_767_603_600_000
    assert parse_time("2026-01-05T09:00:00") == 1_767_603_600_000  # no zone: UTC
    assert format_time(1_767_603_600_123) == "2026-01-05T09:00:00.123Z"
    assert format_time(None) is None
    for bad in ["", "yesterday", "2026-13-01", "2026-01-05T09:00:00.0001Z"]:
        with pytest.raises(UsageError):
            parse_time(bad)


@given(st.integers(0, 253_402_300_799_999))
def test_time_text_round_trips(ms):
    assert parse_time(format_time(ms)) == ms


def test_seconds_and_clock_face():
    assert seconds(40_000) == 40 and isinstance(seconds(40_000), int)
    assert seconds(39_500) == 39.5
    assert seconds(None) is None
    assert clock_face(40_000) == "0:40"
    assert clock_face(39_001) == "0:40"  # rounded up: time is still left
    assert clock_face(3_600_000) == "60:00"
