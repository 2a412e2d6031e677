"""`chatemu stats agents` and `chatemu stats queues`: every figure of a scripted day, worked
out by hand below, through real ``chatemu`` processes on a virtual clock; the window
(--since/--until), the JSON shape, figures that survive a snapshot restore and an
export → import, figures that come from the event log alone, and bad input."""

from __future__ import annotations

import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from chatemu.store import stats
from chatemu.store.engine import Engine

from conftest import START, Chatemu

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z


def iso(t: int) -> str:
    """The instant ``t`` seconds after 09:00:00 (T0), as chatemu prints it."""
    from chatemu.store.timefmt import format_time

    return format_time(T0 + t * 1000)


def play_day(cm: Chatemu) -> None:
    """The scripted day.  Times are seconds after 09:00:00; A1 = agent-1, A2 = agent-2.
    Wrap-up 60 s, one extension 60 s (defaults); service level 20 s, 30 s for sales."""
    a2 = {"agent": "agent-2"}

    def at(t: int) -> None:
        cm.ok("clock", "set", iso(t))

    cm.ok("config", "set", "service-level", "30s", "--queue", "sales")
    cm.ok("agent", "login")                                  # 0: A1 available
    cm.ok("chat", "new")                                     # 0: C1 queued default, presented to A1 (wait 0)
    at(30); cm.ok("chat", "activate", "C1")                  # 30: A1 handling-chat
    at(90); cm.ok("chat", "new", "--queue", "sales")         # 90: C2 queued sales (A1 busy)
    at(120); cm.ok("chat", "end", "C1")                      # 120: C1 active-wrapup, A1 wrap-up (due 180)
    at(150); cm.ok("chat", "wrapup", "C1", "--extend")       # 150: A1's extension (due 240)
    at(200); cm.ok("chat", "wrapup", "C1", "--finish")       # 200: C1 closed by A1, A1 available;
    #                                                          C2 presented to A1 (wait 110)
    at(210); cm.ok("chat", "activate", "C2")                 # 210: A1 handling-chat
    at(240); cm.ok("agent", "login", **a2)                   # 240: A2 available
    at(260); cm.ok("chat", "transfer", "C2", "--agent", "agent-2")  # 260: A1's transfer; A1 available
    at(270); cm.ok("chat", "activate", "C2", **a2)           # 270: A2 handling-chat
    at(300); cm.ok("chat", "new")                            # 300: C3 queued default, presented to A1 (wait 0)
    at(320); cm.ok("chat", "activate", "C3")                 # 320: A1 handling-chat
    at(325); cm.ok("agent", "break")                         # 325: A1 handling-chat -> handling-chat (break)
    at(330); cm.ok("chat", "return", "C3")                   # 330: A1's return; C3 queued default; A1 break
    at(360); cm.ok("chat", "end", "C2")                      # 360: C2 active-wrapup, A2 wrap-up (due 420)
    at(450)                                                  # 420: C2 closed by the timer, A2 available;
    #                                                          C3 presented to A2 (wait 420 - 330 = 90)
    at(480); cm.ok("chat", "activate", "C3", **a2)           # 480: A2 handling-chat
    at(500); cm.ok("chat", "call-start", **a2)               # 500: C3 parked, A2 on-call
    at(540); cm.ok("chat", "call-end", **a2)                 # 540: A2 available (C3 stays parked)
    at(560); cm.ok("chat", "end", "C3")                      # 560: C3 parked-wrapup (paused, 60 s left)
    at(570); cm.ok("chat", "activate", "C3", **a2)           # 570: C3 active-wrapup, A2 wrap-up (due 630)
    at(580); cm.ok("chat", "wrapup", "C3", "--extend", **a2)  # 580: A2's extension
    at(600); cm.ok("chat", "wrapup", "C3", "--finish", **a2)  # 600: C3 closed by A2, A2 available
    cm.ok("chat", "new", "--queue", "sales")                 # 600: C4 queued sales, presented to A2 (wait 0)
    at(610); cm.ok("chat", "new")                            # 610: C5 queued default (A2 busy, A1 on break)
    at(620); cm.ok("chat", "new", "--queue", "sales")        # 620: C6 queued sales
    at(635); cm.ok("chat", "take", "C6", **a2)               # 635: A2 takes C6 (wait 15)
    at(640); cm.ok("chat", "end", "C5")                      # 640: C5 abandoned (wait 30)
    at(645); cm.ok("chat", "end", "C6")                      # 645: C6 new -> parked-wrapup
    at(650); cm.ok("chat", "activate", "C4", **a2)           # 650: A2 handling-chat
    at(655); cm.ok("agent", "break", **a2)                   # 655: A2 handling-chat -> handling-chat (break)
    at(660); cm.ok("chat", "transfer", "C4", "--queue", "default", **a2)  # 660: A2's transfer; C4 queued
    #                                                          default; A2 break (nobody free)
    at(670); cm.ok("chat", "activate", "C6", **a2)           # 670: C6 active-wrapup, A2 wrap-up
    at(690); cm.ok("chat", "wrapup", "C6", "--finish", **a2)  # 690: C6 closed by A2, A2 break
    at(700); cm.ok("agent", "available")                     # 700: A1 available; C4 presented to A1 (wait 40)
    at(720); cm.ok("chat", "activate", "C4")                 # 720: A1 handling-chat
    at(780); cm.ok("chat", "wrapup", "C4")                   # 780: C4 active-wrapup, A1 wrap-up (due 840)
    at(800); cm.ok("chat", "park", "C4")                     # 800: C4 parked-wrapup (40 s left), A1 available
    at(830); cm.ok("chat", "activate", "C4")                 # 830: C4 active-wrapup (due 870), A1 wrap-up
    at(900)                                                  # 870: C4 closed by the timer, A1 available
    cm.ok("agent", "logout")                                 # 900: A1 logged-out
    at(920); cm.ok("chat", "new", "--inbox", **a2)           # 920: C7 new in A2's inbox (never queued)
    at(930); cm.ok("chat", "activate", "C7", **a2)           # 930: A2 handling-chat
    at(960); cm.ok("chat", "wrapup", "C7", **a2)             # 960: C7 active-wrapup, A2 wrap-up
    at(990); cm.ok("chat", "wrapup", "C7", "--finish", **a2)  # 990: C7 closed by A2, A2 break
    at(1000); cm.ok("chat", "new", "--queue", "sales")       # 1000: C8 queued sales, still waiting at the end


