"""More command-line conventions: what `chat list --state` looks at, one way to show durations,
`config set` echoing what it stored, the events table's columns, `db path` creating nothing,
--help pages (examples, no machine limits), `export --pretty` and the bundle's JSON Schema,
and shell completion."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CHATEMU, START, Chatemu, script_env
from test_narrow_tables import screen_rows

ROOT = Path(__file__).resolve().parent.parent


def scenario(cm: Chatemu, tmp_path: Path, text: str) -> None:
    """Many steps in one process."""
    path = tmp_path / "steps.chatemu"
    path.write_text(text)
    cm.ok("run", "--quiet", str(path))


# == 1. chat list: a state no inbox holds lists every chat in it ==============================


def test_chat_list_of_a_state_no_inbox_holds_looks_at_every_chat(cm, tmp_path):
    scenario(cm, tmp_path, "chat new --customer Ann\nchat activate C1\nchat end C1\nchat wrapup C1 --finish\n"
                           "chat new --customer Bob\nchat new --customer Cat\n--agent agent-2 agent login\n"
                           "expect chat C3 agent=agent-2 state=new\n")
    # C1 closed, C2 new in agent-1's inbox, C3 new in agent-2's: nothing queued yet
    assert [c["id"] for c in cm.js("chat", "list", "--state", "closed")] == ["C1"]
    assert cm.js("chat", "list", "--state", "new") == [cm.chat("C2")]  # an inbox state: the inbox only
    cm.ok("chat", "new", "--customer", "Dan")
    assert [c["id"] for c in cm.js("chat", "list", "--state", "queued")] == ["C4"]
    assert cm.js("chat", "list", "--state", "queued") == cm.js("chat", "list", "--all", "--state", "queued")
    out = cm.ok("chat", "list", "--state", "queued").out.splitlines()
    assert out[0] == "all queued chats (no inbox holds one)"
    assert out[1].split()[:3] == ["ID", "STATE", "AGENT"] and out[2].split()[:3] == ["C4", "queued", "-"]
    assert cm.ok("chat", "list", "--state", "queued", "--queue", "sales").out == \
        "all queued chats (no inbox holds one): no chats\n"
    # --ids: the same chats, ids only
    assert cm.ok("chat", "list", "--ids").out == "C2\n"
    assert cm.ok("chat", "list", "--all", "--ids").out == "C1\nC2\nC3\nC4\n"
    assert cm.js("chat", "list", "--state", "queued", "--ids") == ["C4"]
    assert cm.ok("chat", "list", "--state", "parked", "--ids").out == ""
    cm.fails(2, "chat", "list", "--state", "waiting", "--ids", match="unknown state")


# == 2. durations: one way in every human output ============================================


def test_durations_read_the_same_in_every_output(cm, tmp_path):
    scenario(cm, tmp_path, "chat new --customer Ann\nchat new --customer Bob --queue sales\nchat activate C1\n"
                           "chat end C1\nclock advance 20s\n")
    parked = cm.ok("chat", "park", "C1").out
    assert "C1 parked-wrapup in agent-1's inbox, wrap-up 40s left, paused, 3 extension(s) left" in parked, parked
    # C1 parked-wrapup with 40s left; C2 was presented at 09:00:20 after a 20s wait
    assert cm.chat("C1")["wrapup_remaining"] == 40  # JSON: seconds, unchanged
    shown = dict(line.split(None, 1) for line in cm.ok("chat", "show", "C1").out.splitlines())
    assert (shown["wrapup_remaining"], shown["wrapup_seconds"], shown["active_seconds"]) == ("40s", "20s", "0s")
    listed = cm.ok("chat", "list").out
    assert re.search(r"^C1 .* 40s paused ", listed, re.M), listed
    summary = cm.ok("chat", "activate", "C1").out
    assert "wrap-up 40s left, 3 extension(s) left" in summary, summary
    assert "in 40s" in cm.ok("explain", "C1").out
    stats = cm.ok("stats", "queues").out
    assert re.search(r"^sales\s+1\s+1\s+0\s+20s\s+20s\s", stats, re.M), stats
    done = cm.run("expect", "chat", "C1", "wrapup_remaining=30s")
    assert (done.code, done.err) == (1, "C1.wrapup_remaining: expected 30s, got 40s\n"), done
    every = "".join(cm.ok(*args).out for args in (["chat", "list", "--all"], ["chat", "show", "C1"], ["queue", "list"],
                                                  ["stats", "agents"], ["timeline"], ["explain", "C1"]))
    assert not re.search(r"\b\d+:\d\d\b(?!:)", re.sub(r"\d\d:\d\d:\d\d(\.\d+)?", "", every)), every  # no 0:40


def test_a_waiting_queue_shows_its_longest_wait_as_a_duration(cm):
    cm.ok("agent", "break")
    cm.ok("chat", "new", "--customer", "Ann")
    cm.ok("clock", "advance", "1m30s")
    assert "longest wait 1m30s" in cm.ok("queue", "show", "default").out
    assert re.search(r"^default\s+1\s+1m30s\s", cm.ok("queue", "list").out, re.M)


# == 3. config set echoes what it stored =====================================================


@pytest.mark.parametrize("args, echoed", [
    (["auto-present", "yes"], "auto-present = on"),
    (["classification-required", "TRUE"], "classification-required = on"),
    (["wrapup", "90"], "wrapup = 1m30s"),
    (["service-level", "0.5m"], "service-level = 30s"),
    (["routing", "QUEUE-ORDER"], "routing = queue-order"),
    (["break-reasons", " lunch , coaching "], "break-reasons = lunch, coaching"),
    (["wrapup", "120s", "--queue", "sales"], "wrapup = 2m for queue sales"),
    (["max-chats", "02", "--agent", "agent-1"], "max-chats = 2 for agent agent-1"),
])
def test_config_set_echoes_the_stored_value(cm, args, echoed):
    cm.ok("agent", "login")
    assert cm.ok("config", "set", *args).out == echoed + "\n"


# == 4. events: CHAT holds chats, AGENT agents ==============================================


def _events_scenario(cm, tmp_path):
    scenario(cm, tmp_path, "agent break\nchat new --customer Ann\nagent available\nchat activate C1\n")


def test_plain_events_table_keeps_agents_out_of_the_chat_column(cm, tmp_path):
    _events_scenario(cm, tmp_path)
    lines = cm.ok("events").out.splitlines()
    assert lines[0].split() == ["SEQ", "AT", "CHAT", "CHANGE", "CAUSE", "AGENT"]
    rows = {line.split()[0]: re.split(r"\s{2,}", line) for line in lines[1:]}
    by_json = {str(e["seq"]): e for e in cm.js("events")}
    assert set(rows) == set(by_json)
    for seq, cells in rows.items():
        event = by_json[seq]
        assert cells[2] == (event["chat"] or "-"), cells
        assert cells[5] == (event["agent"] or "-"), cells
    assert rows["1"][2] == "-" and rows["1"][5] == "agent-1"  # agent-1's login: no chat
    assert rows["3"][2:] == ["C1", "(none) -> queued", "customer", "-"]  # the customer's chat: no agent yet


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_events_on_a_terminal_keep_agents_out_of_the_chat_column(cm, tmp_path, columns):
    import pexpect

    _events_scenario(cm, tmp_path)
    env = {k: v for k, v in cm.env.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    child = pexpect.spawn(CHATEMU, ["events"], env=env, dimensions=(60, columns), encoding="utf-8", timeout=20)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.read()).replace("\r\n", "\n")
    assert max(len(line) for line in shown.splitlines()) <= columns, shown
    events = {str(e["seq"]): e for e in cm.js("events")}
    seen = set()
    _, rows = screen_rows(shown, ["SEQ", "AT", "CHAT", "CHANGE", "CAUSE", "AGENT"])  # a table or records
    for row in rows:
        seen.add(row["SEQ"])
        event = events[row["SEQ"]]
        assert row["CHAT"] == (event["chat"] or "-"), (columns, row)
        assert row["AGENT"] == (event["agent"] or "-"), (columns, row)
    assert seen == set(events), shown


# == 5. db path creates nothing ==============================================================


def test_db_path_creates_no_file_and_no_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    cm = Chatemu(tmp_path / "unused.db")
    base = {k: v for k, v in cm.env.items() if k not in ("CHATEMU_DB", "XDG_CONFIG_HOME")} | {"HOME": str(home)}

    def path(*args, tail=(), **env):
        done = subprocess.run([CHATEMU, *args, "db", "path", *tail], capture_output=True, text=True, timeout=60,
                              env={**base, **env}, cwd=tmp_path)
        assert (done.returncode, done.stderr) == (0, ""), done
        return done.stdout

    default = f"{home}/.config/chatemu/chatemu.db\n"
    assert path() == default
    assert path(XDG_CONFIG_HOME="") == default  # empty: unset (XDG base directory specification)
    assert path(XDG_CONFIG_HOME="relative") == default  # relative: ignored, so never a file here
    assert path(XDG_CONFIG_HOME=str(tmp_path / "xdg")) == f"{tmp_path}/xdg/chatemu/chatemu.db\n"
    nested = tmp_path / "no" / "such" / "folder" / "x.db"
    assert path("--db", str(nested)) == f"{nested}\n"
    assert path(CHATEMU_DB=str(nested)) == f"{nested}\n"
    assert json.loads(path("--db", str(nested), tail=["--json"])) == {"db": str(nested)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"] and list(home.iterdir()) == []


# == 6. --help: an Examples section on every page, no machine limits ==========================


def _pages():
    """Every command path of the live command line (groups included), and each one's click command."""
    from chatemu.cli.app import root_command

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            if not sub.hidden:
                yield from walk(sub, [*path, name])

    return list(walk(root_command(), []))


