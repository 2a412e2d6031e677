"""No input reaches exit 70: numbers too big for an integer (or for Python to read), a clock at the
end of the calendar, and inputs that never end.

Each case runs ``chatemu`` as a process and expects one ``error: …`` line with its documented exit
code and the database's bytes unchanged (or, where the input is legal, later commands working).
The endless inputs run under a memory limit (``RLIMIT_AS``) and a timeout: the bundle reader
refuses a value it cannot finish within a fixed length, at flat memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import threading
import time

import pytest

from conftest import CHATEMU, Chatemu

HUGE = "9" * 20  # past SQLite's integers
ENDLESS_DIGITS = "9" * 5000  # past Python's integer-string limit


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def refused(cm: Chatemu, code: int, *args: str, match: str = "", stdin: str | None = None):
    before = sha(cm.db)
    done = cm.run(*args, stdin=stdin)
    assert done.code == code, done
    assert "Traceback" not in done.err and "internal error" not in done.err, done
    assert len(done.err.splitlines()) == 1 and done.err.startswith("error: "), done
    assert match in done.err, done
    assert sha(cm.db) == before, done
    return done


# -- expect events-since ------------------------------------------------------------------------


@pytest.mark.parametrize("since, count, match", [
    (HUGE, "1", "bad SEQ"), ("1", HUGE, "bad count"), ("1", ENDLESS_DIGITS, "bad count"),
    (ENDLESS_DIGITS, "1", "bad SEQ"), ("²", "1", "bad SEQ"), ("1", "²", "bad count"),
    (str(2**63), "0", "out of range"), ("0" * 5000 + "1", "1" + "0" * 4400, "bad count"),
])
def test_expect_events_since_refuses_numbers_out_of_range(cm, since, count, match):
    refused(cm, 2, "expect", "events-since", since, count, match=match)


def test_expect_events_since_takes_the_largest_seq(cm):
    cm.ok("expect", "events-since", str(2**63 - 1), "0")


@pytest.mark.parametrize("since, count", [(HUGE, "1"), ("1", ENDLESS_DIGITS)])
def test_a_run_line_with_a_huge_events_since_is_a_usage_error(cm, tmp_path, since, count):
    script = tmp_path / "s.chatemu"
    script.write_text(f"chat new\nexpect events-since {since} {count}\n")
    done = cm.run("run", str(script))
    assert done.code == 2, done
    assert "internal error" not in done.err and "s.chatemu:2:" in done.err, done


@pytest.mark.parametrize("since, count", [(HUGE, "1"), ("1", ENDLESS_DIGITS), ("1", HUGE)])
def test_a_drill_wait_with_a_huge_events_since_is_refused_before_it_starts(cm, tmp_path, since, count):
    drill = tmp_path / "d.drill"
    drill.write_text(f"say hello\nwait events-since {since} {count} --within 1s\n")
    done = refused(cm, 2, "drill", str(drill), match="d.drill:2:")
    assert "hello" not in done.out


# -- bundles holding numbers Python will not read -----------------------------------------------


@pytest.fixture
def bundle_text(cm) -> str:
    cm.ok("chat", "new", "--customer", "Ann")
    cm.ok("chat", "activate", "C1")
    cm.ok("snapshot", "save", "s1")
    return cm.ok("export", "-").out


def places(document, prefix=()):
    """Every (path) of a leaf integer or string in a JSON document."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from places(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from places(value, prefix + (index,))
    else:
        yield prefix


def test_a_5000_digit_integer_anywhere_in_a_bundle_is_refused(bundle_text, tmp_path):
    document = json.loads(bundle_text)
    target = Chatemu(tmp_path / "target.db")
    target.ok("clock", "set", "2026-01-05T09:00:00Z")
    spots = list(places(document))
    assert len(spots) > 40
    for spot in spots:
        copy = json.loads(bundle_text)
        parent = copy
        for key in spot[:-1]:
            parent = parent[key]
        parent[spot[-1]] = "@mark@"  # replaced by the digits in the text
        text = json.dumps(copy).replace('"@mark@"', ENDLESS_DIGITS)
        refused(target, 2, "import", "-", stdin=text, match="not a chatemu bundle")


def test_a_real_clock_bundle_whose_offset_passes_9999_reads_the_end_of_the_calendar(bundle_text, tmp_path):
    document = json.loads(bundle_text)
    meta = document["state"]["meta"][0]
    meta["mode"] = "real"
    meta["offset_ms"] = 253_402_300_799_999 - 1_000_000_000_000  # now: past 9999 by decades
    target = Chatemu(tmp_path / "target.db")
    target.ok("clock", "set", "2026-01-05T09:00:00Z")
    target.ok("import", "-", stdin=json.dumps(document))
    assert target.ok("clock").out.startswith("9999-12-31T23:59:59.999Z")
    target.ok("chat", "new")
    target.ok("events")
    target.ok("db", "check")


# -- the clock at the end of the calendar ---------------------------------------------------------


def test_a_real_clock_stops_at_the_end_of_9999(cm):
    cm.ok("clock", "set", "9999-12-31T23:59:59.500Z")
    cm.ok("chat", "new")
    cm.ok("clock", "real")
    time.sleep(0.8)  # the wall clock takes it past the end
    assert cm.ok("clock").out.startswith("9999-12-31T23:59:59.999Z")
    cm.ok("chat", "new")
    cm.ok("chat", "activate", "C1")
    cm.ok("events")
    cm.ok("db", "check")
    refused(cm, 2, "clock", "advance", "1s", match="0001-01-01 to 9999-12-31T23:59:59.999Z")
    cm.ok("reset", "--yes")
    cm.ok("chat", "new")