def copy_db(source: Path, target: Path) -> None:
    """A consistent copy of a database in WAL mode (the file alone may lack the last commits)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.fixture(scope="module")
def day_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("day")
    cm = Chatemu(folder / "day.db")
    cm.ok("clock", "set", START)
    play_day(cm)
    return cm.db


@pytest.fixture
def day(day_db, tmp_path) -> Chatemu:
    """A copy of the scripted day's database, its clock at 09:16:40 (T = 1000)."""
    copy_db(day_db, tmp_path / "chatemu.db")
    return Chatemu(tmp_path / "chatemu.db")


def statuses(available=0, handling=0, wrapup=0, on_call=0, brk=0, logged_out=0, unavailable=0) -> dict:
    return {"available": available, "handling-chat": handling, "wrap-up": wrapup, "on-call": on_call,
            "break": brk, "logged-out": logged_out, "unavailable": unavailable, "not-responding": 0}


def agent(name, status_seconds, handled, avg_handle, avg_wrapup, extensions, transfers, returns) -> dict:
    return {"agent": name, "status_seconds": status_seconds, "handled": handled, "average_handle_seconds": avg_handle,
            "average_wrapup_seconds": avg_wrapup, "extensions": extensions, "transfers": transfers, "returns": returns,
            "missed_offers": 0, "overruns": 0, "overrun_seconds": 0}  # no clock beyond wrap-up runs in this day


def queue(name, offered, presented, abandoned, waits, avg, longest, level_s, within, level, rejected=0) -> dict:
    return {"queue": name, "offered": offered, "presented_or_taken": presented, "abandoned": abandoned,
            "rejected": rejected,
            "waits_ended": waits, "average_wait_seconds": avg, "longest_wait_seconds": longest,
            "service_level_seconds": level_s, "within_service_level": within, "service_level": level,
            "reply_alerts": 0}


# == the whole day ==========================================================================

