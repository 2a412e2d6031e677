"""The Python API and the pytest plugin, used as a user would: small test files run by pytest's
``pytester`` through the installed ``pytest11`` entry point; the examples of docs/python-api.md
run as they are written."""

from __future__ import annotations

import re
import subprocess

import pytest
import sys
from importlib.metadata import entry_points
from pathlib import Path

from conftest import START

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "python-api.md").read_text()
README = (ROOT / "README.md").read_text()


def passes(pytester, source: str, count: int):
    pytester.makepyfile(test_user=source)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=count)
    return result


def test_the_plugin_is_the_installed_entry_point(pytester):
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "chatemu"]
    assert plugin.value == "chatemu.cli.pytest_plugin"
    pytester.makepyfile(test_user="def test_it(chatemu):\n    pass\n")
    result = pytester.runpytest("-p", "no:chatemu")  # without the entry point's plugin
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'chatemu' not found*"])


def test_the_fixture_is_a_fresh_virtual_clock_database_per_test(pytester):
    passes(pytester, f"""
        import datetime

        def test_one(chatemu):
            assert chatemu.clock() == {{"now": "{START[:-1]}.000Z", "mode": "virtual"}}
            assert chatemu.agent_id == "agent-1"
            assert chatemu.new()["id"] == "C1"
            assert chatemu.advance(1500) == {{"now": "2026-01-05T09:00:01.500Z", "mode": "virtual"}}
            assert chatemu.advance(datetime.timedelta(minutes=1))["now"] == "2026-01-05T09:01:01.500Z"
            assert chatemu.set_clock("2026-01-05T10:00:00Z")["now"] == "2026-01-05T10:00:00.000Z"

        def test_two_sees_nothing_of_test_one(chatemu):
            assert chatemu.chats(all=True) == [] and chatemu.events() == []
            assert chatemu.new()["id"] == "C1"
    """, 2)


def test_methods_return_what_the_cli_prints_with_json(cm):
    """The same steps through the API and as ``chatemu`` processes give equal objects."""
    from chatemu.cli.api import Emulator

    emu = Emulator(cm.db.parent / "api.db")
    emu.set_clock(START)
    steps = [
        (lambda: emu.new(customer="Ann", priority=2), ["chat", "new", "--customer", "Ann", "--priority", "2"]),
        (lambda: emu.activate("C1"), ["chat", "activate", "C1"]),
        (lambda: emu.advance("20s"), ["clock", "advance", "20s"]),
        (lambda: emu.send("C1", "hello"), ["chat", "send", "C1", "hello"]),
        (lambda: emu.call_start(), ["chat", "call-start"]),
        (lambda: emu.call_end(), ["chat", "call-end"]),
        (lambda: emu.activate("C1"), ["chat", "activate", "C1"]),
        (lambda: emu.park("C1"), ["chat", "park", "C1"]),
        (lambda: emu.new(id="X9", inbox=True, queue="sales"), ["chat", "new", "--id", "X9", "--inbox", "--queue", "sales"]),
        (lambda: emu.config("wrapup", "30s", queue="sales"), ["config", "set", "wrapup", "30s", "--queue", "sales"]),
        (lambda: emu.activate("X9"), ["chat", "activate", "X9"]),
        (lambda: emu.end("X9"), ["chat", "end", "X9"]),
        (lambda: emu.wrapup("X9", extend=True), ["chat", "wrapup", "X9", "--extend"]),
        (lambda: emu.wrapup("X9", finish=True), ["chat", "wrapup", "X9", "--finish"]),
        (lambda: emu.set_clock("2026-01-05T09:10:00Z"), ["clock", "set", "2026-01-05T09:10:00Z"]),
        (lambda: emu.transcript("C1"), ["chat", "transcript", "C1"]),
        (lambda: emu.chat("C1"), ["chat", "show", "C1"]),
        (lambda: emu.chats(), ["chat", "list"]),
        (lambda: emu.chats(all=True), ["chat", "list", "--all"]),
        (lambda: emu.agent(), ["agent", "status"]),
        (lambda: emu.events(chat="X9"), ["events", "--chat", "X9"]),
        (lambda: emu.events(), ["events"]),
    ]
    for call, args in steps:
        assert call() == cm.js(*args), args