def test_a_time_before_the_year_1000_is_printed_with_four_digits_and_reads_back(cm):
    cm.ok("clock", "set", "0500-01-01T00:00:00Z")
    assert cm.js("chat", "new")["created_at"] == "0500-01-01T00:00:00.000Z"
    now = cm.js("clock")["now"]
    assert now == "0500-01-01T00:00:00.000Z"
    cm.ok("clock", "set", now)  # what chatemu prints, it reads
    assert cm.js("stats", "agents", "--since", "0001-01-01T00:00:00Z")["since"] == "0001-01-01T00:00:00.000Z"


@pytest.mark.parametrize("args", [("clock", "advance", "1ms"), ("clock", "set", "10000-01-01T00:00:00Z"),
                                  ("clock", "set", "9999-12-31T23:59:59-01:00")])
def test_the_clock_never_passes_the_end_of_the_calendar(cm, args):
    cm.ok("clock", "set", "9999-12-31T23:59:59.999Z")
    refused(cm, 2, *args)


# -- endless inputs -----------------------------------------------------------------------------

LIMIT = 160 << 20  # address space: what chatemu needs to start, and a bounded piece of input more
TOTAL = 200 << 20  # bytes offered, more than the limit: only a reader that stops early finishes


def _endless(head: bytes, unit: bytes):
    def chunks():
        yield head
        block = unit * max(1, (1 << 20) // len(unit))
        sent = len(head)
        while sent < TOTAL:
            yield block
            sent += len(block)
    return chunks


ENDLESS = {
    "zeros": _endless(b"", b"\0"),
    "yes": _endless(b"", b"y\n"),
    "a string": _endless(b'{"format": "', b"a"),
    "a string of emoji": _endless(b'{"format": "', "😀".encode()),
    "a row's string": _endless(b'{"format":"chatemu-bundle","format_version":1,"schema_version":6,"state":'
                               b'{"chats":[{"id":"', b"x"),
    "digits": _endless(b'{"format": ', b"9"),
    "an array": _endless(b'{"other": [', b"1234,"),
    "a key": _endless(b'{"', b"k"),
}


def offer_endlessly(argv: list[str], env: dict, chunks, limit: int) -> tuple[int, bytes, str]:
    """Run ``argv`` under an address-space ``limit``, its stdin fed ``chunks`` until it stops
    reading; its exit status, stdout and stderr."""
    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    read_end, write_end = os.pipe()
    proc = subprocess.Popen(argv, stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=limited)
    os.close(read_end)

    def feed():
        with open(write_end, "wb") as pipe:
            try:
                for chunk in chunks:
                    pipe.write(chunk)
            except OSError:  # it stopped reading
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    feeder.join(timeout=10)
    return proc.returncode, out, err.decode()


@pytest.mark.parametrize("shape", sorted(ENDLESS))
def test_an_endless_bundle_is_refused_at_flat_memory(cm, shape):
    before = sha(cm.db)
    code, out, err = offer_endlessly([CHATEMU, "import", "-"], cm.env, ENDLESS[shape](), LIMIT)
    assert code == 2, err
    assert err.startswith("error: <stdin> is not a chatemu bundle: ") and len(err.splitlines()) == 1, err
    assert out == b""
    assert sha(cm.db) == before


def test_import_of_dev_zero_is_refused_at_once(cm):
    refused(cm, 2, "import", "/dev/zero", match="/dev/zero is not a chatemu bundle: malformed or truncated JSON")


@pytest.mark.parametrize("part, value, ok", [
    ("events_seq", 2**63 - 1, False), ("events_seq", 2**62 + 1, False), ("events_seq", 2**62, False),
    ("events_seq", 0, True),
    ("next_chat", 2**63 - 1, False), ("next_chat", 2**62 + 1, False), ("next_chat", 2**62, True),
])
def test_a_bundle_leaves_room_for_the_chats_and_events_to_come(bundle_text, tmp_path, part, value, ok):
    document = json.loads(bundle_text)
    if part == "events_seq":
        value = value or document["state"]["events_seq"]  # 0: as it is
        document["state"]["events_seq"] = value
    else:
        document["state"]["meta"][0]["next_chat"] = value
    target = Chatemu(tmp_path / "target.db")
    target.ok("clock", "set", "2026-01-05T09:00:00Z")
    if not ok:
        refused(target, 2, "import", "-", stdin=json.dumps(document),
                match="above the last event's seq" if value == 2**62 else "out of range")
        return
    target.ok("import", "-", stdin=json.dumps(document))
    for _ in range(2):
        target.ok("chat", "new")
    target.ok("db", "check")


FILE_LIMIT = 400 << 20  # address space: chatemu, and a scenario file of the largest size kept in memory
FILE_TOTAL = 600 << 20  # bytes offered: more than the limit


@pytest.mark.parametrize("command", ["run", "drill"])
@pytest.mark.parametrize("unit", [b"chat new\n", b"y\n", b"\0"], ids=["lines", "yes", "zeros"])
def test_an_endless_scenario_or_drill_on_stdin_is_refused_at_bounded_memory(cm, command, unit):
    from chatemu.cli.files import MAX_TEXT

    assert FILE_TOTAL > FILE_LIMIT > MAX_TEXT * 2
    before = sha(cm.db)
    block = unit * ((1 << 20) // len(unit))
    chunks = (block for _ in range(FILE_TOTAL // len(block)))
    code, out, err = offer_endlessly([CHATEMU, command, "-"], cm.env, chunks, FILE_LIMIT)
    assert code == 2, err
    assert err == (f"error: cannot read <stdin>: longer than {MAX_TEXT:,} characters, the most a scenario or drill "
                   "file may hold\n"), err
    assert out == b""
    assert sha(cm.db) == before