# agent-1's statuses, interval by interval (seconds after 09:00):
#   available 0-30, 200-210, 260-320, 700-720, 800-830, 870-900: 30 + 10 + 60 + 20 + 30 + 30 = 180
#   handling-chat 30-120, 210-260, 320-325, 325-330, 720-780:    90 + 50 + 5 + 5 + 60 = 210
#   wrap-up 120-200, 780-800, 830-870:                           80 + 20 + 40 = 140
#   break 330-700: 370; logged-out 900-1000 (now): 100;           total 1000
# handled: C1 (closed 200: handle 200 - 0 = 200, wrap-up 200 - 120 = 80) and C4 (closed 870:
#   first in an inbox at 600 (A2), so handle 270; wrap-up 780-800 + 830-870 = 60):
#   average handle (200 + 270) / 2 = 235, wrap-up (80 + 60) / 2 = 70
# made: the extension at 150, the transfer of C2 at 260, the return of C3 at 330
AGENT_1 = agent("agent-1", statuses(available=180, handling=210, wrapup=140, brk=370, logged_out=100),
                2, 235, 70, 1, 1, 1)
# agent-2's statuses, from its login at 240:
#   available 240-270, 420-480, 540-570, 600-650:          30 + 60 + 30 + 50 = 170
#   handling-chat 270-360, 480-500, 650-655, 655-660, 930-960: 90 + 20 + 5 + 5 + 30 = 150
#   wrap-up 360-420, 570-600, 670-690, 960-990:            60 + 30 + 20 + 30 = 140
#   on-call 500-540: 40; break 660-670, 690-930, 990-1000: 10 + 240 + 10 = 260; total 760
# handled: C2 (closed 420; first in an inbox 200 with A1: handle 220; wrap-up 360-420 = 60),
#   C3 (closed 600; first in an inbox 300: 300; wrap-up 570-600 = 30), C6 (taken 635, closed 690:
#   55; wrap-up 670-690 = 20), C7 (created in the inbox 920, closed 990: 70; wrap-up 960-990 = 30):
#   average handle (220 + 300 + 55 + 70) / 4 = 645 / 4 = 161.25; wrap-up (60 + 30 + 20 + 30) / 4 = 35
# made: the extension at 580, the transfer of C4 at 660; no return
AGENT_2 = agent("agent-2", statuses(available=170, handling=150, wrapup=140, on_call=40, brk=260),
                4, 161.25, 35, 1, 1, 0)

# default (service level 20 s): offered C1 at 0, C3 at 300, C3 returned at 330, C5 at 610, C4
#   transferred in at 660 = 5 (C7 was created in an inbox: never offered);
#   presented: C1 at 0 (wait 0), C3 at 300 (0), C3 at 420 (90), C4 at 700 (40) = 4;
#   abandoned: C5 at 640 (wait 30) = 1;
#   waits 0, 0, 90, 40, 30: average 160 / 5 = 32, longest 90; within 20 s: 2 of 5 = 0.4
DEFAULT = queue("default", 5, 4, 1, 5, 32, 90, 20, 2, 2 / 5)
# sales (service level 30 s): offered C2 at 90, C4 at 600, C6 at 620, C8 at 1000 = 4;
#   presented or taken: C2 at 200 (wait 110), C4 at 600 (0), C6 taken at 635 (15) = 3; none abandoned;
#   C8 still waits (not a wait that ended); average 125 / 3 = 41.666… -> 41.667, longest 110;
#   within 30 s: C4 and C6, 2 of 3
SALES = queue("sales", 4, 3, 0, 3, 41.667, 110, 30, 2, 2 / 3)

WHOLE_AGENTS = {"since": None, "until": iso(1000), "agents": [AGENT_1, AGENT_2]}
WHOLE_QUEUES = {"since": None, "until": iso(1000), "queues": [DEFAULT, SALES]}


def test_agents_over_the_whole_day(day):
    assert day.js("stats", "agents") == WHOLE_AGENTS


def test_queues_over_the_whole_day(day):
    assert day.js("stats", "queues") == WHOLE_QUEUES