def _help(path: list[str], capsys) -> str:
    from chatemu.cli.app import call

    code, errors = call([*path, "--help"])
    assert (code, errors) == (0, []), path
    return capsys.readouterr().out


def _example_command(line: str) -> list[str]:
    """The chatemu words of an example line (after `VAR=x` or `eval "$(`, before a pipe or redirection)."""
    command = re.sub(r'\)"?$', "", line[line.index("chatemu"):].strip())
    words = shlex.split(command)[1:]
    for at, word in enumerate(words):
        if word in ("|", ">", "<", "&&", ";") or word.startswith((">", "<")):
            return words[:at]
    return words


def test_every_help_page_has_examples_and_no_machine_limits(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    pages = _pages()
    assert len(pages) > 60
    by_path = {tuple(path): command for path, command in pages}
    for path, command in pages:
        text = _help(path, capsys)
        assert not re.search(r"\bx\s*[<>]=?|[<>]=?\s*x\b|\d{10,}", text), (path, text)  # [x>=1], 0<=x<=2**63-1
        found = re.search(r"^  Examples:\n((?:    \S.*\n)+)", text, re.M)
        assert found, f"chatemu {' '.join(path)} --help has no Examples section:\n{text}"
        own = 0
        for line in found.group(1).splitlines():
            assert "chatemu" in line, (path, line)
            words, node, at = _example_command(line), by_path[()], 0
            root_options = {"--db", "--agent"}
            while at < len(words) and words[at] in root_options:
                at += 2
            walked = []
            while at < len(words) and words[at] in getattr(node, "commands", {}):
                walked.append(words[at])
                node, at = node.commands[words[at]], at + 1
            own += walked[:len(path)] == path
            known = {name for param in node.params for name in (*getattr(param, "opts", ()),
                                                                   *getattr(param, "secondary_opts", ()))}
            for word in words[at:]:
                if word.startswith("-") and word != "-":
                    assert word.split("=")[0] in known | root_options, (path, line, word)
        assert own, f"no example of chatemu {' '.join(path)} itself: {found.group(1)}"


def test_limits_are_said_in_words_when_a_number_is_out_of_range(cm):
    for args, message in ((["events", "--since", "-1"], "bad --since -1: use a seq, 0 or more"),
                          (["events", "--since", str(2**63)], "no event has a seq that large"),
                          (["refusals", "--since", "-1"], "bad --since -1: use a seq, 0 or more"),
                          (["refusals", "--since", str(2**63)], "no refusal has a seq that large"),
                          (["timeline", "--limit", "0"], "bad --limit 0: use 1 or more")):
        done = cm.fails(2, *args)
        assert message in done.err and "<=" not in done.err and "x>=" not in done.err, done
    assert "C1" in cm.ok("chat", "new").out
    assert "C1" in cm.ok("timeline", "--limit", str(10**30)).out  # more than any table holds: no limit


# == 7. export --pretty, the bundle's JSON Schema ============================================

RICH = """clock set 2026-01-05T09:00:00Z
config set wrapup 2m --queue sales
template add greeting 'Hello {customer}'
classification add refund
queue add sales
agent login
config set max-chats 2 --agent agent-1
agent queues set sales
chat new --customer 'Ann Lee' --queue sales
chat activate C1
chat send C1 --template greeting
chat receive C1 'Where is my "parcel"? ünï\\code'
chat classify C1 refund --note 'parcel lost'
snapshot save mid
chat end C1
!3 chat activate C1
clock advance 30s
chat new --customer Bob
--agent agent-2 agent login
--agent agent-2 agent break --reason lunch
snapshot save late
"""


@pytest.fixture
def rich(tmp_path) -> Chatemu:
    """A database with a row in every table, and two snapshots: one process."""
    script = tmp_path / "rich.chatemu"
    script.write_text(RICH, encoding="utf-8")
    cm = Chatemu(tmp_path / "rich.db")
    cm.ok("run", "--quiet", "--keep", str(cm.db), str(script))
    return cm


def _schema():
    import jsonschema

    schema = json.loads((ROOT / "docs" / "bundle.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_pretty_export_is_indented_canonical_json_that_round_trips(rich, tmp_path):
    from chatemu.store.bundle import INSTANTS
    from chatemu.store.timefmt import format_time

    plain, pretty = rich.ok("export", "-").out, rich.ok("export", "--pretty", "-").out
    document = json.loads(pretty)
    assert pretty == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert "\n" not in plain.rstrip("\n") and json.loads(plain) == _without_iso(document)
    assert all(document["state"][table] for table in document["state"] if table != "events_seq")  # every table
    for state in (document["state"], *(snap["state"] for snap in document["snapshots"])):
        for table, names in INSTANTS.items():
            for row in state[table]:
                for name in names:
                    assert row[name[:-3] + "_iso"] == (None if row[name] is None else format_time(row[name]))
    assert [snap["created_at_iso"] for snap in document["snapshots"]] == [
        "2026-01-05T09:00:30.000Z", "2026-01-05T09:00:00.000Z"]  # late, mid: by name
    # export → import → export: the same bytes, either form in, either form out
    for given, name in ((pretty, "p.json"), (plain, "c.json")):
        (tmp_path / name).write_text(given, encoding="utf-8")
        other = Chatemu(tmp_path / f"from-{name}.db")
        other.ok("import", str(tmp_path / name))
        assert other.ok("export", "--pretty", "-").out == pretty
        assert other.ok("export", "-").out == plain


def _without_iso(value):
    if isinstance(value, dict):
        return {key: _without_iso(item) for key, item in value.items() if not key.endswith("_iso")}
    if isinstance(value, list):
        return [_without_iso(item) for item in value]
    return value


def test_an_iso_time_that_disagrees_with_its_milliseconds_is_refused(rich, tmp_path):
    document = json.loads(rich.ok("export", "--pretty", "-").out)
    document["state"]["chats"][0]["created_at_iso"] = "2026-01-05T09:00:00.001Z"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document, indent=2), encoding="utf-8")
    other = Chatemu(tmp_path / "other.db")
    done = other.fails(2, "import", str(bad), match="chats[0].created_at_iso does not agree with created_at_ms")
    assert "2026-01-05T09:00:00.000Z" in done.err
    assert not other.db.exists()
    document["state"]["chats"][0]["created_at_iso"] = "2026-01-05T09:00:00.000Z"
    document["snapshots"][0]["created_at_iso"] = None
    bad.write_text(json.dumps(document), encoding="utf-8")
    other.fails(2, "import", str(bad), match="created_at_iso does not agree with created_at_ms")
    document["snapshots"][0]["created_at_iso"] = "2026-01-05T09:00:30.000Z"
    document["state"]["chats"][0]["active_iso"] = "2026-01-05T09:00:00.000Z"  # a duration has none
    bad.write_text(json.dumps(document), encoding="utf-8")
    other.fails(2, "import", str(bad), match="unknown column 'active_iso'")


def test_exports_validate_against_the_published_schema_and_broken_bundles_do_not(rich):
    validator = _schema()
    plain, pretty = json.loads(rich.ok("export", "-").out), json.loads(rich.ok("export", "--pretty", "-").out)
    for document in (plain, pretty):
        assert list(validator.iter_errors(document)) == []

    def broken(change):
        document = json.loads(json.dumps(pretty))
        change(document)
        return list(validator.iter_errors(document))

    assert broken(lambda d: d.pop("format"))
    assert broken(lambda d: d.update(format_version=99))
    assert broken(lambda d: d["state"].pop("events_seq"))
    assert broken(lambda d: d["state"]["chats"][0].update(state="waiting"))
    assert broken(lambda d: d["state"]["chats"][0].update(number="1"))
    assert broken(lambda d: d["state"]["chats"][0].pop("queue"))
    assert broken(lambda d: d["state"]["chats"][0].update(colour="red"))
    assert broken(lambda d: d["state"]["events"][0].update(at_iso="09:00"))
    assert broken(lambda d: d["state"]["meta"].append(d["state"]["meta"][0]))
    assert broken(lambda d: d["snapshots"][0].update(extra=1))


def test_the_schema_describes_every_table_and_column_of_the_live_schema(tmp_path):
    """docs/bundle.schema.json stays true: each table's columns, their types and which may be null."""
    import sqlite3

    from chatemu.store import bundle, schema
    from chatemu.store.engine import Engine

    Engine(str(tmp_path / "x.db"), wall=lambda: 1767603600000).clock_set(1767603600000)
    conn = sqlite3.connect(tmp_path / "x.db")
    document = json.loads((ROOT / "docs" / "bundle.schema.json").read_text(encoding="utf-8"))
    assert document["properties"]["schema_version"] == {"const": schema.SCHEMA_VERSION}
    assert document["properties"]["format_version"] == {"const": bundle.FORMAT_VERSION}
    state = document["$defs"]["state"]
    assert sorted(state["properties"]) == sorted((*bundle.STATE_TABLES, "events_seq"))
    for table in bundle.STATE_TABLES:
        row = document["$defs"][f"row_{table}"]
        live = bundle.columns(conn, table)
        instants = set(bundle.INSTANTS.get(table, ()))
        assert set(row["properties"]) == set(live) | {name[:-3] + "_iso" for name in instants}, table
        for name, (kind, not_null) in live.items():
            text = json.dumps(row["properties"][name])
            assert ("int64" in text or '"const": 1' in text) == (kind == "INTEGER"), (table, name)
            assert ('"null"' in text) == (not not_null), (table, name)
            assert (name in row["required"]) == (not_null and (table, name) != ("events", "seq")), (table, name)
        # every column in milliseconds is either an instant (with its ISO time) or a duration
        millis = {name for name in live if name.endswith("_ms")}
        assert millis == instants | set(bundle.DURATIONS.get(table, ())), table
        assert not instants & set(bundle.DURATIONS.get(table, ()))


# == 8. shell completion ======================================================================


def test_the_completion_tree_is_the_live_command_tree():
    from chatemu.cli.completion import TREE, live_tree

    assert TREE == live_tree(), "stale: run .venv/bin/python -m cogapp -r cli/completion.py"


@pytest.fixture
def chats(cm, tmp_path) -> Chatemu:
    scenario(cm, tmp_path, "chat new --customer Ann\nchat new --customer Bob\nchat new --id VIP-1 --customer Cat\n"
                           "queue add sales\nqueue add billing\ntemplate add greet 'Hello {customer}'\n"
                           "template add bye Bye --queue sales\nclassification add refund\n"
                           "classification add upsell --queue sales\nconfig set break-reasons lunch,coffee\n"
                           "snapshot save before\n")
    return cm


#: (the words after `chatemu`, the last one being typed) → what completes it.
CASES = [
    (["ch"], ["chat"]),
    (["c"], ["chat", "clock", "config", "classification", "contact", "console", "completion"]),
    (["chat", "ac"], ["activate"]),
    (["chat", "activate", ""], ["C1", "C2", "VIP-1"]),
    (["chat", "activate", "V"], ["VIP-1"]),
    (["chat", "activate", "C1", ""], []),
    (["chat", "send", "C1", ""], []),
    (["chat", "list", "--st"], ["--state"]),
    (["chat", "list", "--state", "parked"], ["parked", "parked-wrapup"]),
    (["--agent", "agent-2", "chat", "show", "C"], ["C1", "C2"]),
    (["events", "--chat", ""], ["C1", "C2", "VIP-1"]),
    (["expect", "e"], ["events-since"]),
    (["expect", "chat", ""], ["C1", "C2", "VIP-1"]),
    (["expect", "agent", ""], ["agent-1"]),
    (["expect", "queue", ""], ["billing", "default", "sales"]),
    (["chat", "new", "--queue", ""], ["billing", "default", "sales"]),
    (["chat", "new", "--queue", "s"], ["sales"]),
    (["chat", "transfer", "C1", "--queue", "b"], ["billing"]),
    (["chat", "transfer", "C1", "--agent", ""], ["agent-1"]),
    (["--agent", ""], ["agent-1"]),
    (["events", "--agent", "a"], ["agent-1"]),
    (["agent", "status", ""], ["agent-1"]),
    (["agent", "queues", "on", ""], ["billing", "default", "sales"]),
    (["queue", "show", "d"], ["default"]),
    (["queue", "add", ""], []),
    (["agent", "break", "--reason", ""], ["lunch", "coffee"]),
    (["break-reason", "remove", "c"], ["coffee"]),
    (["chat", "send", "C1", "--template", ""], ["bye", "greet"]),
    (["template", "remove", "g"], ["greet"]),
    (["template", "list", "--queue", "s"], ["sales"]),
    (["chat", "classify", "C1", ""], ["refund", "upsell"]),
    (["classification", "remove", "r"], ["refund"]),
    (["snapshot", "restore", ""], ["before"]),
    (["snapshot", "save", ""], []),
    (["config", "set", "wrapup-e"], ["wrapup-extension", "wrapup-extensions"]),
    (["agent", "queues", "o"], ["on", "off"]),
    (["completion", ""], ["bash", "zsh", "fish"]),
    (["export", "--"], ["--force", "--pretty", "--help"]),
]


def _bash_cases(cases, env) -> list[list[str]]:
    lines = ['source <(chatemu completion bash)']
    for words, _ in cases:
        array = " ".join(shlex.quote(word) for word in ["chatemu", *words])
        lines.append(f'COMP_WORDS=({array}); COMP_CWORD={len(words)}; COMPREPLY=(); _chatemu; '
                     'printf "%s," "${COMPREPLY[@]}"; echo')
    done = subprocess.run(["bash", "-c", "\n".join(lines)], capture_output=True, text=True, env=script_env(env),
                          timeout=60)
    assert done.returncode == 0 and done.stderr == "", done
    return [[word for word in line.split(",") if word] for line in done.stdout.splitlines()]


def test_bash_completes_commands_options_and_chat_ids(chats, tmp_path):
    got = _bash_cases(CASES, chats.env)
    for (words, expected), found in zip(CASES, got):
        assert sorted(found) == sorted(expected), (words, found)
    # files where a file goes; chat ids from the database the line names with --db
    (tmp_path / "bundle.json").write_text("{}")
    other = Chatemu(tmp_path / "other.db")
    other.ok("clock", "set", START)
    other.ok("chat", "new", "--id", "X9")
    cases = [(["export", str(tmp_path / "bund")], None), (["--db", str(other.db), "chat", "show", ""], None),
             (["chat", "show", "--db", str(other.db), ""], None), ([f"--db={other.db}", "explain", ""], None),
             (["--db", "=", str(other.db), "explain", ""], None),  # how bash splits --db=FILE
             (["--db", str(tmp_path / "none.db"), "chat", "show", ""], None),
             (["--db", str(tmp_path / "none.db"), "chat", "new", "--queue", ""], None),
             (["--db", str(other.db), "chat", "new", "--queue", ""], None)]
    got = _bash_cases(cases, chats.env)
    assert got == [[str(tmp_path / "bundle.json")], ["X9"], ["X9"], ["X9"], ["X9"], [], [], ["default"]], got
    assert not (tmp_path / "none.db").exists()
    # an option's description is zsh's and fish's, never a bash word
    assert _bash_cases([(["chat", "new", "--q"], None)], chats.env) == [["--queue"]]


def test_names_for_completion_read_the_database_and_create_nothing(chats, tmp_path):
    assert chats.ok("completion", "--names", "queue").out.split() == ["billing", "default", "sales"]
    assert chats.ok("completion", "--names", "code").out.split() == ["refund", "upsell"]
    assert chats.ok("completion", "--names", "chat").out.split() == ["C1", "C2", "VIP-1"]
    missing = tmp_path / "none.db"
    assert chats.ok("--db", str(missing), "completion", "--names", "agent").out == ""
    assert not missing.exists()
    chats.fails(2, "completion", "--names", "everything", match="--names takes one of chat, queue")


def test_completion_refuses_an_unknown_shell(cm):
    cm.fails(2, "completion", "tcsh", match="shells: bash, zsh, fish")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_is_valid_and_completes(chats, tmp_path):
    script = tmp_path / "chatemu.zsh"
    script.write_text(chats.ok("completion", "zsh").out)
    assert subprocess.run(["zsh", "-n", str(script)], capture_output=True, timeout=60).returncode == 0
    lines = [f"source {shlex.quote(str(script))}",
             'compadd() { local -a d; while [[ $1 != -- ]]; do [[ $1 == -d ]] && { d=("${(@P)2}"); shift; }; shift; done;'
             ' shift; print -r -- "${(j:,:)@}"; described+=("${(j:,:)d}"); }', '_files() { print -r -- FILES; }',
             'typeset -ga described']
    for words, _ in CASES:
        lines.append(f"words=({' '.join(shlex.quote(w) for w in ['chatemu', *words])}); CURRENT=$#words; _chatemu"
                     " || print")
    lines.append("words=(chatemu chat new --q); CURRENT=$#words; _chatemu")
    lines.append('print -r -- "${described[-1]}"')
    lines.append("print -r -- $PATH")
    env = script_env(chats.env)
    done = subprocess.run(["zsh", "-f", "-c", "\n".join(lines)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done
    out = done.stdout.splitlines()
    assert out[-1] == env["PATH"]  # the script leaves the shell's variables alone
    assert "--queue  -- The queue the chat waits in" in out[-2].split(","), out[-2]  # descriptions shown
    for (words, expected), line in zip(CASES, out):
        prefix = words[-1]
        assert sorted(w for w in line.split(",") if w.startswith(prefix) and w) == sorted(expected), (words, line)


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completion_is_valid_and_completes(chats, tmp_path):
    script = tmp_path / "chatemu.fish"
    script.write_text(chats.ok("completion", "fish").out)
    assert subprocess.run(["fish", "-n", str(script)], capture_output=True, timeout=60).returncode == 0
    lines = [f"source {shlex.quote(str(script))}"]
    for words, _ in CASES:
        line = " ".join(["chatemu", *words])
        lines.append(f"echo (complete -C {shlex.quote(line)} | string join \\x1f)")
    lines.append("echo (complete -C 'chatemu chat new --q' | string join \\x1f)")
    done = subprocess.run(["fish", "--no-config", "-c", "\n".join(lines)], capture_output=True, text=True,
                          env=script_env(chats.env), timeout=60)
    assert done.returncode == 0, done
    out = done.stdout.split("\n")
    assert len(out) == len(CASES) + 2, done.stdout
    assert out[-2] == "--queue\tThe queue the chat waits in", out[-2]  # descriptions shown
    for (words, expected), line in zip(CASES, out):
        found = [word.split("\t")[0] for word in line.split("\x1f") if word]
        assert sorted(found) == sorted(expected), (words, line)


# == 8. one exit code and one message shape for every unknown name ===========================

UNKNOWN_SETUP = """agent login
queue add sales
config set classification list --queue sales
chat new --inbox --queue sales
chat activate C1
"""

#: (command line, the acting agent or None, kind, the name as the message shows it): every way of
#: naming something that does not exist, each exit 4 with ``unknown KIND NAME[ of queue Q][ (HINT)]``.
UNKNOWN = [
    (["chat", "show", "C9"], None, "chat", "C9"),
    (["chat", "park", "C9"], None, "chat", "C9"),
    (["chat", "transcript", "C9"], None, "chat", "C9"),
    (["explain", "C9"], None, "chat", "C9"),
    (["events", "--chat", "C9"], None, "chat", "C9"),
    (["timeline", "--chat", "C9"], None, "chat", "C9"),
    (["expect", "chat", "C9", "state=new"], None, "chat", "C9"),
    (["chat", "park", "C1"], "agent-9", "agent", "agent-9"),
    (["chat", "list"], "agent-9", "agent", "agent-9"),
    (["agent", "status"], "agent-9", "agent", "agent-9"),
    (["agent", "queues"], "agent-9", "agent", "agent-9"),
    (["expect", "agent", "presence=available"], "agent-9", "agent", "agent-9"),
    (["agent", "status", "agent-9"], None, "agent", "agent-9"),
    (["expect", "agent", "agent-9", "presence=available"], None, "agent", "agent-9"),
    (["chat", "transfer", "C1", "--agent", "agent-9"], None, "agent", "agent-9"),
    (["config", "set", "max-chats", "2", "--agent", "agent-9"], None, "agent", "agent-9"),
    (["events", "--agent", "agent-9"], None, "agent", "agent-9"),
    (["timeline", "--agent", "agent-9"], None, "agent", "agent-9"),
    (["chat", "new", "--queue", "slaes"], None, "queue", "slaes"),
    (["chat", "transfer", "C1", "--queue", "slaes"], None, "queue", "slaes"),
    (["queue", "show", "slaes"], None, "queue", "slaes"),
    (["chat", "send", "C1", "--template", "nope"], None, "template", "nope"),
    (["template", "remove", "nope"], None, "template", "nope"),
    (["template", "remove", "nope", "--queue", "sales"], None, "template", "nope"),
    (["chat", "classify", "C1", "nope"], None, "classification code", "nope"),
    (["classification", "remove", "nope"], None, "classification code", "nope"),
    (["classification", "remove", "nope", "--queue", "sales"], None, "classification code", "nope"),
    (["contact", "history", "Nobody"], None, "contact", "Nobody"),
    (["contact", "history", "Ann Lee"], None, "contact", "'Ann Lee'"),
    (["snapshot", "restore", "nope"], None, "snapshot", "nope"),
    (["snapshot", "delete", "nope"], None, "snapshot", "nope"),
    (["agent", "break", "--reason", "nap"], None, "break reason", "nap"),
    (["break-reason", "remove", "nap"], None, "break reason", "nap"),
]

#: The same commands with a malformed name or value instead: usage errors (exit 2), not unknown.
MALFORMED = [
    ["chat", "new", "--queue", "bad queue"],
    ["chat", "transfer", "C1", "--agent", "bad agent!"],
    ["template", "remove", "bad name!"],
    ["classification", "remove", ""],
    ["contact", "history", ""],
    ["snapshot", "restore", "has space"],
    ["agent", "break", "--reason", "a nap"],
    ["break-reason", "remove", ""],
    ["clock", "advance", "5 parsecs"],
    ["chat", "show", "C 1"],
    ["chat", "take", ""],
    ["events", "--chat", "C1 "],
    ["events", "--follow", "--chat", "C 1"],
    ["timeline", "--chat", "C 1"],
    ["expect", "chat", "C 1", "state=new"],
    ["events", "--agent", "bad agent!"],
    ["timeline", "--agent", "bad agent!"],
    ["refusals", "--agent", "bad agent!"],
]


@pytest.mark.parametrize("args, agent, kind, name", UNKNOWN, ids=[" ".join(a[0]) for a in UNKNOWN])
def test_every_unknown_name_is_exit_4_in_one_shape(cm, tmp_path, args, agent, kind, name):
    from chatemu.store.errors import UNKNOWN_KINDS

    scenario(cm, tmp_path, UNKNOWN_SETUP)
    done = cm.fails(4, *args, agent=agent)
    shape = re.compile(rf"error: unknown ({'|'.join(UNKNOWN_KINDS)}) ('[^']*'|\S+)( of queue \S+)?( \(.+\))?")
    found = shape.fullmatch(done.err.strip())
    assert found is not None, done
    assert (found[1], found[2]) == (kind, name), done


@pytest.mark.parametrize("args", MALFORMED, ids=[" ".join(a) for a in MALFORMED])
def test_a_malformed_name_stays_a_usage_error(cm, tmp_path, args):
    scenario(cm, tmp_path, UNKNOWN_SETUP)
    done = cm.fails(2, *args)
    assert not done.err.startswith("error: unknown "), done


def test_the_conventions_page_lists_every_unknown_kind():
    from chatemu.store.errors import UNKNOWN_KINDS

    page = (ROOT / "docs" / "conventions.md").read_text()
    section = page.split("## Unknown names", 1)[1].split("\n## ", 1)[0]
    for kind in UNKNOWN_KINDS:
        assert f"`unknown {kind} " in section, kind