def test_the_qa_methods_return_what_the_cli_prints_with_json(cm, tmp_path):
    """Snapshots, lists, stats, expect, reset: the same steps through the API and as processes."""
    from chatemu.cli.api import Emulator

    emu = Emulator(tmp_path / "api.db")
    emu.set_clock(START)
    steps = [
        (lambda: emu.new(customer="Ann", queue="sales"), ["chat", "new", "--customer", "Ann", "--queue", "sales"]),
        (lambda: emu.activate("C1"), ["chat", "activate", "C1"]),
        (lambda: emu.snapshot_save("s1"), ["snapshot", "save", "s1"]),
        (lambda: emu.snapshot_save("s1"), ["snapshot", "save", "s1"]),
        (lambda: emu.template_add("greet", "Hello {customer}"), ["template", "add", "greet", "Hello {customer}"]),
        (lambda: emu.template_add("greet", "Sales here", queue="sales"), ["template", "add", "greet", "Sales here", "--queue", "sales"]),
        (lambda: emu.templates(), ["template", "list"]),
        (lambda: emu.templates(queue="sales"), ["template", "list", "--queue", "sales"]),
        (lambda: emu.classification_add("refund", queue="sales"), ["classification", "add", "refund", "--queue", "sales"]),
        (lambda: emu.classifications(), ["classification", "list"]),
        (lambda: emu.classifications(queue="sales"), ["classification", "list", "--queue", "sales"]),
        (lambda: emu.advance("90s"), ["clock", "advance", "90s"]),
        (lambda: emu.end("C1"), ["chat", "end", "C1"]),
        (lambda: emu.snapshots(), ["snapshot", "list"]),
        (lambda: emu.stats_agents(), ["stats", "agents"]),
        (lambda: emu.stats_queues(since=START, until="2026-01-05T09:01:00Z"),
         ["stats", "queues", "--since", START, "--until", "2026-01-05T09:01:00Z"]),
        (lambda: emu.expect("chat", "C1", "state=active-wrapup", "wrapup_remaining=1m"),
         ["expect", "chat", "C1", "state=active-wrapup", "wrapup_remaining=1m"]),
        (lambda: emu.expect("inbox", "C1:active-wrapup"), ["expect", "inbox", "C1:active-wrapup"]),
        (lambda: emu.expect("clock", "mode=virtual"), ["expect", "clock", "mode=virtual"]),
        (lambda: emu.template_remove("greet", queue="sales"), ["template", "remove", "greet", "--queue", "sales"]),
        (lambda: emu.classification_remove("refund", queue="sales"), ["classification", "remove", "refund", "--queue", "sales"]),
        (lambda: emu.snapshot_restore("s1"), ["snapshot", "restore", "s1"]),
        (lambda: emu.chat("C1"), ["chat", "show", "C1"]),
        (lambda: emu.break_reason_remove("lunch"), ["break-reason", "remove", "lunch"]),
        (lambda: emu.snapshot_delete("s1"), ["snapshot", "delete", "s1"]),
        (lambda: emu.snapshots(), ["snapshot", "list"]),
        (lambda: emu.snapshot_save("s2"), ["snapshot", "save", "s2"]),
        (lambda: emu.clock_real()["mode"], None),
        (lambda: emu.clock_virtual()["mode"], None),
    ]
    for call, args in steps:
        got = call()
        if args is None:
            cm.ok("clock", got)
        else:
            assert got == cm.js(*args), args
    assert emu.snapshots() == cm.js("snapshot", "list") != []
    reset, shown = emu.reset(keep_snapshots=True), cm.js("reset", "--yes", "--keep-snapshots")
    assert reset.pop("now") and shown.pop("now") and reset == shown  # the new clock is the wall clock's
    assert emu.chats(all=True) == [] and emu.snapshots() == cm.js("snapshot", "list")