def test_plain_text_is_an_aligned_table_of_the_same_figures(day):
    agents = day.ok("stats", "agents").out.splitlines()
    assert agents[0] == f"agents from the beginning to {iso(1000)}"
    assert agents[1].split() == ["AGENT", "AVAILABLE", "HANDLING-CHAT", "WRAP-UP", "ON-CALL", "BREAK", "LOGGED-OUT",
                                 "HANDLED", "AVG", "HANDLE", "AVG", "WRAP-UP", "EXTENSIONS", "TRANSFERS", "RETURNS"]
    assert agents[2].split() == ["agent-1", "3m", "3m30s", "2m20s", "0s", "6m10s", "1m40s", "2", "3m55s", "1m10s",
                                 "1", "1", "1"]
    assert agents[3].split() == ["agent-2", "2m50s", "2m30s", "2m20s", "40s", "4m20s", "0s", "4", "2m41.25s", "35s",
                                 "1", "1", "0"]
    assert starts(agents[2]) == starts(agents[3]) == starts(agents[1])  # columns aligned
    queues = day.ok("stats", "queues").out.splitlines()
    assert queues[0] == f"queues from the beginning to {iso(1000)}"
    assert queues[2].split() == ["default", "5", "4", "1", "32s", "1m30s", "40.0%", "(2/5", "within", "20s)"]
    assert queues[3].split() == ["sales", "4", "3", "0", "41.667s", "1m50s", "66.7%", "(2/3", "within", "30s)"]
    assert starts(queues[2]) == starts(queues[3]) == starts(queues[1])


def starts(line: str) -> list[int]:
    """Where each column of a plain table line begins (columns are two or more spaces apart)."""
    import re

    return [0] + [m.end() for m in re.finditer(r" {2,}", line)]


# == the window ===============================================================================

# --since 09:05:00 (300) --until 09:12:00 (720): intervals clipped to [300, 720], events at
# 300 <= t < 720.
#   agent-1: available 300-320 + 700-720 = 40, handling-chat 320-330 = 10, break 330-700 = 370
#     (total 420); nothing closed (C1 at 200, C4 at 870); only the return at 330 made
#   agent-2: available 420-480, 540-570, 600-650 = 60 + 30 + 50 = 140; handling-chat 300-360
#     (begun at 270), 480-500, 650-660 = 60 + 20 + 10 = 90; wrap-up 360-420, 570-600, 670-690 =
#     60 + 30 + 20 = 110; on-call 40; break 660-670 + 690-720 (to the window's end) = 40 (total 420);
#     handled C2 (220, 60), C3 (300, 30), C6 (55, 20): handle 575 / 3 = 191.666… -> 191.667,
#     wrap-up 110 / 3 = 36.666… -> 36.667; the extension at 580 and the transfer at 660
#   default: offered C3 at 300 and 330, C5 at 610, C4 at 660 = 4; presented C3 at 300 (0) and
#     420 (90), C4 at 700 (40) = 3; abandoned C5 (30); waits 0, 90, 40, 30: 160 / 4 = 40, longest
#     90, within 20 s 1 of 4
#   sales: offered C4 at 600 and C6 at 620 = 2 (C2 at 90 and C8 at 1000 are outside);
#     presented C4 at 600 (0), taken C6 at 635 (15); average 7.5, longest 15, both within 30 s
WINDOW = ["--since", iso(300), "--until", iso(720)]


def test_agents_in_a_window(day):
    assert day.js("stats", "agents", *WINDOW) == {
        "since": iso(300), "until": iso(720), "agents": [
            agent("agent-1", statuses(available=40, handling=10, brk=370), 0, None, None, 0, 0, 1),
            agent("agent-2", statuses(available=140, handling=90, wrapup=110, on_call=40, brk=40),
                  3, 191.667, 36.667, 1, 1, 0),
        ]}


def test_queues_in_a_window(day):
    assert day.js("stats", "queues", *WINDOW) == {
        "since": iso(300), "until": iso(720), "queues": [
            queue("default", 4, 3, 1, 4, 40, 90, 20, 1, 1 / 4),
            queue("sales", 2, 2, 0, 2, 7.5, 15, 30, 2, 1.0),
        ]}


