"""``chatemu timeline``: lanes of intervals built from the event log (in-process, no database),
and the command as users run it (real ``chatemu`` processes on a temp database): the SVG,
parsed, the HTML page, the text for the terminal, the options and their errors."""

from __future__ import annotations

import pytest

from chatemu.store.timeline import AGENT, CHAT, Interval, build

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z
S = 1000  # a second, in ms


def ev(seq, at_s, to_state, chat=None, agent="agent-1", from_state=None, cause="x"):
    """An event row as the events table holds it; ``at_s``: seconds after T0."""
    return (seq, T0 + at_s * S, agent, chat, from_state, to_state, cause)


def spans(lane):
    return [(i.state, (i.start - T0) // S, (i.end - T0) // S) for i in lane.intervals]


# == the pure part: building lanes ==========================================================


def test_each_interval_lasts_until_the_next_change_and_the_last_until_the_end():
    rows = [ev(1, 0, "queued", "C1", agent=None), ev(2, 5, "new", "C1"), ev(3, 10, "active", "C1"),
            ev(4, 70, "parked", "C1")]
    timeline = build(rows, T0 + 100 * S)
    (lane,) = timeline.lanes
    assert (lane.kind, lane.id) == (CHAT, "C1")
    assert spans(lane) == [("queued", 0, 5), ("new", 5, 10), ("active", 10, 70), ("parked", 70, 100)]
    assert [i.duration for i in lane.intervals] == [5 * S, 5 * S, 60 * S, 30 * S]
    assert [i.cause for i in lane.intervals] == ["x"] * 4


def test_a_closed_chat_lane_ends_there_and_nothing_after_closed_counts():
    rows = [ev(1, 0, "active", "C1"), ev(2, 20, "closed", "C1"), ev(3, 30, "active", "C1")]
    (lane,) = build(rows, T0 + 100 * S).lanes
    assert spans(lane) == [("active", 0, 20)]


def test_rows_without_a_chat_are_the_agents_status_lane():
    rows = [ev(1, 0, "available", cause="login"), ev(2, 0, "new", "C1"), ev(3, 10, "on-call", from_state="available"),
            ev(4, 40, "available", from_state="on-call")]
    agent, chat = build(rows, T0 + 60 * S).lanes
    assert (agent.kind, agent.id, chat.kind, chat.id) == (AGENT, "agent-1", CHAT, "C1")
    assert spans(agent) == [("available", 0, 10), ("on-call", 10, 40), ("available", 40, 60)]
    assert [i.call for i in agent.intervals] == [False, True, False]


def test_lanes_come_in_the_order_of_their_first_row():
    rows = [ev(1, 0, "new", "C2"), ev(2, 1, "available", agent="b"), ev(3, 2, "new", "C1"), ev(4, 3, "active", "C2")]
    assert [lane.id for lane in build(rows, T0 + 10 * S).lanes] == ["C2", "b", "C1"]


def test_zero_length_intervals_are_dropped_and_a_change_to_the_same_state_does_not_split():
    rows = [ev(1, 0, "new", "C1"), ev(2, 0, "active", "C1"), ev(3, 0, "active-wrapup", "C1"),
            ev(4, 30, "active-wrapup", "C1", cause="extend"), ev(5, 90, "closed", "C1")]
    (lane,) = build(rows, T0 + 100 * S).lanes
    assert spans(lane) == [("active-wrapup", 0, 90)]


def test_moves_caused_by_a_call_are_marked_with_the_state_they_led_to():
    rows = [ev(1, 0, "active", "C1"), ev(2, 10, "parked", "C1", cause="call"), ev(3, 20, "parked-wrapup", "C1", cause="customer"),
            ev(4, 50, "active-wrapup", "C1", cause="call")]
    (lane,) = build(rows, T0 + 60 * S).lanes
    assert lane.calls == [(T0 + 10 * S, "parked"), (T0 + 50 * S, "active-wrapup")]
    assert spans(lane) == [("active", 0, 10), ("parked", 10, 20), ("parked-wrapup", 20, 50), ("active-wrapup", 50, 60)]
    assert lane.intervals[1].cause == "call"


def test_the_window_keeps_intervals_that_overlap_it_with_their_real_instants():
    rows = [ev(1, 0, "queued", "C1"), ev(2, 10, "new", "C1", cause="call"), ev(3, 20, "active", "C1"),
            ev(4, 30, "parked", "C1", cause="call"), ev(5, 40, "closed", "C1")]
    timeline = build(rows, T0 + 35 * S, start=T0 + 15 * S)
    (lane,) = timeline.lanes
    assert (timeline.start, timeline.end, timeline.span) == (T0 + 15 * S, T0 + 35 * S, 20 * S)
    assert spans(lane) == [("new", 10, 20), ("active", 20, 30), ("parked", 30, 35)]  # the closing row is after the end
    assert [timeline.clip(i) for i in lane.intervals] == [
        (T0 + 15 * S, T0 + 20 * S), (T0 + 20 * S, T0 + 30 * S), (T0 + 30 * S, T0 + 35 * S)]
    assert lane.calls == [(T0 + 30 * S, "parked")]  # the one at 10 s is before the window


def test_the_window_starts_at_the_first_row_by_default_and_never_after_its_end():
    rows = [ev(1, 7, "new", "C1"), ev(2, 3, "available")]
    assert build(rows, T0 + 10 * S).start == T0 + 3 * S
    assert build([], T0).start == T0 and build([], T0).lanes == []
    with pytest.raises(ValueError):
        build(rows, T0 + 10 * S, start=T0 + 11 * S)


def test_a_lane_with_nothing_in_the_window_is_listed_empty():
    rows = [ev(1, 0, "active", "C1"), ev(2, 5, "closed", "C1")]
    (lane,) = build(rows, T0 + 60 * S, start=T0 + 30 * S).lanes
    assert lane.intervals == [] and lane.calls == []


def test_an_interval_knows_its_duration_and_whether_it_is_a_call():
    assert Interval("on-call", 10, 25, "call").duration == 15 and Interval("on-call", 10, 25, "call").call
    assert not Interval("parked", 10, 25, "call").call
