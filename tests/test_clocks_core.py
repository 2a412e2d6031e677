"""The pure core of the clocks beyond wrap-up, in-process: every (state, clock event) pair,
which timers run in which states, what a move does to them, and the order they run out in."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatemu.store import core
from chatemu.store.errors import Refused

# The contract, written out independently of core.CLOCK_TRANSITIONS.
ALLOWED = {
    ("new", "offer-timeout"): ("queued", None),
    ("queued", "patience"): ("closed", "abandoned"),
    ("new", "idle-timeout"): ("parked-wrapup", None),
    ("active", "idle-timeout"): ("active-wrapup", None),
    ("parked", "idle-timeout"): ("parked-wrapup", None),
    ("queued", "reply-alert"): ("queued", None),
    ("new", "reply-alert"): ("new", None),
    ("active", "reply-alert"): ("active", None),
    ("parked", "reply-alert"): ("parked", None),
}


@pytest.mark.parametrize("state,event", list(itertools.product(core.STATES, core.CLOCK_EVENTS)))
def test_every_state_clock_event_pair(state, event):
    if (state, event) in ALLOWED:
        step = core.step("C1", state, event)
        assert (step.to, step.closed_reason) == ALLOWED[state, event]
        assert core.allowed(state, event)
    else:
        with pytest.raises(Refused) as refused:
            core.step("C1", state, event)
        assert "C1" in refused.value.message and state in refused.value.message
        assert core.VERBS[event] in refused.value.message
        assert refused.value.exit_code == 3


def test_the_clock_table_has_nothing_beyond_the_contract():
    assert {pair: (s.to, s.closed_reason) for pair, s in core.CLOCK_TRANSITIONS.items()} == ALLOWED


def test_idle_timeout_starts_wrap_up_as_the_customer_ending_does():
    for state in ("new", "active", "parked"):
        assert core.step("C1", state, core.IDLE_TIMEOUT).timer == core.step("C1", state, core.END).timer


def test_the_clock_events_and_presence_are_known_causes_and_statuses():
    for cause in ("offer-timeout", "patience", "idle-timeout", "reply-alert", "break-overrun"):
        assert cause in core.CAUSES
    assert core.NOT_RESPONDING in core.PRESENCES and core.NOT_RESPONDING in core.STATUSES
    assert core.agent_status(core.NOT_RESPONDING, False, None) == core.NOT_RESPONDING
    assert core.agent_status(core.NOT_RESPONDING, False, core.ACTIVE) == core.HANDLING_CHAT


NONE = {core.K_IDLE: None, core.K_PATIENCE: None, core.K_OFFER: None, core.K_ALERT: None}


def test_a_presentation_starts_the_offer_timer_and_a_take_does_not():
    after = core.clock_timers("queued", core.PRESENT, "new", {**NONE, core.K_PATIENCE: 500}, 100, offer_ms=30)
    assert after == {**NONE, core.K_OFFER: 130}  # patience stops: no longer queued
    assert core.clock_timers("queued", core.TAKE, "new", NONE, 100, offer_ms=30) == NONE
    assert core.clock_timers("queued", core.PRESENT, "new", NONE, 100, offer_ms=None) == NONE


def test_an_offer_timing_out_restarts_patience_from_when_the_customer_began_waiting():
    after = core.clock_timers("new", core.OFFER_TIMEOUT, "queued", {**NONE, core.K_OFFER: 40}, 40,
                              patience_ms=60, waited_since=0)
    assert after == {**NONE, core.K_PATIENCE: 60}
    # Already past: it runs out at once (never before now).
    late = core.clock_timers("new", core.OFFER_TIMEOUT, "queued", NONE, 100, patience_ms=60, waited_since=10)
    assert late[core.K_PATIENCE] == 100
    # A return starts it afresh.
    back = core.clock_timers("active", core.RETURN, "queued", NONE, 100, patience_ms=60, waited_since=0)
    assert back[core.K_PATIENCE] == 160


@given(st.sampled_from(sorted(core.TRANSITIONS_ALL)), st.integers(0, 10**6),
       st.fixed_dictionaries({k: st.none() | st.integers(0, 10**7) for k in NONE}))
def test_after_any_move_only_timers_of_the_new_state_run(pair, at, timers):
    (state, event), step = pair, core.TRANSITIONS_ALL[pair]
    after = core.clock_timers(state, event, step.to, timers, at, offer_ms=5, patience_ms=7, waited_since=0)
    for kind, deadline in after.items():
        if deadline is not None:
            assert step.to in core.TIMER_STATES[kind], (kind, step.to)
    if step.to == core.QUEUED:
        assert after[core.K_IDLE] is None


@given(st.lists(st.tuples(st.integers(0, 50), st.sampled_from(core.TIMER_KINDS), st.integers(1, 9)), max_size=30))
def test_timers_run_out_by_instant_then_chats_in_creation_order_then_agents(timers):
    keys = [core.timer_order(due, kind, f"agent-{n}" if kind == core.K_BREAK else n) for due, kind, n in timers]
    ordered = sorted(keys)
    for a, b in zip(ordered, ordered[1:]):
        assert a[0] <= b[0]
        if a[0] == b[0] and a[1] == b[1] == 0:
            assert a[2] <= b[2]  # chats in creation order
        if a[0] == b[0]:
            assert a[1] <= b[1]  # chats before agents
