"""Tokens and roles: ``chatemu token …`` as real processes (a token printed once, stored only as
its hash in ``DIR/.tokens.db``, mode 0600; list without secrets; revoke; bad role and agent
combinations exit 2), and the policy table in-process across every command and role."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from chatemu.server import tokens as tk
from chatemu.server.tokens import POLICY, Token, TokenStore, authorize

from conftest import Chatemu


@pytest.fixture
def cm(tmp_path) -> Chatemu:
    """``chatemu`` run from a working folder of its own, the data folder elsewhere."""
    return Chatemu(tmp_path / "unused.db")


def files_under(folder) -> set[str]:
    return {os.path.relpath(os.path.join(root, name), folder) for root, _, names in os.walk(folder) for name in names}


def test_add_prints_a_token_once_and_keeps_only_its_hash(cm, tmp_path):
    data = tmp_path / "srv"
    data.mkdir()
    done = cm.ok("token", "add", "--data-dir", str(data), "--ns", "demo", "--role", "trainer")
    token = done.out.strip()
    assert done.out == token + "\n" and token.startswith("cet_") and len(token) == 4 + 43
    assert files_under(data) == {".tokens.db"}
    stored = (data / ".tokens.db").read_bytes()
    assert token.encode() not in stored and token[4:].encode() not in stored
    assert hashlib.sha256(token.encode()).hexdigest().encode() in stored
    assert stat.S_IMODE(os.stat(data / ".tokens.db").st_mode) == 0o600
    # another token is another secret
    again = cm.ok("token", "add", "--data-dir", str(data), "--ns", "demo", "--role", "trainer").out.strip()
    assert again != token
    found = TokenStore(str(data)).lookup(token)
    assert found is not None and (found.id, found.ns, found.role, found.agent, found.revoked) == (1, "demo", "trainer", None, None)
    assert TokenStore(str(data)).lookup(token + "x") is None and TokenStore(str(data)).lookup("") is None


def test_list_shows_every_token_and_no_secret(cm, tmp_path):
    data = tmp_path / "srv"
    data.mkdir()
    made = [cm.js("token", "add", "--data-dir", str(data), "--ns", ns, "--role", role, *extra)
            for ns, role, extra in (("demo", "trainer", ()), ("demo", "agent", ("--agent", "agent-2")),
                                    ("other-1", "customer", ()))]
    listed = cm.js("token", "list", "--data-dir", str(data))
    assert [t["id"] for t in listed] == [1, 2, 3]
    assert [(t["ns"], t["role"], t["agent"], t["revoked"]) for t in listed] == [
        ("demo", "trainer", None, None), ("demo", "agent", "agent-2", None), ("other-1", "customer", None, None)]
    assert all(set(t) == {"id", "ns", "role", "agent", "created", "revoked"} for t in listed)
    plain = cm.ok("token", "list", "--data-dir", str(data)).out
    assert plain.splitlines()[0].split() == ["ID", "NS", "ROLE", "AGENT", "CREATED", "REVOKED"]
    assert "agent-2" in plain and "other-1" in plain
    for t in made:
        assert t["token"] not in plain and t["token"] not in str(listed)
    assert cm.ok("token", "list", "--data-dir", str(tmp_path)).out == "no tokens\n"


def test_revoke_refuses_the_token_from_then_on(cm, tmp_path):
    data = tmp_path / "srv"
    data.mkdir()
    secret = cm.js("token", "add", "--data-dir", str(data), "--ns", "demo", "--role", "agent", "--agent", "a1")["token"]
    store = TokenStore(str(data))
    before = store.lookup(secret)
    assert authorize(before, False, "demo", ("chat", "park"), None).allowed
    done = cm.ok("token", "revoke", "--data-dir", str(data), "1")
    assert done.out == "revoked token 1 (agent of demo)\n"
    after = store.lookup(secret)
    assert after.revoked is not None
    assert authorize(after, False, "demo", ("chat", "park"), None) == (False, 401, "this token was revoked")
    assert cm.js("token", "list", "--data-dir", str(data))[0]["revoked"] == after.revoked
    cm.fails(3, "token", "revoke", "--data-dir", str(data), "1", match="already revoked")
    cm.fails(4, "token", "revoke", "--data-dir", str(data), "7", match="unknown token 7")
    for number, match in (("0", "use 1 or more"), ("99999999999999999999", "no token has an id that large")):
        cm.fails(2, "token", "revoke", "--data-dir", str(data), number, match=f"bad token id {number}: {match}")
    assert store.defined()  # a revoked token still closes the folder


@pytest.mark.parametrize("args, match", [
    (("--role", "agent"), "needs --agent"),
    (("--role", "trainer", "--agent", "a1"), "acts as no agent"),
    (("--role", "customer", "--agent", "a1"), "acts as no agent"),
    (("--role", "boss"), "bad role"),
    (("--role", "agent", "--agent", "bad agent"), "bad agent id"),
    (("--role", "trainer", "--ns", "Demo"), "bad namespace"),
    (("--role", "trainer", "--ns", "-demo"), "bad namespace"),
    (("--role", "trainer", "--ns", "a" * 65), "bad namespace"),
    (("--role", "trainer", "--ns", "../x"), "bad namespace"),
])
def test_bad_role_agent_or_namespace_is_a_usage_error_and_writes_nothing(cm, tmp_path, args, match):
    data = tmp_path / "srv"
    data.mkdir()
    argv = ["token", "add", "--data-dir", str(data), *(() if "--ns" in args else ("--ns", "demo")), *args]
    cm.fails(2, *argv, match=match)
    assert files_under(data) == set()


def test_the_data_folder_is_where_tokens_go_and_nowhere_else(cm, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "elsewhere" / "srv"
    outside.mkdir(parents=True)
    relative = os.path.relpath(outside, work)
    from conftest import CHATEMU, launch

    code, out, err = launch([CHATEMU, "token", "add", "--data-dir", relative, "--ns", "n1", "--role", "customer"],
                            cm.env, cwd=str(work))
    assert (code, err) == (0, ""), err
    assert files_under(work) == set() and files_under(outside) == {".tokens.db"}
    assert TokenStore(str(outside)).lookup(out.strip()).role == "customer"
    # a missing folder, or a file, is not a data folder: nothing is created
    cm.fails(5, "token", "add", "--data-dir", str(tmp_path / "missing"), "--ns", "n1", "--role", "trainer",
             match="does not exist")
    assert not (tmp_path / "missing").exists()
    (tmp_path / "file").write_text("x")
    cm.fails(5, "token", "list", "--data-dir", str(tmp_path / "file"), match="is not a folder")


def test_a_read_creates_no_file(tmp_path):
    store = TokenStore(str(tmp_path))
    assert store.list() == [] and not store.defined() and store.lookup("cet_x") is None
    assert files_under(tmp_path) == set()


# -- the policy ---------------------------------------------------------------------------------


def served_commands() -> list[tuple[str, ...]]:
    """Every command of the live command line, and the server's webhook commands."""
    from chatemu.cli.completion import TREE

    leaves = [tuple(path.split()) for path, entry in TREE.items() if path and not entry[0]]
    groups_with_own = [("clock",), ("agent", "queues")]  # a group that is a read by itself
    webhooks = [("webhook", verb) for verb in ("add", "list", "delete", "enable", "deliveries")]
    return sorted(set(leaves + groups_with_own + webhooks))