def test_an_event_at_until_belongs_to_the_next_window_and_windows_add_up(day):
    """[start, 600) and [600, now) split the day: counts and times add up to the whole day's."""
    first = day.js("stats", "agents", "--until", iso(600))
    second = day.js("stats", "agents", "--since", iso(600))
    # C3 closed at exactly 600: in the second window, not the first.
    assert [a["handled"] for a in first["agents"]] == [1, 1]  # C1 (agent-1), C2 (agent-2)
    assert [a["handled"] for a in second["agents"]] == [1, 3]  # C4; C3, C6, C7
    for whole, a, b in zip(WHOLE_AGENTS["agents"], first["agents"], second["agents"]):
        for key in ("handled", "extensions", "transfers", "returns"):
            assert a[key] + b[key] == whole[key]
        for status, seconds in whole["status_seconds"].items():
            assert a["status_seconds"][status] + b["status_seconds"][status] == seconds
    q1 = day.js("stats", "queues", "--until", iso(600))
    q2 = day.js("stats", "queues", "--since", iso(600))
    # C4 offered to sales and presented at exactly 600: both in the second window.
    assert [q["offered"] for q in q1["queues"]] == [3, 1] and [q["offered"] for q in q2["queues"]] == [2, 3]
    for whole, a, b in zip(WHOLE_QUEUES["queues"], q1["queues"], q2["queues"]):
        for key in ("offered", "presented_or_taken", "abandoned", "waits_ended", "within_service_level"):
            assert a[key] + b[key] == whole[key]


def test_until_after_now_counts_no_time_that_has_not_passed(day):
    """The current status lasts until now (1000), however late --until is."""
    later = day.js("stats", "agents", "--until", "2026-01-05T10:00:00Z")
    assert later["until"] == "2026-01-05T10:00:00.000Z"
    assert later["agents"] == WHOLE_AGENTS["agents"]
    assert day.js("stats", "queues", "--until", "2026-01-05T10:00:00Z")["queues"] == WHOLE_QUEUES["queues"]


def test_a_window_before_anything_happened_is_empty(day):
    """No event before 08:00: no agent or queue named yet."""
    assert day.js("stats", "agents", "--until", "2026-01-05T08:00:00Z") == {
        "since": None, "until": "2026-01-05T08:00:00.000Z", "agents": []}
    assert day.ok("stats", "queues", "--until", "2026-01-05T08:00:00Z").out == \
        "queues from the beginning to 2026-01-05T08:00:00.000Z: no queues\n"


def test_an_empty_window_names_the_agents_with_nothing_in_it(day):
    """--since = --until: every figure zero (or null), the agents and queues still listed."""
    done = day.js("stats", "agents", "--since", iso(500), "--until", iso(500))
    assert done["agents"] == [agent(name, statuses(), 0, None, None, 0, 0, 0) for name in ("agent-1", "agent-2")]
    done = day.js("stats", "queues", "--since", iso(500), "--until", iso(500))
    assert done["queues"] == [queue(name, 0, 0, 0, 0, None, None, level, 0, None)
                              for name, level in (("default", 20), ("sales", 30))]


def test_stats_on_an_empty_database(cm):
    assert cm.js("stats", "agents") == {"since": None, "until": "2026-01-05T09:00:00.000Z", "agents": []}
    assert cm.ok("stats", "agents").out == "agents from the beginning to 2026-01-05T09:00:00.000Z: no agents\n"
    assert cm.js("stats", "queues")["queues"] == []


# == from the event log alone ===================================================================


def test_a_restored_snapshot_gives_the_same_figures(day):
    day.ok("snapshot", "save", "end-of-day")
    day.ok("clock", "advance", "1h")
    day.ok("agent", "login")  # more happens after the snapshot
    day.ok("chat", "new", "--queue", "vip")
    assert day.js("stats", "agents") != WHOLE_AGENTS
    day.ok("snapshot", "restore", "end-of-day")
    assert day.js("stats", "agents") == WHOLE_AGENTS
    assert day.js("stats", "queues") == WHOLE_QUEUES
    assert day.js("stats", "agents", *WINDOW)["agents"][1]["handled"] == 3


def test_export_then_import_gives_the_same_figures(day, tmp_path):
    bundle = tmp_path / "day.json"
    day.ok("export", str(bundle))
    other = Chatemu(tmp_path / "imported.db")
    other.ok("import", str(bundle))
    for words in (["agents"], ["queues"], ["agents", *WINDOW], ["queues", *WINDOW]):
        assert other.js("stats", *words) == day.js("stats", *words)


