"""Vendor profiles: ``profile list|show|apply``, ``config show`` naming the profile and what changed
after it, the ``profile`` event, ``expect config``, and what carries the fact (snapshots, bundles,
reset, ``db check``).

The pure table in-process (every value parses with its key, every value that differs from chatemu's
default has its source and link); the CLI as users run it: real ``chatemu`` processes (``cm``: a
fresh database on a virtual clock at 09:00)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import START, Chatemu

from chatemu.store import config as cfg
from chatemu.store import profiles
from chatemu.store.check import check
from chatemu.store.errors import UsageError

# == the table (pure) ==========================================================================


@pytest.mark.parametrize("name", profiles.NAMES)
def test_every_value_parses_with_its_key_and_every_key_is_set(name):
    profile = profiles.PROFILES[name]
    assert tuple(profile.values) == profiles.PROFILE_KEYS
    for key, value in profile.values.items():
        assert key in cfg.KEYS
        stored = cfg.parse_value(cfg.KEYS[key], value.text)  # raises on a value `config set` would refuse
        assert cfg.parse_value(cfg.KEYS[key], cfg.show(cfg.KEYS[key], stored)) == stored


@pytest.mark.parametrize("name", profiles.NAMES)
def test_every_value_other_than_the_default_has_a_source_and_a_link(name):
    for key, value in profiles.PROFILES[name].values.items():
        default = cfg.parse_value(cfg.KEYS[key], value.text) == cfg.KEYS[key].default
        if not default:
            assert value.source and value.link.startswith("https://"), (name, key, value)
        if value.source:
            assert value.link.startswith("https://"), (name, key, value)
        else:
            assert value.note, (name, key)  # why it stays at chatemu's default


def test_horizon_is_chatemus_defaults_and_the_others_differ_where_their_documentation_says():
    differs = {p["name"]: set(p["differs"]) for p in profiles.list_all()}
    assert differs == {
        "horizon": set(),
        "genesys": {"timeout-classification", "max-chats", "call-parks-chats"},
        "connect": {"offer-timeout", "call-parks-chats"},
        "omni": {"wrapup-mode", "wrapup-extensions", "call-parks-chats"},
        "flex": {"wrapup-mode", "offer-timeout", "call-parks-chats"},
    }
    values = {name: profiles.parsed(profiles.PROFILES[name]) for name in profiles.NAMES}
    assert values["genesys"]["max-chats"] == 4 and values["genesys"]["timeout-classification"] == "ININ-WRAP-UP-TIMEOUT"
    assert values["connect"]["offer-timeout"] == 20_000 and values["flex"]["offer-timeout"] == 120_000
    assert values["omni"]["wrapup-extensions"] == 0 and values["flex"]["wrapup-mode"] == "untimed"


def test_docs_profiles_md_lists_every_value_of_every_profile():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "profiles.md").read_text(encoding="utf-8")
    sections = text.split("\n### `")[1:]
    assert [section.split("`")[0] for section in sections] == list(profiles.NAMES)
    for name, section in zip(profiles.NAMES, sections):
        values = profiles.parsed(profiles.PROFILES[name])
        for key, value in profiles.PROFILES[name].values.items():
            row = f"| `{key}` | `{cfg.show(cfg.KEYS[key], values[key])}` | "
            assert row in section, (name, row)
            if value.source:
                assert value.link in section.split(row, 1)[1].split("\n", 1)[0], (name, key)


def test_an_unknown_profile_is_a_usage_error_naming_the_profiles():
    with pytest.raises(UsageError, match="unknown profile genesis .profiles: horizon, genesys, connect, omni, flex."):
        profiles.get("genesis")


def test_a_profile_event_is_its_own_webhook_type():
    from chatemu.store.webhooks import check_patterns, event_type, matches

    event = {"seq": 1, "at": "x", "agent": None, "chat": None, "from": None, "to": "flex", "cause": "profile"}
    assert event_type(event) == "config.profile"
    assert event_type({**event, "agent": "agent-1", "cause": "login"}) == "agent.status"
    assert matches(["config.*"], "config.profile") and not matches(["agent.*"], "config.profile")
    assert check_patterns(["config.profile", "config.*"]) == ["config.profile", "config.*"]


# == the commands ==============================================================================


def test_profile_list_and_show_as_text_and_json(cm):
    listed = cm.js("profile", "list")
    assert [p["name"] for p in listed] == ["horizon", "genesys", "connect", "omni", "flex"]
    text = cm.ok("profile", "list").out
    assert "Amazon Connect" in text and "offer-timeout, call-parks-chats" in text
    shown = cm.js("profile", "show", "connect")
    offer = next(v for v in shown["values"] if v["key"] == "offer-timeout")
    assert offer == {"key": "offer-timeout", "value": 20, "default": False, "per_queue": True, "documented": True,
                     "source": "You have 20 seconds to accept or reject a contact.", "quoted": True,
                     "link": "https://docs.aws.amazon.com/connect/latest/adminguide/chat-with-connect-contacts.html",
                     "note": offer["note"]}
    text = cm.ok("profile", "show", "connect").out
    assert 'offer-timeout = 20s\n      source: "You have 20 seconds to accept or reject a contact."' in text
    assert "      source (in our words): Pausing and resuming a contact is for tasks" in text
    assert "not documented: chatemu's default" in text
    assert not cm.db.exists() or cm.js("events") == []  # reading a profile changes nothing


@pytest.mark.parametrize("args", [
    ["show", "genesis"], ["apply", "genesis"], ["apply", "flex", "--queue", "bad name"], ["apply"], ["show"],
    ["apply", "'; DROP TABLE config; --"], ["apply", "9" * 400], ["apply", ""], ["show", "\u202e"],
    ["apply", "flex", "--queue", ""], ["apply", "flex", "--queue", "q" * 300], ["apply", "flex", "extra"],
    ["apply", "flex", "--bogus"], ["list", "flex"], ["bogus"]])
def test_bad_names_are_usage_errors_and_change_nothing(cm, args):
    cm.fails(2, "profile", *args)


def test_apply_sets_every_value_in_one_command_logs_one_event_and_config_show_names_it(cm):
    cm.ok("config", "set", "wrapup", "2m")
    applied = cm.js("profile", "apply", "genesys")
    assert applied == {"profile": "genesys", "queue": None, "previous": None, "global_not_set": [], "changed": [
        {"key": "wrapup", "from": 120, "to": 60},
        {"key": "timeout-classification", "from": None, "to": "ININ-WRAP-UP-TIMEOUT"},
        {"key": "max-chats", "from": 3, "to": 4},
        {"key": "call-parks-chats", "from": True, "to": False}]}
    shown = cm.js("config", "show")
    assert (shown["wrapup"], shown["max-chats"], shown["call-parks-chats"]) == (60, 4, False)
    assert shown["timeout-classification"] == "ININ-WRAP-UP-TIMEOUT"
    assert shown["profile"] == {"name": "genesys", "changed": []} and shown["queue_profiles"] == {}
    events = cm.js("events")
    assert events[-1] == {"seq": events[-1]["seq"], "at": "2026-01-05T09:00:00.000Z", "agent": None, "chat": None,
                          "from": None, "to": "genesys", "cause": "profile"}
    assert len(events) == 1
    assert cm.run("db", "check").code == 0
    # what the command prints for people: the event, then what changed
    done = cm.ok("profile", "apply", "connect")
    assert done.out.splitlines()[0] == "2026-01-05T09:00:00.000Z  profile: genesys -> connect (profile)"
    assert "  offer-timeout: off -> 20s" in done.out and "  max-chats: 4 -> 3" in done.out


def test_config_show_names_what_was_changed_after_the_profile(cm):
    cm.ok("profile", "apply", "flex")
    cm.ok("config", "set", "offer-timeout", "45s")
    cm.ok("config", "set", "max-chats", "2")
    cm.ok("config", "set", "routing", "queue-order")  # not a key a profile sets
    shown = cm.js("config", "show")
    assert shown["profile"] == {"name": "flex", "changed": [
        {"key": "offer-timeout", "profile": 120, "value": 45}, {"key": "max-chats", "profile": 3, "value": 2}]}
    assert "profile: flex (changed since: offer-timeout 2m -> 45s, max-chats 3 -> 2)" in cm.ok("config", "show").out
    cm.ok("config", "set", "offer-timeout", "2m")  # back to the profile's value: no longer a change
    assert [c["key"] for c in cm.js("config", "show")["profile"]["changed"]] == ["max-chats"]
    cm.ok("profile", "apply", "flex")
    assert cm.js("config", "show")["profile"] == {"name": "flex", "changed": []}
    assert "profile: flex (unchanged since)" in cm.ok("config", "show").out


def test_a_per_queue_apply_sets_only_that_queues_values_and_names_the_global_keys_it_left(cm):
    cm.ok("queue", "add", "sales")
    applied = cm.js("profile", "apply", "genesys", "--queue", "sales")
    assert applied["queue"] == "sales"
    assert applied["global_not_set"] == [{"key": "max-chats", "value": 3, "profile": 4},
                                         {"key": "call-parks-chats", "value": True, "profile": False}]
    shown = cm.js("config", "show")
    assert shown["max-chats"] == 3 and shown["call-parks-chats"] is True and shown["timeout-classification"] is None
    assert shown["queues"]["sales"]["timeout-classification"] == "ININ-WRAP-UP-TIMEOUT"
    assert "max-chats" not in shown["queues"]["sales"]
    assert shown["profile"] is None and shown["queue_profiles"] == {"sales": {"name": "genesys", "changed": []}}
    text = cm.ok("profile", "apply", "genesys", "--queue", "sales").out
    assert "not set, global keys: max-chats (profile 4, now 3), call-parks-chats (profile off, now on)" in text
    cm.ok("config", "set", "wrapup", "30s", "--queue", "sales")
    assert "profile for queue sales: genesys (changed since: wrapup 1m -> 30s)" in cm.ok("config", "show").out
    conn = sqlite3.connect(cm.db)
    try:
        assert conn.execute("SELECT queue, to_state FROM events WHERE cause = 'profile'").fetchall() == [
            ("sales", "genesys"), ("sales", "genesys")]
    finally:
        conn.close()
    # once queues are added, an unknown queue is exit 4 and nothing changes
    cm.fails(4, "profile", "apply", "flex", "--queue", "slaes", match="unknown queue slaes")
    assert cm.run("db", "check").code == 0


def test_a_global_apply_leaves_a_queues_own_values_which_still_win(cm):
    cm.ok("config", "set", "offer-timeout", "30s", "--queue", "vip")
    cm.ok("profile", "apply", "connect")
    assert cm.js("config", "show")["queues"]["vip"]["offer-timeout"] == 30
    cm.ok("expect", "config", "vip", "offer-timeout=30s")
    cm.ok("expect", "config", "offer-timeout=20s", "profile=connect")


def test_expect_config_compares_values_as_config_set_takes_them(cm):
    cm.ok("profile", "apply", "omni")
    cm.ok("expect", "config", "profile=omni", "wrapup-mode=untimed", "wrapup-extensions=0", "wrapup=1m",
          "call-parks-chats=no", "offer-timeout=off")
    done = cm.run("expect", "config", "wrapup=90s", "profile=flex")
    assert done.code == 1 and done.err.splitlines() == ["config.wrapup: expected 90s, got 1m",
                                                       "config.profile: expected flex, got omni"]
    cm.fails(2, "expect", "config", "wrapup=soon")
    cm.fails(2, "expect", "config", "nokey=1", match="unknown field 'nokey' of config")
    cm.fails(2, "expect", "config", "sales")
    done = cm.run("expect", "config", "profile=null", "--json")
    assert done.code == 1 and done.json == {"ok": False, "subject": "config", "checks": [
        {"field": "profile", "expected": "null", "got": "omni", "ok": False}]}


def test_run_applies_a_profile_in_a_scenario_and_names_it(cm, tmp_path):
    file = tmp_path / "p.chatemu"
    file.write_text(f"clock set {START}\nprofile apply connect --queue sales\nexpect config sales offer-timeout=20s\n")
    done = cm.run("run", "--fresh", str(file))
    assert done.code == 0, done
    assert "profile apply connect --queue sales  -> profile connect applied for queue sales, 1 value(s) changed" in done.out
    assert "  2026-01-05T09:00:00.000Z  profile: (none) -> connect (profile)" in done.out


# == what carries the fact =====================================================================


def test_snapshots_bundles_and_reset_carry_the_profile(cm, tmp_path):
    cm.ok("profile", "apply", "genesys")
    cm.ok("snapshot", "save", "gen")
    cm.ok("profile", "apply", "flex")
    cm.ok("config", "set", "max-chats", "2")
    bundle = tmp_path / "b.json"
    cm.ok("export", str(bundle))
    assert {"queue": "", "key": "profile", "value": "flex"} in json.loads(bundle.read_text())["state"]["config"]
    cm.ok("snapshot", "restore", "gen")
    assert cm.js("config", "show")["profile"] == {"name": "genesys", "changed": []}
    other = Chatemu(tmp_path / "other.db")
    other.ok("import", str(bundle))
    assert other.js("config", "show")["profile"] == {"name": "flex", "changed": [
        {"key": "max-chats", "profile": 3, "value": 2}]}
    assert other.run("db", "check").code == 0
    cm.ok("reset", "--yes")
    assert cm.js("config", "show")["profile"] is None


@pytest.mark.parametrize("statements, message", [
    (["UPDATE config SET value = 'genesis' WHERE key = 'profile'"], "config: profile holds 'genesis', not a known profile"),
    (["UPDATE events SET to_state = 'genesis' WHERE cause = 'profile'"], "a profile event names a chat or an agent, or a profile"),
    (["UPDATE events SET agent = 'agent-1' WHERE cause = 'profile'"], "a profile event names a chat or an agent"),
    (["UPDATE events SET cause = 'login' WHERE cause = 'profile'"], "names neither a chat nor an agent"),
])
def test_db_check_holds_the_profile_row_and_event_to_their_rules(cm, statements, message):
    cm.ok("profile", "apply", "omni")
    conn = sqlite3.connect(cm.db, isolation_level=None)
    try:
        assert check(conn) == []
        for sql in statements:
            conn.execute(sql)
        found = check(conn)
    finally:
        conn.close()
    assert any(message in line for line in found), found


# == the Python API and the server's table =====================================================


def test_the_python_api_lists_shows_and_applies(tmp_path):
    from chatemu.cli.api import Emulator

    emu = Emulator(tmp_path / "api.db")
    emu.set_clock(START)
    assert [p["name"] for p in emu.profiles()] == list(profiles.NAMES)
    assert emu.profile("flex")["title"] == "Twilio Flex (TaskRouter)"
    assert emu.apply_profile("flex")["changed"][0] == {"key": "wrapup-mode", "from": "timed", "to": "untimed"}
    assert emu.settings()["profile"]["name"] == "flex"
    with pytest.raises(UsageError):
        emu.apply_profile("nope")
    with pytest.raises(UsageError):
        emu.apply_profile(3)


def test_the_server_routes_and_the_trainer_only_policy():
    from chatemu.server.routes import ROWS
    from chatemu.server.tokens import POLICY, Token, authorize

    assert ("POST", "/profiles/{name}/apply", "profile apply {name}", "queue=--queue") in ROWS
    assert {("GET", "/profiles"), ("GET", "/profiles/{name}")} <= {(row[0], row[1]) for row in ROWS}
    for words in (("profile", "list"), ("profile", "show"), ("profile", "apply")):
        assert POLICY[words] == frozenset()
        agent = Token(1, "demo", "agent", "a1", "2026-01-05T09:00:00.000Z", None)
        assert authorize(agent, False, "demo", words, "a1").status == 403
        trainer = Token(2, "demo", "trainer", None, "2026-01-05T09:00:00.000Z", None)
        assert authorize(trainer, False, "demo", words, None).allowed
