"""Bundles and snapshots, streamed (``store/bundle.py``), in-process.

The JSON reader must read what ``json.loads`` reads, and refuse what it refuses, wherever
the pieces it is handed happen to split the text; a stored part must give back its rows
exactly, however its chunks fall; and a bundle read as it streams must be judged as a
check of the whole document judges it, first problem first.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatemu.store import bundle
from chatemu.store.engine import Engine
from chatemu.store.errors import DatabaseError, UsageError


def pieces(text: str, size: int):
    """``read(n)`` over ``text`` that hands out at most ``size`` characters at a time."""
    at = 0

    def read(n: int) -> str:
        nonlocal at
        piece = text[at:at + min(n, size)]
        at += len(piece)
        return piece

    return read


def read_whole(text: str, size: int):
    """The value ``Reader`` reads (objects and arrays walked, everything else decoded whole)."""
    reader = bundle.Reader(pieces(text, size))

    def walk():
        char = reader.peek()
        if char == "{":
            return {key: walk() for key in reader.members()}
        if char == "[":
            return [walk() for _ in reader.items()]
        return reader.value()

    found = walk()
    reader.end()
    return found


DOCUMENTS = [
    '{"a": 1, "b": [1, 2, {"c": "d"}], "e": null}',
    '  {\n "format" : "x" ,\t"n":12345678901234567890 , "f": -1.5e10, "t": true}  \n',
    '[]', '{}', '[[[]]]', '"just a string"', "12345", "-0.25", "true", "null",
    '{"unicode": "é漢字 \\u00e9 \\ud83d\\ude00", "esc": "a\\"b\\\\c\\n"}',
    '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]',
    '{"dup": 1, "dup": 2}',
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize("text", DOCUMENTS)
def test_reader_reads_what_json_loads_reads(text, size):
    assert read_whole(text, size) == json.loads(text)


MALFORMED = ["", " ", "{", '{"a": 1', '{"a" 1}', '{"a": 1,}', "[1, 2", "[1 2]", '{"a": tru}', "nul", "1 2",
             '{"a": 1} x', "{'a': 1}", '{"a": "unterminated}', "[,]", "01"]


@pytest.mark.parametrize("size", [1, 3, 1 << 20])
@pytest.mark.parametrize("text", MALFORMED)
def test_reader_refuses_what_json_loads_refuses(text, size):
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(bundle.Malformed):
        read_whole(text, size)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values, size=st.integers(1, 9), indent=st.sampled_from([None, 1]))
def test_reader_on_any_json(value, size, indent):
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    assert read_whole(text, size) == json.loads(text)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.dictionaries(st.sampled_from("abcdef"), st.none() | st.integers() | st.text()), max_size=600),
       chunk=st.sampled_from([1, 5, 100, 1 << 20]))
def test_a_part_gives_its_rows_back(rows, chunk):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE parts (owner INTEGER, part TEXT, seq INTEGER, data BLOB)")
    parts = bundle.Parts(conn, "parts", "owner", 1)
    old = bundle.CHUNK
    bundle.CHUNK = chunk  # tiny chunks: many of them, lines split across them
    try:
        writer = parts.writer("t")
        for row in rows:
            writer.add(row)
        assert writer.close() == len(rows)
        assert [row for batch in parts.rows("t") for row in batch] == rows
        written = []
        parts.write_json("t", written.append)
        assert "".join(written) == bundle.dumps(rows).rstrip("\n")
    finally:
        bundle.CHUNK = old
    assert parts.names() == {"t"}  # an empty table is a part too


def engine_with_history(path) -> Engine:
    eng = Engine(str(path), wall=lambda: 1767603600000)
    eng.clock_set(1767603600000)
    eng.config_set("wrapup", "2m", "sales")
    for i in range(1, 6):
        eng.chat_new(customer=f"Ann {i}", queue="sales" if i % 2 else "default")
    eng.chat_activate("C1")
    eng.chat_send("C1", text="héllo\nthere")
    eng.chat_end("C1")
    eng.snapshot_save("one")
    eng.clock_advance(30_000)
    eng.snapshot_save("two")
    return eng


def test_export_import_export_in_tiny_pieces(tmp_path, monkeypatch):
    """The same bundle, whatever the pieces it is read in and the chunks states are stored in."""
    text = engine_with_history(tmp_path / "a.db").export()
    monkeypatch.setattr(bundle, "CHUNK", 64)
    monkeypatch.setattr(bundle.Reader, "PIECE", 5)
    other = Engine(str(tmp_path / "b.db"), wall=lambda: 1767603600000)
    other.import_(text, "bundle")
    assert other.export() == text
    for name in ("one", "two"):
        other.snapshot_restore(name)
    assert json.loads(other.export())["state"] == json.loads(text)["snapshots"][1]["state"]


def test_a_pretty_bundle_in_any_key_order_imports_as_the_canonical_one(tmp_path):
    text = engine_with_history(tmp_path / "a.db").export()
    document = json.loads(text)
    shuffled = {key: document[key] for key in reversed(list(document))}
    shuffled["state"] = {key: document["state"][key] for key in reversed(list(document["state"]))}
    other = Engine(str(tmp_path / "b.db"), wall=lambda: 1767603600000)
    other.import_(json.dumps(shuffled, indent=2), "bundle")
    assert other.export() == text


def problem(tmp_path, document) -> tuple[type, str]:
    eng = Engine(str(tmp_path / "judge.db"), wall=lambda: 1767603600000)
    with pytest.raises((UsageError, DatabaseError)) as caught:
        eng.import_(document if isinstance(document, str) else json.dumps(document), "b.json")
    return type(caught.value), str(caught.value)


def test_problems_are_named_first_things_first(tmp_path):
    good = json.loads(engine_with_history(tmp_path / "a.db").export())

    def changed(change) -> dict:
        document = json.loads(json.dumps(good))
        change(document)
        return document

    def both_bad(d):
        d["state"]["events"][0]["cause"] = 5  # events come after chats ...
        d["state"]["chats"][3]["priority"] = "high"  # ... so this one is named

    cases = [
        (lambda d: d.update(format="other", format_version=99), UsageError, "not a chatemu bundle"),
        (lambda d: d.update(format_version=99, schema_version=99), DatabaseError, "bundle format 99"),
        (lambda d: d.update(schema_version=99, extra=1), DatabaseError, "schema version 99"),
        (lambda d: d.update(extra=1, state=None), UsageError, "unknown part 'extra'"),
        (lambda d: d.pop("state"), UsageError, "the state is not an object"),
        (lambda d: d["state"].update(zebra=[], apple=1), UsageError, "unknown part 'apple'"),
        (lambda d: d["state"].pop("agents"), UsageError, "agents is missing or not a list"),
        (both_bad, UsageError, "chats[3].priority is not an integer"),
        (lambda d: d["state"]["chats"][1].pop("number"), UsageError, "chats[1] lacks 'number'"),
        # after rows of the same shape that were sound: still checked
        (lambda d: d["state"]["events"][5].update(at_ms=2**70), UsageError, "events[5].at_ms is out of range"),
        (lambda d: d["state"]["chats"][2].update(priority=True), UsageError, "chats[2].priority is not an integer"),
        (lambda d: d["state"]["chats"][1].pop("transfers"), UsageError, "chats[1] lacks 'transfers'"),
        (lambda d: d["state"]["meta"].append(dict(d["state"]["meta"][0])), UsageError, "exactly one row"),
        (lambda d: d["state"].update(events_seq=True), UsageError, "events_seq"),
        (lambda d: d["snapshots"].append(3), UsageError, "snapshots[2] is not a snapshot"),
        (lambda d: d["snapshots"][0].update(name=5), UsageError, "snapshots[0] has a bad name 5"),
        (lambda d: d["snapshots"][1]["state"]["chats"][0].update(state=None), UsageError,
         "snapshot two: chats[0].state may not be null"),
    ]
    for change, kind, message in cases:
        found_kind, found = problem(tmp_path, changed(change))
        assert (found_kind, message in found) == (kind, True), (message, found)
    assert "malformed or truncated JSON" in problem(tmp_path, json.dumps(good)[:-40])[1]


def test_an_older_state_in_a_bundle_is_upgraded_as_it_loads(tmp_path):
    """A state without the tables schema 3 added (its chats lacking transfers, unread …) is an
    older one: accepted, and upgraded as migration 0003 upgrades a database."""
    document = json.loads(engine_with_history(tmp_path / "a.db").export())
    document["snapshots"] = []
    state = document["state"]
    for table in ("contacts", "messages", "templates", "classification_codes"):
        del state[table]
    for chat in state["chats"]:
        for column in ("origin_queue", "transfers", "unread", "classification", "classification_note", "abusive",
                       "contact"):
            del chat[column]
    document["schema_version"] = 2
    other = Engine(str(tmp_path / "b.db"), wall=lambda: 1767603600000)
    other.import_(json.dumps(document), "old")
    chats = other.chat_list(all_chats=True).value
    assert [(c["origin_queue"], c["contact"], c["messages"]) for c in chats] == [
        (c["queue"], c["customer"], 0) for c in chats]
    assert other.contact_history("Ann 3").value["chats"][0]["id"] == "C3"


# -- a value that never ends ---------------------------------------------------------------------


class SmallReader(bundle.Reader):
    """The reader with a small bound on one value, to test its edges cheaply."""

    PIECE = 64
    MAX_VALUE = 1000


def counted(text: str):
    """``read(n)`` over ``text``, and how many characters it has handed out."""
    handed = [0]
    read = pieces(text, 1 << 30)

    def counting(n: int) -> str:
        piece = read(n)
        handed[0] += len(piece)
        return piece

    return counting, handed


@pytest.mark.parametrize("make", [lambda n: '"' + "a" * (n - 2) + '"', lambda n: "[" + "1," * ((n - 3) // 2) + "1]",
                                  lambda n: '{"' + "k" * (n - 6) + '":1}'])
def test_a_value_up_to_the_bound_is_read_and_one_past_it_refused(make):
    for size, ok in ((SmallReader.MAX_VALUE, True), (SmallReader.MAX_VALUE + 50, False)):
        text = make(size)
        assert size - 1 <= len(text) <= size
        reader = SmallReader(pieces(text, 7))
        if ok:
            assert reader.value() == json.loads(text)
        else:
            with pytest.raises(bundle.Malformed, match="a value longer than 1,000 characters"):
                reader.value()


def test_an_endless_value_is_refused_having_read_a_bounded_amount():
    read, handed = counted('{"format": "' + "a" * 10_000_000)
    reader = SmallReader(read)
    with pytest.raises(bundle.Malformed, match="longer than"):
        for _ in reader.members():
            reader.value()
    assert handed[0] <= 2 * SmallReader.MAX_VALUE + 2 * SmallReader.PIECE


@pytest.mark.parametrize("text", ["\0" * 10_000_000, "y\n" * 5_000_000, "<html>" * 1_000_000])
def test_what_no_json_value_starts_with_is_refused_at_once(text):
    read, handed = counted(text)
    with pytest.raises(bundle.Malformed, match="Expecting value"):
        bundle.Reader(read).value()
    assert handed[0] <= bundle.Reader.PIECE
    with pytest.raises(json.JSONDecodeError):
        json.loads(text[:100])


@pytest.mark.parametrize("text", ["9" * 5000, '{"a": ' + "-" + "1" * 4301 + "}", "[1, " + "2" * 10_000 + "]"])
def test_a_number_of_more_digits_than_python_reads_is_refused(text):
    with pytest.raises(bundle.Malformed, match="a number of more than 4300 digits"):
        read_whole(text, 100)


def test_a_5000_digit_number_in_a_bundle_is_a_usage_error(tmp_path):
    eng = Engine(str(tmp_path / "a.db"), "agent-1", lambda: 1_767_603_600_000)
    eng.clock_set(1_767_603_600_000)

    class Source:
        def __init__(self, text):
            self.read = pieces(text, 1 << 20)

    with pytest.raises(UsageError, match="not a chatemu bundle: .*a number of more than 4300 digits"):
        eng.import_(Source('{"format": "chatemu-bundle", "format_version": ' + "1" * 5000 + "}"), "bad.json", False)
