"""`chatemu simulate --live`: a real process driving customers and virtual agents on a fast
virtual clock while a person's agent (separate `chatemu` processes) takes its share; Ctrl-C
(SIGINT) stops it with everything so far kept, and a later run carries on."""

import signal
import subprocess
import time

from conftest import CHATEMU

MODEL = """\
seed = 5
length = "20m"
start = "2026-01-05T09:00:00Z"

[[queue]]
name = "sales"
arrivals_per_hour = 240
handle_time = { mean = "1m", distribution = "exponential" }
messages = { mean = 1 }

[[agents]]
count = 2
queues = ["sales"]
wrapup = "10s"
"""


def test_live_beside_a_person_then_ctrl_c_keeps_everything(cm, tmp_path):
    model = tmp_path / "live.toml"
    model.write_text(MODEL)
    cm.ok("queue", "add", "sales")
    cm.ok("agent", "login", agent="agent-1")
    cm.ok("agent", "queues", "set", "sales", agent="agent-1")
    live = subprocess.Popen([CHATEMU, "simulate", str(model), "--live", "--speed", "60", "--json"],
                            env=cm.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        mine = None
        deadline = time.monotonic() + 60
        while mine is None and time.monotonic() < deadline:  # the person's agent is presented its share
            inbox = cm.js("chat", "list", "--json", agent="agent-1")
            mine = next((c["id"] for c in inbox if c["state"] == "new"), None)
            time.sleep(0.2)
        assert mine is not None, "no chat was presented to the person's agent"
        cm.ok("chat", "activate", mine, agent="agent-1")
        cm.ok("chat", "send", mine, "hello from a person", agent="agent-1")
        time.sleep(1.5)
        live.send_signal(signal.SIGINT)
        out, err = live.communicate(timeout=60)
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 0, err
    import json

    summary = json.loads(out)
    assert not summary["finished"] and summary["customers"] > 0
    cm.ok("db", "check")
    events = cm.js("events", "--json")
    presented = {e["agent"] for e in events if e["cause"] == "presentation"}
    assert "agent-1" in presented and presented & {"sim-1", "sim-2"}, presented
    # the simulated customer talks to the person too, and leaves
    assert any(m["from"] == "customer" for m in cm.js("chat", "transcript", mine, "--json")) or \
        cm.js("chat", "show", mine, "--json")["state"] == "active"
    # the plan was kept: a batch run carries on to the end of the day
    rest = cm.js("simulate", str(model), "--json")
    assert rest["finished"] and rest["start"] == summary["start"]
    cm.ok("db", "check")