def test_refusals_export_and_import_are_the_cli_s(cm, tmp_path):
    from chatemu.cli.api import Emulator, ExpectationFailed, UsageError

    cm.ok("chat", "new", "--customer", "Ann")
    cm.fails(3, "chat", "park", "C1")
    cm.fails(4, "chat", "take", "C9", agent="agent-1")
    emu = Emulator(cm.db)
    assert emu.refusals() == cm.js("refusals") and len(emu.refusals()) == 2
    assert emu.refusals(agent="agent-1", since=1) == cm.js("refusals", "--agent", "agent-1", "--since", "1")
    with pytest.raises(ExpectationFailed) as failed:
        emu.expect("chat", "C1", "state=active", "customer=Ann")
    assert failed.value.exit_code == 1 and failed.value.message == "C1.state: expected active, got new"
    done = cm.run("expect", "chat", "C1", "state=active", "customer=Ann", "--json")
    assert (done.code, failed.value.report) == (1, done.json)

    assert emu.export() == cm.ok("export", "-").out
    assert emu.export(pretty=True) == cm.ok("export", "--pretty", "-").out
    assert emu.export(tmp_path / "api.json") is None
    cm.ok("export", str(tmp_path / "cli.json"))
    assert (tmp_path / "api.json").read_bytes() == (tmp_path / "cli.json").read_bytes()
    with pytest.raises(UsageError, match="exists"):
        emu.export(tmp_path / "api.json")
    with pytest.raises(UsageError, match="it is the database"):
        emu.export(cm.db, force=True)
    emu.export(str(tmp_path / "api.json"), force=True, pretty=True)

    copy = Emulator(tmp_path / "copy.db")
    imported = copy.import_(tmp_path / "api.json")
    assert imported == cm.js("import", str(tmp_path / "api.json"), env={"CHATEMU_DB": str(tmp_path / "cli-copy.db")})
    assert copy.chats(all=True) == emu.chats(all=True) and copy.refusals() == emu.refusals()
    assert copy.import_(str(tmp_path / "cli.json"), replace=True, replace_snapshots=True)["replaced"]["chats"] == 1
    with pytest.raises(UsageError, match="cannot read"):
        copy.import_(tmp_path / "missing.json")


