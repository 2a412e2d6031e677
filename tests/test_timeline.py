"""``chatemu timeline``: lanes of intervals built from the event log (in-process, no database),
and the command as users run it (real ``chatemu`` processes on a temp database): the SVG,
parsed, the HTML page, the text for the terminal, the options and their errors."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chatemu.cli.timeline import svg, xml
from chatemu.store.timeline import AGENT, CHAT, Interval, build, default_end

from conftest import Chatemu

NS = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parent.parent

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


def test_the_last_event_at_or_before_an_instant_is_found_by_bisection_over_seq_gaps():
    import sqlite3

    from chatemu.store.journal import last_seq_at

    class Tx:
        def __init__(self):
            self.conn = sqlite3.connect(":memory:")
            self.conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, at_ms INTEGER)")

        def q(self, sql, *params):
            return self.conn.execute(sql, params)

    tx = Tx()
    assert last_seq_at(tx, 100) == 0
    tx.conn.executemany("INSERT INTO events VALUES (?, ?)", [(1, 10), (2, 10), (5, 20), (6, 30), (9, 30), (12, 40)])
    assert [last_seq_at(tx, at) for at in (5, 10, 15, 20, 29, 30, 39, 40, 100)] == [0, 2, 2, 5, 5, 9, 9, 12, 12]


# == the renderer, in-process ===============================================================


def test_ids_are_escaped_in_the_svg():
    assert xml('a<b>&"c') == "a&lt;b&gt;&amp;&quot;c"
    timeline = build([ev(1, 0, "active", 'C<&">1'), ev(2, 0, "available", agent="a&b\x01")], T0 + 10 * S)
    root = ET.fromstring(svg(timeline).split("\n", 1)[1])
    assert [g.get("data-id") for g in root.iter(f"{NS}g") if g.get("class") == "lane"] == ['C<&">1', "a&b\\x01"]


# == the command, as users run it ============================================================

#: From 09:00:00 (the ``cm`` fixture's clock): C1 presented, active at 10 s, ended by the customer
#: at 30 s (wrap-up 60 s runs), parked by a call at 40 s (paused, 50 s left), resumed when the
#: call ends at 1m40s, closed at 2m30s; C2 queued at 40 s (agent-1 on the call), presented at
#: 2m30s; now 2m40s.
HISTORY = """\
chat new --customer Ann
clock advance 10s
chat activate C1
clock advance 20s
chat end C1
clock advance 10s
chat call-start
chat new --customer Bob
clock advance 1m
chat call-end
clock advance 1m
"""
#: Each lane's intervals: (state, seconds after 09:00:00 it starts, ends).
LANES = {
    ("agent", "agent-1"): [("available", 0, 10), ("handling-chat", 10, 30), ("wrap-up", 30, 40), ("on-call", 40, 100),
                           ("wrap-up", 100, 150), ("available", 150, 160)],
    ("chat", "C1"): [("new", 0, 10), ("active", 10, 30), ("active-wrapup", 30, 40), ("parked-wrapup", 40, 100),
                     ("active-wrapup", 100, 150)],
    ("chat", "C2"): [("queued", 40, 150), ("new", 150, 160)],
}


@pytest.fixture
def history(cm):
    cm.ok("run", "-q", "-", stdin=HISTORY)
    return cm


class Picture:
    """An SVG written by ``timeline -o``, parsed."""

    def __init__(self, text: str):
        self.text = text
        self.root = ET.fromstring(text)
        axis = next(g for g in self.root.iter(f"{NS}g") if g.get("class") == "axis")
        line = axis.find(f"{NS}line")
        self.left, self.right = float(line.get("x1")), float(line.get("x2"))
        self.lanes = [g for g in self.root.iter(f"{NS}g") if g.get("class") == "lane"]
        legend = next(g for g in self.root.iter(f"{NS}g") if g.get("class") == "legend")
        self.legend = {r.get("data-state"): r.get("fill") for r in legend.iter(f"{NS}rect") if r.get("class") == "swatch"}

    def keys(self):
        return [(g.get("data-kind"), g.get("data-id")) for g in self.lanes]

    def lane(self, ident: str):
        return next(g for g in self.lanes if g.get("data-id") == ident)

    @staticmethod
    def intervals(lane):
        return [r for r in lane.iter(f"{NS}rect") if r.get("class") == "interval"]


def picture(cm, *args: str, name: str = "t.svg") -> Picture:
    out = cm.db.parent / name
    done = cm.ok("timeline", *args, "-o", str(out), "--force")
    assert done.out == ""
    return Picture(out.read_text(encoding="utf-8"))


def test_svg_has_a_lane_per_chat_and_agent_with_widths_proportional_to_durations(history):
    pic = picture(history)
    assert pic.keys() == list(LANES)
    scale = (pic.right - pic.left) / 160  # px per second: the window is 09:00:00 to now, 09:02:40
    for (kind, ident), expected in LANES.items():
        rects = pic.intervals(pic.lane(ident))
        assert [r.get("data-state") for r in rects] == [state for state, _, _ in expected]
        for rect, (state, start, end) in zip(rects, expected):
            x, width = float(rect.get("x")), float(rect.get("width"))
            assert abs(x - (pic.left + start * scale)) < 0.02, (ident, state)
            assert abs(width - (end - start) * scale) < 0.02, (ident, state)  # to the pixel, and finer


def test_each_interval_has_its_states_colour_as_in_the_legend(history):
    pic = picture(history)
    for lane in pic.lanes:
        for rect in pic.intervals(lane):
            assert rect.get("fill") == pic.legend[rect.get("data-state")]
    chat_states = ["queued", "new", "active", "parked", "active-wrapup", "parked-wrapup"]
    agent_states = ["available", "handling-chat", "wrap-up", "on-call", "break", "logged-out"]
    assert set(pic.legend) == set(chat_states + agent_states)
    assert len({pic.legend[s] for s in chat_states}) == len(chat_states)  # each chat state its own fill
    assert len({pic.legend[s] for s in agent_states}) == len(agent_states)


def test_paused_wrapup_is_the_wrapup_colour_hatched(history):
    pic = picture(history)
    hatch = pic.legend["parked-wrapup"]
    assert hatch.startswith("url(#") and hatch != pic.legend["active-wrapup"]
    pattern = next(p for p in pic.root.iter(f"{NS}pattern") if p.get("id") == hatch[5:-1])
    fills = [r.get("fill") for r in pattern.iter(f"{NS}rect")]
    assert fills[0] == pic.legend["active-wrapup"] and len(set(fills)) == 2  # the colour, striped


def test_calls_are_marked(history):
    pic = picture(history)
    scale = (pic.right - pic.left) / 160
    outlined = [r.get("data-state") for r in pic.intervals(pic.lane("agent-1")) if r.get("stroke")]
    assert outlined == ["on-call"]
    marks = [p for p in pic.lane("C1").iter(f"{NS}path") if p.get("class") == "call"]
    assert len(marks) == 2  # parked by the call at 40 s, resumed when it ended at 1m40s
    tips = [float(p.get("d").split("L")[1].split()[0]) for p in marks]
    assert [round((tip - pic.left) / scale, 2) for tip in tips] == [40, 100]
    assert "parked-wrapup by a call at 2026-01-05T09:00:40.000Z" in marks[0].find(f"{NS}title").text
    assert not [p for p in pic.lane("C2").iter(f"{NS}path")]


def test_the_axis_has_round_readable_ticks(history):
    pic = picture(history)
    axis = next(g for g in pic.root.iter(f"{NS}g") if g.get("class") == "axis")
    assert [t.text for t in axis.iter(f"{NS}text")] == ["09:00:00", "09:00:30", "09:01:00", "09:01:30", "09:02:00",
                                                        "09:02:30"]


def test_html_page_holds_the_svg_with_a_hover_title_per_interval(history):
    out = history.db.parent / "t.html"
    history.ok("timeline", "-o", str(out))
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    pic = Picture(page[page.index("<svg"):page.index("</svg>") + 6])
    assert pic.keys() == list(LANES)
    titles = [r.find(f"{NS}title").text for r in pic.intervals(pic.lane("C1"))]
    assert titles[3] == ("C1: parked-wrapup, 2026-01-05T09:00:40.000Z to 2026-01-05T09:01:40.000Z (1m),"
                         " moved by a call")
    assert titles[0] == "C1: new, 2026-01-05T09:00:00.000Z to 2026-01-05T09:00:10.000Z (10s)"
    agent = [r.find(f"{NS}title").text for r in pic.intervals(pic.lane("agent-1"))]
    assert agent[3] == "agent-1: on-call, 2026-01-05T09:00:40.000Z to 2026-01-05T09:01:40.000Z (1m): a call"


def test_text_fits_the_terminal_width_with_a_letter_per_state(history):
    for columns in ("60", "100"):
        done = history.ok("timeline", env={"COLUMNS": columns})
        lines = done.out.splitlines()
        assert all(len(line) <= int(columns) for line in lines), done
        rows = {line.split()[0]: line for line in lines[1:4]}
        assert list(rows) == ["agent-1", "C1", "C2"]
        assert len(rows["C2"]) == int(columns)  # C2 lasts until now: its lane fills the width
        bar = rows["C1"][9:]
        assert bar.lstrip("n").startswith("A") and "W" in bar and "w" in bar and "*" in bar
        assert set(rows["agent-1"][9:]) >= {".", "H", "U", "C"}
        assert "w parked-wrapup (paused)" in done.out and "* a call moved the chat" in done.out
    assert "09:00" in done.out.splitlines()[5]  # the axis's labels


def test_filters_and_window(history):
    only = picture(history, "--chat", "C2")
    assert only.keys() == [("chat", "C2")]  # from its first change, 40 s, to now
    scale = (only.right - only.left) / 120
    assert [round(float(r.get("width")) / scale, 2) for r in only.intervals(only.lane("C2"))] == [110, 10]
    agent = picture(history, "--agent", "agent-1")
    assert agent.keys() == list(LANES)
    window = picture(history, "--from", "2026-01-05T09:00:20Z", "--to", "2026-01-05T09:01:00Z")
    assert window.keys() == list(LANES)
    scale = (window.right - window.left) / 40
    c1 = window.intervals(window.lane("C1"))
    assert [r.get("data-state") for r in c1] == ["active", "active-wrapup", "parked-wrapup"]
    assert [round(float(r.get("width")) / scale, 2) for r in c1] == [10, 10, 20]  # clipped to the window
    title = c1[0].find(f"{NS}title").text  # the hover title gives the real interval
    assert title == "C1: active, 2026-01-05T09:00:10.000Z to 2026-01-05T09:00:30.000Z (20s)"


def test_by_default_every_agent_and_the_latest_chats_from_the_oldest_ones_creation(history):
    history.ok("--agent", "agent-2", "agent", "login")
    history.ok("clock", "advance", "10s")
    assert picture(history).keys() == [("agent", "agent-1"), ("agent", "agent-2"), ("chat", "C1"), ("chat", "C2")]
    pic = picture(history, "--limit", "1")  # one chat, one agent
    assert pic.keys() == [("agent", "agent-1"), ("chat", "C2")]
    scale = (pic.right - pic.left) / 121  # from C2's creation at 40 s to a tenth after the last change shown
    rects = pic.intervals(pic.lane("agent-1"))
    assert [r.get("data-state") for r in rects] == ["on-call", "wrap-up", "available"]
    assert [round(float(r.get("width")) / scale, 2) for r in rects] == [60, 50, 11]
    assert picture(history, "--agent", "agent-1", "--limit", "1").keys() == [("agent", "agent-1"), ("chat", "C2")]


def test_timeline_changes_nothing_and_an_empty_database_draws_no_lane(cm, history):
    before = history.dump()
    history.ok("timeline")
    picture(history)
    assert history.dump() == before
    fresh = type(cm)(cm.db.parent / "fresh.db")
    fresh.ok("clock", "set", "2026-01-05T09:00:00Z")
    assert "nothing to show" in fresh.ok("timeline").out
    assert picture(fresh).keys() == []


@pytest.mark.parametrize("args, code, words", [
    (["--from", "yesterday"], 2, "--from: bad time 'yesterday'"),
    (["--to", "2026-13-01"], 2, "--to: bad time"),
    (["--from", "2026-01-05T09:01:00Z", "--to", "2026-01-05T09:00:00Z"], 2, "--from 2026-01-05T09:01:00Z is after --to"),
    (["--from", "2026-01-05T10:00:00Z"], 2, "is after --to 2026-01-05T09:02:40.000Z (the clock's now)"),
    (["--chat", "C9"], 4, "unknown chat C9"),
    (["--agent", "nobody"], 4, "unknown agent nobody"),
    (["--limit", "0"], 2, "--limit"),
    (["-o", "picture.png"], 2, "name an .svg or .html file"),
    (["-o", "picture"], 2, "name an .svg or .html file"),
])
def test_bad_options_are_refused_with_one_line(history, args, code, words):
    history.fails(code, "timeline", *args, match=words)


def test_output_never_overwrites_a_file_without_force_nor_the_database(history, tmp_path):
    out = tmp_path / "t.svg"
    out.write_text("mine")
    history.fails(2, "timeline", "-o", str(out), match="exists (use --force")
    assert out.read_text() == "mine"
    history.ok("timeline", "-o", str(out), "--force")
    assert out.read_text().startswith("<?xml")
    link = tmp_path / "db.svg"
    link.symlink_to(history.db)
    history.fails(2, "timeline", "-o", str(link), "--force", match="it is the database")
    as_svg = Chatemu(tmp_path / "db-named.svg")
    as_svg.ok("clock", "set", "2026-01-05T09:00:00Z")
    as_svg.fails(2, "timeline", "-o", str(as_svg.db), "--force", match="it is the database")


def test_a_scenario_line_can_draw(history, tmp_path):
    out = tmp_path / "s.svg"
    done = history.ok("run", "-", stdin=f"timeline -o {out}\ntimeline --chat C2\n")
    assert out.read_text().startswith("<?xml")
    assert [line.rsplit("-> ", 1)[1] for line in done.out.splitlines()] == ["done", "done"]  # one line per step
    first, second = map(json.loads, history.ok("run", "--json", "-", stdin=f"timeline -o {out} --force\n"
                                                                         "timeline --chat C2\n").out.splitlines())
    assert first["result"] == {"file": str(out), "lanes": 3}
    assert second["result"] == {"from": "2026-01-05T09:00:40.000Z", "to": "2026-01-05T09:02:40.000Z", "lanes": [
        {"kind": "chat", "id": "C2", "calls": [], "intervals": [
            {"state": "queued", "start": "2026-01-05T09:00:40.000Z", "end": "2026-01-05T09:02:30.000Z", "seconds": 110,
             "cause": "customer"},
            {"state": "new", "start": "2026-01-05T09:02:30.000Z", "end": "2026-01-05T09:02:40.000Z", "seconds": 10,
             "cause": "presentation"}]}]}

# == the picture in the README ===============================================================


def test_readme_picture_is_what_the_tool_draws_from_its_scenario(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert "![chatemu timeline of examples/scenarios/call-during-wrapup.chatemu](docs/timeline.svg)" in readme
    assert '$ export CHATEMU_DB="$(mktemp -d)/picture.db"\n$ chatemu run examples/scenarios/call-during-wrapup.chatemu' in readme
    command = "chatemu timeline --to 2026-01-05T09:07:00Z -o docs/timeline.svg"
    assert f"$ {command}" in readme
    cm = Chatemu(tmp_path / "readme.db")
    cm.ok("run", "-q", str(ROOT / "examples" / "scenarios" / "call-during-wrapup.chatemu"))
    out = tmp_path / "timeline.svg"
    cm.ok(*command.split()[1:-1], str(out))
    if os.environ.get("CHATEMU_REGENERATE_DOCS"):
        (ROOT / "docs" / "timeline.svg").write_bytes(out.read_bytes())
    assert out.read_bytes() == (ROOT / "docs" / "timeline.svg").read_bytes(), (
        "docs/timeline.svg is stale: rerun with CHATEMU_REGENERATE_DOCS=1")
    again = tmp_path / "again.svg"
    cm.ok(*command.split()[1:-1], str(again))
    assert again.read_bytes() == out.read_bytes()


# == where a window with no --to ends ==========================================================


def test_a_default_window_ends_a_tenth_of_the_story_after_its_last_change_at_most_now():
    rows = [ev(1, 0, "available"), ev(2, 10, "queued", chat="C1"), ev(3, 100, "new", chat="C1")]
    now = T0 + 3600 * S
    assert default_end(rows, None, now) == T0 + 110 * S  # 0 to 100 s: 10 s more
    assert default_end(rows, T0 + 50 * S, now) == T0 + 105 * S  # from --from: 50 s, 5 s more
    assert default_end(rows, None, T0 + 104 * S) == T0 + 104 * S  # never after now
    assert default_end([ev(1, 0, "available")], None, now) == T0 + 1 * S  # one instant: a second more
    assert default_end(rows, T0 + 200 * S, now) == now  # nothing changes in the window: until now
    assert default_end([], None, now) == now  # nothing to show
    assert default_end(rows + [ev(4, 4000, "closed", chat="C1")], None, now) == T0 + 110 * S  # rows after now: not yet


SHORT_STORY_LONG_WAIT = """\
chat new --customer Ann
clock advance 20s
chat activate C1
clock advance 1m
chat end C1
clock advance 1h
"""


def test_timeline_without_to_draws_the_story_not_the_wait_after_it(cm):
    cm.ok("run", "-q", "-", stdin=SHORT_STORY_LONG_WAIT)
    # the last change: C1 closed when its wrap-up ran out at 2m20s; a tenth more is 14 s
    assert cm.ok("timeline").out.splitlines()[0] == (
        "chatemu timeline, 2026-01-05T09:00:00.000Z to 2026-01-05T09:02:34.000Z (2m34s)")
    result = json.loads(cm.ok("run", "--json", "-", stdin="timeline\n").out)["result"]
    assert (result["from"], result["to"]) == ("2026-01-05T09:00:00.000Z", "2026-01-05T09:02:34.000Z")
    agent = next(lane for lane in result["lanes"] if lane["id"] == "agent-1")
    assert agent["intervals"][-1] == {"state": "available", "start": "2026-01-05T09:02:20.000Z",
                                      "end": "2026-01-05T09:02:34.000Z", "seconds": 14, "cause": "timer"}
    pic = picture(cm)  # the picture's axis spans the same window
    scale = (pic.right - pic.left) / 154
    widths = [round(float(r.get("width")) / scale, 2) for r in pic.intervals(pic.lane("C1"))]
    assert widths == [20, 60, 60]  # new, active, active-wrapup: the whole width, no hour of nothing
    # --to still ends where it says; a --from after the last change shows the states in force until now
    assert "to 2026-01-05T10:01:20.000Z" in cm.ok("timeline", "--to", "2026-01-05T10:01:20Z").out.splitlines()[0]
    assert "to 2026-01-05T10:01:20.000Z" in cm.ok("timeline", "--from", "2026-01-05T09:30:00Z").out.splitlines()[0]
