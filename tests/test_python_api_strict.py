"""The Python API raises only its documented errors and cannot break an invariant: every argument
of every method is checked by the command line's rules (a flag is a bool, a number an int, a name
or text a str a command line could carry, a path a str or os.PathLike), anything else is a
``UsageError`` (exit code 2) before anything is read or written, and ``db check`` stays clean.

``CHATEMU_HEAVY=1`` tries many more examples.
"""

from __future__ import annotations

import datetime
import inspect
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatemu import ChatemuError, Emulator, UsageError
from chatemu.store.check import check_path
from conftest import START

HEAVY = bool(os.environ.get("CHATEMU_HEAVY"))
STRICT = settings(max_examples=400 if HEAVY else 40, deadline=None, derandomize=not HEAVY,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def emu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever path a call names is in here
    emulator = Emulator(tmp_path / "api.db")
    emulator.set_clock(START)
    emulator.new(customer="Ann")
    emulator.template_add("greet", "Hello {customer}")
    emulator.classification_add("refund")
    emulator.snapshot_save("start")
    return emulator


def rows(emu: Emulator) -> tuple:
    return emu.chats(all=True), emu.events(), emu.settings(), emu.agents()


@pytest.mark.parametrize("call", [
    lambda emu: emu.new(priority=1.5),
    lambda emu: emu.new(priority=2**70),
    lambda emu: emu.new(priority="5"),
    lambda emu: emu.new(priority=True),
    lambda emu: emu.new(inbox="no"),
    lambda emu: emu.new(inbox=1),
    lambda emu: emu.new(customer=b"Ann"),
    lambda emu: emu.new(customer="Ann\0"),
    lambda emu: emu.new(queue=None),
    lambda emu: emu.new("Ann", "default", 0, None, False, "extra"),
    lambda emu: emu.new(colour="red"),
    lambda emu: emu.activate(1),
    lambda emu: emu.activate(),
    lambda emu: emu.events(since=2**70),
    lambda emu: emu.events(since=-1),
    lambda emu: emu.events(since=1.0),
    lambda emu: emu.refusals(since=2**63),
    lambda emu: emu.wrapup("C1", extend="yes"),
    lambda emu: emu.advance(1.5),
    lambda emu: emu.advance(10**30),
    lambda emu: emu.advance(datetime.timedelta(microseconds=1)),
    lambda emu: emu.advance(None),
    lambda emu: emu.set_clock(20260105),
    lambda emu: emu.config("wrapup", None),
    lambda emu: emu.config("max-chats", 1.5),
    lambda emu: emu.config("break-reasons", ["lunch", 5]),
    lambda emu: emu.set_queues("default", None),
    lambda emu: emu.stats_agents(since=0),
    lambda emu: emu.export(b"bundle.json"),
    lambda emu: emu.export("bundle\0.json"),
    lambda emu: emu.import_(None),
    lambda emu: emu.expect("chat", "C1", 5),
    lambda emu: emu.preset(config=["wrapup", "30s"]),
    lambda emu: emu.run(3),
    lambda emu: emu.as_agent(None),
    lambda emu: Emulator(b"/x.db"),
    lambda emu: Emulator(None),
    lambda emu: Emulator(5),
    lambda emu: Emulator("/tmp/x\0.db"),
    lambda emu: Emulator(""),
    lambda emu: Emulator("x.db", agent=5),
    lambda emu: Emulator("x.db", colour="red"),
    lambda emu: __import__("chatemu").emulated(clock=5),
    lambda emu: __import__("chatemu").emulated(config="wrapup=30s"),
    lambda emu: __import__("chatemu").emulated(colour="red"),
], ids=lambda call: inspect.getsource(call).strip().removeprefix("lambda emu: ").rstrip(","))
def test_a_wrong_argument_is_a_usage_error_and_changes_nothing(emu, call):
    before = rows(emu)
    with pytest.raises(UsageError) as usage:
        call(emu)
    assert usage.value.exit_code == 2 and "\n" not in usage.value.message
    assert rows(emu) == before
    assert check_path(emu.path) == []


def test_the_right_types_still_pass(emu):
    assert emu.new(priority=2, inbox=True)["priority"] == 2
    assert emu.events(since=0) and emu.events(since=2**63 - 1) == []
    assert emu.advance(datetime.timedelta(seconds=1))["now"] == "2026-01-05T09:00:01.000Z"
    assert emu.config("max-chats", 3)["max-chats"] == 3 and emu.config("auto-present", False)["auto-present"] is False
    assert Emulator(Path(emu.path)).chat("C1")["customer"] == "Ann"
    assert emu.set_queues("default") is not None
    assert check_path(emu.path) == []


# == any value, any method ========================================================================

PLAUSIBLE = ["C1", "C2", "default", "agent-1", "agent-2", "20s", "2026-01-05T09:00:00Z", "wrapup", "max-chats",
             "on", "greet", "refund", "start", "lunch", "state=new", "chat", "inbox", "-", "x.json"]
VALUES = st.one_of(
    st.none(), st.booleans(),
    st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 2**63, 2**63 - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=8),
    st.text(max_size=12),  # any code point: NUL, control characters, lone surrogates
    st.sampled_from(PLAUSIBLE),
    st.lists(st.sampled_from(PLAUSIBLE + [None, 3]), max_size=3),
    st.sampled_from([datetime.timedelta(seconds=5), datetime.timedelta(days=-1), {"wrapup": "30s"}, {"x": 1}]),
)
METHODS = sorted(name for name, member in inspect.getmembers(Emulator, inspect.isfunction) if not name.startswith("_"))


@st.composite
def calls(draw):
    name = draw(st.sampled_from(METHODS))
    params = [p for p in inspect.signature(getattr(Emulator, name)).parameters.values() if p.name != "self"]
    args, kwargs = [], {}
    for param in params:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            args += draw(st.lists(VALUES, max_size=3))
        elif param.default is inspect.Parameter.empty or draw(st.booleans()):
            if param.default is inspect.Parameter.empty and not kwargs:
                args.append(draw(VALUES))
            else:
                kwargs[param.name] = draw(VALUES)
    if draw(st.integers(0, 9)) == 0:  # now and then a call of the wrong shape
        args.append(draw(VALUES)) if draw(st.booleans()) else kwargs.update(unknown=draw(VALUES))
    return name, args, kwargs


@STRICT
@given(steps=st.lists(calls(), min_size=1, max_size=4), path=VALUES)
def test_any_value_to_any_method_raises_only_chatemu_errors_and_db_check_stays_clean(emu, steps, path):
    try:
        Emulator(path)
    except ChatemuError as error:
        assert error.exit_code == 2
    for name, args, kwargs in steps:
        try:
            getattr(emu, name)(*args, **kwargs)
        except ChatemuError as error:
            assert error.exit_code in (1, 2, 3, 4, 5), (name, args, kwargs, error)
            assert error.message and "\n" not in error.message, (name, args, kwargs, error)
        except Exception as error:  # noqa: BLE001 -- the point: nothing else may escape
            pytest.fail(f"{name}(*{args!r}, **{kwargs!r}) raised {type(error).__name__}: {error}")
        assert check_path(emu.path) == [], (name, args, kwargs)