def test_figures_come_from_the_event_log_alone(day):
    """With the chats and agents tables emptied behind chatemu's back, nothing changes."""
    before = (day.js("stats", "agents"), day.js("stats", "queues", *WINDOW))
    conn = sqlite3.connect(day.db)
    with conn:
        conn.execute("DELETE FROM chats")
        conn.execute("DELETE FROM agents")
        conn.execute("DELETE FROM queues")
    conn.close()
    assert (day.js("stats", "agents"), day.js("stats", "queues", *WINDOW)) == before


def test_the_events_read_are_enough(day):
    """The folds read a subset of the log (``AGENT_EVENTS``, ``QUEUE_EVENTS``); on every event
    they give the same figures, over the day and over windows."""
    conn = sqlite3.connect(day.db)
    try:
        rows = conn.execute("SELECT at_ms, agent, chat, from_state, to_state, cause, queue FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()
    now = T0 + 1000_000
    levels = {"default": 20_000, "sales": 30_000}
    eng = Engine(str(day.db))
    for since, until in ((None, None), (300, 720), (600, None), (None, 600), (0, 1000), (655, 656)):
        since_ms = None if since is None else T0 + since * 1000
        until_ms = None if until is None else T0 + until * 1000
        window = stats.Window(since_ms, until_ms, now)
        every = [r for r in rows if r[0] < window.end]
        assert {"since": window.shown()["since"], "until": window.shown()["until"],
                "agents": stats.fold_agents((r[:6] for r in every), window)} == eng.stats_agents(since_ms, until_ms).value
        assert stats.fold_queues(((r[0], r[2], r[3], r[4], r[6]) for r in every), window, levels.__getitem__) == \
            eng.stats_queues(since_ms, until_ms).value["queues"]


def test_the_folds_keep_no_state_for_closed_chats():
    """Memory stays bounded: 20,000 chats, each queued, presented, active, wrapped up and closed,
    leave nothing behind (peak far below what keeping every chat would take)."""
    window = stats.Window(None, None, 10**12)

    def rows(n):
        for i in range(n):
            chat, agent, t = f"C{i}", f"agent-{i % 10}", i * 1000
            yield t, None, chat, None, "queued", "customer", "default"
            yield t + 1, agent, chat, "queued", "new", "presentation", "default"
            yield t + 2, agent, chat, "new", "active", "activate", "default"
            yield t + 3, agent, chat, "active", "active-wrapup", "wrapup", "default"
            yield t + 4, agent, chat, "active-wrapup", "closed", "finish", "default"

    tracemalloc.start()
    try:
        found = stats.fold_agents((r[:6] for r in rows(20_000)), window)
        queues = stats.fold_queues(((r[0], r[2], r[3], r[4], r[6]) for r in rows(20_000)), window, lambda q: 20_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(a["handled"] for a in found) == 20_000 and found[0]["average_handle_seconds"] == 0.003
    assert queues[0]["waits_ended"] == 20_000 and queues[0]["service_level"] == 1.0
    assert peak < 200_000, peak


# == bad input ====================================================================================


@pytest.mark.parametrize("command", ["agents", "queues"])
@pytest.mark.parametrize("args, words", [
    (["--since", "yesterday"], "bad time 'yesterday'"),
    (["--until", "2026-13-01T00:00:00Z"], "bad time '2026-13-01T00:00:00Z'"),
    (["--since", "2026-01-05T09:00:00.0001Z"], "finer than a millisecond"),
    (["--since", ""], "bad time"),
    (["--since", iso(720), "--until", iso(300)], f"--since {iso(720)} is after --until {iso(300)}"),
    (["--since"], "requires an argument"),
    (["--bogus"], "No such option"),
])
def test_bad_input_is_one_error_line_and_exit_2(day, command, args, words):
    done = day.fails(2, "stats", command, "--json", *args)
    assert words in done.err


def test_stats_without_a_command_shows_its_help(day):
    done = day.run("stats")
    assert "agents" in done.out and "queues" in done.out and "Traceback" not in done.err