def test_every_command_has_its_line_in_the_policy():
    missing = [words for words in served_commands() if words not in POLICY]
    assert missing == []
    assert ("token", "add") in served_commands()


def token(role: str, agent: str | None = None, ns: str = "demo", revoked: str | None = None) -> Token:
    return Token(1, ns, role, agent, "2026-01-05T09:00:00.000Z", revoked)


#: What an agent may run (as itself), and what a customer may run.
AGENT_MAY = {
    ("chat", v) for v in ("take", "activate", "park", "wrapup", "send", "return", "transfer", "classify",
                          "flag-abusive", "contact", "call-start", "call-end", "show", "transcript", "list")
} | {("agent", v) for v in ("status", "list", "available", "break", "login", "logout", "disconnect", "queues")} | {
    ("agent", "queues", v) for v in ("set", "clear", "on", "off")
} | {("queue", "list"), ("queue", "show"), ("break-reason", "list"), ("clock",), ("config", "show"),
     ("template", "list"), ("classification", "list"), ("contact", "history"), ("stats", "agents"),
     ("stats", "queues"), ("events",), ("refusals",), ("expect",), ("explain",), ("timeline",), ("db", "check")}
CUSTOMER_MAY = {("chat", "new"), ("chat", "receive"), ("chat", "end"), ("chat", "show"), ("chat", "transcript")}
NEVER_AGENT = {("config", "set"), ("clock", "advance"), ("clock", "set"), ("clock", "real"), ("clock", "virtual"),
               ("import",), ("reset",), ("snapshot", "save"), ("snapshot", "restore"), ("snapshot", "list"),
               ("snapshot", "delete"), ("webhook", "add"), ("webhook", "list"), ("token", "add"), ("token", "revoke")}