def test_the_marker_presets_the_fixture_s_clock_and_configuration(pytester):
    result = passes(pytester, """
        import pytest
        from chatemu import UsageError

        @pytest.mark.chatemu(clock="2026-03-02T08:00:00Z", config={"max-chats": 1, "wrapup": "30s", "auto-present": False})
        def test_marked(chatemu):
            assert chatemu.clock() == {"now": "2026-03-02T08:00:00.000Z", "mode": "virtual"}
            settings = chatemu.settings()
            assert (settings["max-chats"], settings["wrapup"], settings["auto-present"]) == (1, 30, False)
            assert chatemu.events() == []

        @pytest.mark.chatemu(config={"break-reasons": ["lunch", "coffee"]})
        def test_config_only(chatemu):
            assert chatemu.clock()["now"] == "2026-01-05T09:00:00.000Z"
            assert chatemu.break_reasons() == ["lunch", "coffee"]

        @pytest.mark.chatemu(clock="2026-03-02T08:00:00Z")
        class TestAClass:
            def test_in_the_class(self, chatemu):
                assert chatemu.clock()["now"] == "2026-03-02T08:00:00.000Z"

        def test_unmarked(chatemu):
            assert chatemu.clock()["now"] == "2026-01-05T09:00:00.000Z"
    """, 4)
    assert "PytestUnknownMarkWarning" not in result.stdout.str()
    pytester.makepyfile(test_user="""
        import pytest

        @pytest.mark.chatemu(config={"wrapup": "long"})
        def test_bad_value(chatemu):
            pass

        @pytest.mark.chatemu(colour="red")
        def test_bad_argument(chatemu):
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(errors=2)
    assert "During handling" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*@pytest.mark.chatemu: bad duration 'long'*", "*@pytest.mark.chatemu takes clock= and config= only, not colour"])
    assert "chatemu" in pytester.runpytest("--markers").stdout.str()


def test_emulated_gives_a_fresh_database_for_a_block(tmp_path, monkeypatch):
    import os

    from chatemu import Refused, emulated

    monkeypatch.setenv("CHATEMU_DB", str(tmp_path / "mine.db"))
    with emulated(clock="2026-03-02T08:00:00Z", config={"max-chats": 1}) as emu:
        assert os.environ["CHATEMU_DB"] == emu.path and os.path.exists(emu.path)
        assert emu.clock()["now"] == "2026-03-02T08:00:00.000Z" and emu.settings()["max-chats"] == 1
        emu.new()
        done = subprocess.run([sys.executable, "-m", "chatemu", "chat", "list", "--json"], capture_output=True, text=True)
        assert [c["id"] for c in __import__("json").loads(done.stdout)] == ["C1"]
        with emulated() as inner:
            assert inner.chats(all=True) == [] and os.environ["CHATEMU_DB"] == inner.path
        assert os.environ["CHATEMU_DB"] == emu.path and not os.path.exists(inner.path)
        with pytest.raises(Refused):
            emu.park("C1")
    assert os.environ["CHATEMU_DB"] == str(tmp_path / "mine.db")
    assert not os.path.exists(os.path.dirname(emu.path))

    seen = []

    @emulated(agent="agent-7")
    def decorated():
        from chatemu import Emulator

        seen.append(Emulator(os.environ["CHATEMU_DB"]).new(inbox=True)["agent"])

    decorated()
    decorated()
    assert seen == ["agent-1", "agent-1"]


def test_errors_carry_the_exit_code_and_the_one_line_message(pytester):
    passes(pytester, """
        import pytest
        from chatemu.cli.api import ChatemuError, Refused, UnknownChat, UsageError

        def test_errors(chatemu):
            chatemu.new()
            with pytest.raises(Refused) as refused:
                chatemu.wrapup("C1", finish=True)
            assert refused.value.exit_code == 3 and "\\n" not in refused.value.message
            assert refused.value.message.startswith("cannot ")
            with pytest.raises(UnknownChat) as unknown:
                chatemu.chat("C7")
            assert (unknown.value.exit_code, unknown.value.message) == (4, "unknown chat C7")
            for bad in (lambda: chatemu.advance("soon"), lambda: chatemu.advance(True),
                        lambda: chatemu.set_clock("yesterday"), lambda: chatemu.config("wrapup", "long")):
                with pytest.raises(UsageError) as usage:
                    bad()
                assert usage.value.exit_code == 2
            assert issubclass(Refused, ChatemuError) and issubclass(UsageError, ChatemuError)
            assert chatemu.chat("C1")["state"] == "new"
    """, 1)


def test_the_error_classes_are_the_engines_own():
    from chatemu.cli import api
    from chatemu.store import errors

    for name in ("ChatemuError", "ExpectationFailed", "UsageError", "Refused", "UnknownChat", "DatabaseError"):
        assert getattr(api, name) is getattr(errors, name)
    assert [api.error_for(code, "m").exit_code for code in (1, 2, 3, 4, 5)] == [1, 2, 3, 4, 5]


def test_as_agent_acts_as_another_agent_once_it_has_logged_in(pytester):
    passes(pytester, """
        import pytest
        from chatemu.cli.api import UnknownChat

        def test_two_agents(chatemu):
            chatemu.break_()
            chatemu.new(customer="Ann")             # queued: agent-1 is on a break
            bob = chatemu.as_agent("agent-2")
            assert bob.agent_id == "agent-2" and bob.path == chatemu.path
            with pytest.raises(UnknownChat) as unknown:
                bob.take("C1")
            assert "log it in first" in unknown.value.message
            bob.login()                             # available: C1 is presented to agent-2
            assert chatemu.chat("C1")["agent"] == "agent-2"
            assert chatemu.agent("agent-2")["open_chats"] == 1
            assert chatemu.chats() == [] and [c["id"] for c in bob.chats()] == ["C1"]
            assert {a["id"] for a in chatemu.agents()} == {"agent-1", "agent-2"}
            assert bob.logout(return_chats=True)["presence"] == "logged-out"
            assert chatemu.chat("C1")["state"] == "queued"
            assert chatemu.available()["status"] == "available"
    """, 1)


def test_the_later_commands(pytester):
    passes(pytester, """
        def test_messages_transfer_classify_queues(chatemu):
            chatemu.new(customer="Ann")
            chatemu.activate("C1")
            assert chatemu.receive("C1", "hi")["from"] == "customer"
            chatemu.template_add("greet", "Hello {customer}")
            assert chatemu.send("C1", template="greet")["text"] == "Hello Ann"
            assert [m["text"] for m in chatemu.transcript("C1")] == ["hi", "Hello Ann"]
            chatemu.classification_add("refund")
            assert chatemu.classify("C1", "refund", note="lost")["classification"] == "refund"
            assert chatemu.flag_abusive("C1")["abusive"] is True
            assert chatemu.transfer("C1", queue="sales")["queue"] == "sales"
            chatemu.new(inbox=True)
            chatemu.activate("C2")
            assert chatemu.return_("C2")["state"] in ("queued", "new")
            chatemu.queue_add("billing")
            assert "billing" in [q["name"] for q in chatemu.queues()]
            assert chatemu.queue("billing")["name"] == "billing"
            chatemu.set_queues("billing", "default")
            chatemu.queue_off("billing")
            chatemu.queue_on("billing")
            assert chatemu.agent_queues()
            chatemu.clear_queues()
            chatemu.break_reason_add("lunch")
            assert "lunch" in chatemu.break_reasons()
            assert chatemu.break_("lunch")["break_reason"] == "lunch"
            assert chatemu.explain("C1")
            assert chatemu.settings()
            assert chatemu.history("Ann")
    """, 1)


def test_the_api_imports_neither_typer_nor_rich():
    code = "import sys, chatemu.cli.api; print(sorted(m for m in ('typer', 'rich', 'click') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# == scenarios ================================================================================


def test_run_returns_each_line_and_raises_at_the_failing_line(pytester):
    pytester.makefile(".chatemu", good="chat new --customer Ann\nchat activate C1  # comment\n",
                      bad="chat new\n\nchat park C2\nchat new\n")
    passes(pytester, """
        import pytest
        from chatemu.cli.api import Refused, UsageError

        def test_run(chatemu):
            records = chatemu.run("good.chatemu")
            assert [(r["line"], r["command"], r["exit"]) for r in records] == [
                (1, "chat new --customer Ann", 0), (2, "chat activate C1", 0)]
            assert records[1]["result"] == chatemu.chat("C1")
            with pytest.raises(Refused) as refused:
                chatemu.run("bad.chatemu")
            failure = refused.value.scenario
            assert (failure.path, failure.line, failure.command, failure.exit_code) == (
                "bad.chatemu", 3, "chat park C2", 3)
            assert refused.value.message == f"bad.chatemu:3: chat park C2: {failure.message}"
            assert "cannot park C2" in failure.message
            assert [c["id"] for c in chatemu.chats(all=True)] == ["C1", "C2"]  # line 4 did not run
            with pytest.raises(UsageError) as missing:
                chatemu.run("missing.chatemu")
            assert missing.value.scenario.line == 0 and "cannot read" in missing.value.message
    """, 1)


def test_a_scenario_runs_as_the_emulators_agent(pytester):
    pytester.makefile(".chatemu", mine="agent status\nchat new --inbox\n")
    passes(pytester, """
        def test_agent(chatemu):
            bob = chatemu.as_agent("agent-2")
            bob.login()
            records = bob.run("mine.chatemu")
            assert records[0]["result"]["id"] == "agent-2"
            assert records[1]["result"]["agent"] == "agent-2"
    """, 1)


def test_the_scenario_fixture_fails_the_test_at_the_failing_line(pytester):
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "flow.chatemu").write_text(
        "# two chats\nchat new\nchat activate C1\nexpect chat C1 state=parked\nchat new\n")
    (pytester.path / "scenarios" / "refused.chatemu").write_text("chat new\nchat take C1\n")
    (pytester.path / "scenarios" / "ok.chatemu").write_text("expect chat C1 state=new customer=Ann\n")
    pytester.makepyfile(test_user="""
        def test_expectation(chatemu, chatemu_scenario):
            chatemu_scenario("scenarios/flow.chatemu")

        def test_refusal(chatemu_scenario):
            chatemu_scenario("scenarios/refused.chatemu")

        def test_passing(chatemu, chatemu_scenario):
            chatemu.new(customer="Ann")
            assert len(chatemu_scenario("scenarios/ok.chatemu")) == 1
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*scenarios/flow.chatemu:4: expect chat C1 state=parked: C1.state: expected parked, got active (exit 1)",
        "*scenarios/refused.chatemu:2: chat take C1: cannot take C1: * (exit 3)",
    ])
    assert "Traceback" not in result.stdout.str()
    # each failure's message once, on its own (no chained exception printed before it)
    out = result.stdout.str()
    assert "During handling of the above exception" not in out
    failures = out.split("short test summary info")[0]
    assert failures.count("C1.state: expected parked, got active") == 1
    assert failures.count("cannot take C1") == 1


def test_the_scenario_fixture_reads_paths_from_the_test_files_folder(pytester):
    pytester.mkdir("sub")
    (pytester.path / "sub" / "one.chatemu").write_text("chat new\n")
    (pytester.path / "sub" / "test_user.py").write_text(
        "def test_it(chatemu, chatemu_scenario):\n"
        "    chatemu_scenario('one.chatemu')\n"
        "    assert chatemu.chat('C1')['state'] == 'new'\n")
    pytester.runpytest("-p", "no:cacheprovider", "sub").assert_outcomes(passed=1)


# == the documentation ========================================================================


def doc_blocks(kind: str, doc: str = DOC) -> list[str]:
    """The text of the document's fenced blocks of this kind ("" for a block with none)."""
    return [text for lang, text in re.findall(r"^```(\w*)\n(.*?)^```$", doc, re.S | re.M) if lang == kind]


def test_every_method_is_documented():
    import inspect

    from chatemu import Emulator

    methods = [name for name, _ in inspect.getmembers(Emulator, inspect.isfunction) if not name.startswith("_")]
    assert len(methods) > 60
    assert [name for name in methods if f"`{name}(" not in DOC] == []


def test_the_documented_examples_pass_as_written(pytester):
    tests = [block for block in doc_blocks("python") + doc_blocks("python", README) if "def test_" in block]
    assert len(tests) == 9
    (scenario,) = [block for block in doc_blocks("") if block.startswith("# scenarios/")]
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "wrapup.chatemu").write_text(scenario)
    for number, block in enumerate(tests):
        pytester.makepyfile(**{f"test_doc_{number}": block})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=sum(block.count("def test_") for block in tests))


def test_the_documented_failure_is_what_a_failing_line_shows(pytester):
    (scenario,) = [block for block in doc_blocks("") if block.startswith("# scenarios/")]
    (shown,) = [block for block in doc_blocks("") if block.startswith("scenarios/wrapup.chatemu:")]
    (example,) = [block for block in doc_blocks("python") if "chatemu_scenario(" in block]
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "wrapup.chatemu").write_text(scenario.replace("=30s", "=20s"))
    pytester.makepyfile(test_doc=example)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*" + shown.strip()])


def test_the_documented_programs_outside_pytest(tmp_path):
    import os

    programs = [block for block in doc_blocks("python") if "def test_" not in block]
    assert len(programs) == 2
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("CHATEMU_DB", None)
    outputs = []
    for number, program in enumerate(programs):
        folder = tmp_path / str(number)
        folder.mkdir()
        done = subprocess.run([sys.executable, "-c", program], cwd=folder, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert "'id': 'C1'" in outputs[0] and (tmp_path / "0" / "inbox.db").exists()
    assert re.search(r"\bC1\b.*\bnew\b", outputs[1]) and "Ann" in outputs[1]
    assert list((tmp_path / "1").iterdir()) == []  # the block's database is gone with its folder