@pytest.mark.parametrize("words", served_commands(), ids=" ".join)
def test_policy_across_every_role(words):
    # the trainer: everything in its namespace
    assert authorize(token("trainer"), False, "demo", words, None).allowed
    assert authorize(token("trainer"), False, "demo", words, "agent-9").allowed
    # an agent: as itself (named or not), never as another
    own = authorize(token("agent", "a1"), False, "demo", words, "a1")
    assert own.allowed == (words in AGENT_MAY), own
    assert authorize(token("agent", "a1"), False, "demo", words, None) == own
    if not own.allowed:
        assert own.status == 403
    other = authorize(token("agent", "a1"), False, "demo", words, "a2")
    assert (other.allowed, other.status) == (False, 403)
    # a customer: its side of a chat, reads of a chat; never as an agent
    customer = authorize(token("customer"), False, "demo", words, None)
    assert (customer.allowed, customer.status) == ((True, 200) if words in CUSTOMER_MAY else (False, 403))
    assert authorize(token("customer"), False, "demo", words, "a1").status == 403
    # no token: 401, unless on loopback with no token defined
    assert authorize(None, False, "demo", words, None)[:2] == (False, 401)
    assert authorize(None, True, "demo", words, "a1").allowed
    # a revoked token: 401 whatever its role
    for role, agent in (("trainer", None), ("agent", "a1"), ("customer", None)):
        assert authorize(token(role, agent, revoked="2026-01-05T10:00:00.000Z"), True, "demo", words, agent)[:2] == (
            False, 401)
    # a token of another namespace: 403
    for role, agent in (("trainer", None), ("agent", "a1"), ("customer", None)):
        assert authorize(token(role, agent, ns="other"), False, "demo", words, None)[:2] == (False, 403)


def test_the_rules_the_brief_names_hold():
    for words in NEVER_AGENT:
        assert not authorize(token("agent", "a1"), False, "demo", words, None).allowed, words
    assert CUSTOMER_MAY <= {w for w, roles in POLICY.items() if "customer" in roles}
    # default deny: a command without a line is the trainer's only
    for role, agent in (("agent", "a1"), ("customer", None)):
        assert authorize(token(role, agent), False, "demo", ("frobnicate",), None)[:2] == (False, 403)
    assert authorize(token("trainer"), False, "demo", ("frobnicate",), None).allowed


def test_no_decision_names_the_token(tmp_path):
    store = TokenStore(str(tmp_path))
    record, secret = store.add("demo", "agent", "a1")
    for ns, words, agent in (("demo", ("reset",), None), ("x", ("events",), None), ("demo", ("chat", "park"), "a2")):
        decision = authorize(store.lookup(secret), False, ns, words, agent)
        assert not decision.allowed and secret not in decision.reason and secret[4:12] not in decision.reason
    store.revoke(record.id)
    assert secret not in authorize(store.lookup(secret), False, "demo", ("events",), None).reason


@pytest.mark.parametrize("header, found", [
    ("Bearer cet_abc", "cet_abc"), ("bearer cet_abc", "cet_abc"), ("  Bearer   cet_abc ", "cet_abc"),
    (None, None), ("", None), ("Basic abc", None), ("Bearer", None), ("Bearer a b", None),
])
def test_bearer_header(header, found):
    assert tk.bearer(header) == found


def test_namespace_rule():
    from chatemu.store.errors import UsageError
    from chatemu.store.validate import check_namespace

    for good in ("a", "demo", "0", "a-b-1", "z" * 64):
        assert check_namespace(good) == good
    for bad in ("", "A", "-a", "a_b", "a.b", "a/b", "z" * 65, " a", "é", None, 3):
        with pytest.raises(UsageError):
            check_namespace(bad)


@pytest.mark.parametrize("host, found", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("10.0.0.1", False), ("192.168.1.2", False), ("::ffff:10.0.0.1", False), ("fe80::1%eth0", False),
    ("localhost", False), ("", False), (None, False), ("testclient", False),
])
def test_loopback_addresses(host, found):
    assert tk.loopback(host) is found


def test_decide_for_one_request(tmp_path):
    store = TokenStore(str(tmp_path))
    # open on loopback while no token exists; never elsewhere
    assert store.decide(None, "127.0.0.1", "demo", ("reset",), None).allowed
    assert store.decide("Bearer whatever", "::1", "demo", ("reset",), None).allowed
    assert store.decide(None, "10.1.2.3", "demo", ("events",), None)[:2] == (False, 401)
    _, agent = store.add("demo", "agent", "a1")
    _, trainer = store.add("demo", "trainer")
    # from then on, loopback too needs a token
    assert store.decide(None, "127.0.0.1", "demo", ("events",), None)[:2] == (False, 401)
    assert store.decide("Bearer cet_wrong", "127.0.0.1", "demo", ("events",), None)[:2] == (False, 401)
    assert store.decide(f"Bearer {agent}", "127.0.0.1", "demo", ("chat", "park"), None).allowed
    assert store.decide(f"Bearer {agent}", "10.1.2.3", "demo", ("reset",), None)[:2] == (False, 403)
    assert store.decide(f"Bearer {trainer}", "10.1.2.3", "demo", ("reset",), None).allowed
    assert store.decide(f"Bearer {trainer}", "10.1.2.3", "other", ("events",), None)[:2] == (False, 403)
    assert store.decide(f"Basic {trainer}", "10.1.2.3", "demo", ("events",), None)[:2] == (False, 401)
