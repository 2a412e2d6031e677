"""Bearer tokens and what each role may do (docs/tokens.md).

Tokens live in ``DIR/.tokens.db`` beside the namespaces' databases (``DIR/NS.db``): a small
SQLite file, mode 0600, holding each token's SHA-256 (a token is 32 random bytes: a hash is
enough, and the token itself is printed once, by ``chatemu token add``, and stored nowhere).

``authorize`` is the pure policy the server asks on every request; ``POLICY`` is its table,
one line per command (its words, as on the command line) naming the roles besides ``trainer``
that may run it.  A command without a line is a trainer's only.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import sqlite3
from typing import NamedTuple

from chatemu.store.errors import DatabaseError, Refused, UnknownChat, UsageError
from chatemu.store.validate import check_id, check_name, check_namespace

ROLES = ("trainer", "agent", "customer")
TOKEN_PREFIX = "cet_"
FILE_NAME = ".tokens.db"

# -- the policy ----------------------------------------------------------------------------

A, C = frozenset({"agent"}), frozenset({"customer"})
AC = A | C
NONE: frozenset = frozenset()
#: Command words → the roles besides ``trainer`` that may run the command (a trainer runs every
#: command of its namespace).  An agent acts only as its own agent; a customer as no agent.
POLICY: dict[tuple[str, ...], frozenset] = {
    # the customer's side of a chat
    ("chat", "new"): C, ("chat", "receive"): C, ("chat", "end"): C,
    # an agent's work on the chats in its inbox (the engine refuses another agent's chat)
    **{("chat", verb): A for verb in ("take", "activate", "park", "wrapup", "send", "return", "transfer", "classify",
                                      "flag-abusive", "contact", "call-start", "call-end")},
    # its own status and queues
    **{("agent", verb): A for verb in ("available", "break", "login", "logout", "disconnect")},
    **{("agent", "queues", verb): A for verb in ("set", "clear", "on", "off")},
    # reads of one chat
    ("chat", "show"): AC, ("chat", "transcript"): AC,
    # reads of the namespace
    **{words: A for words in (
        ("chat", "list"), ("agent", "status"), ("agent", "list"), ("agent", "queues"), ("queue", "list"),
        ("queue", "show"), ("break-reason", "list"), ("clock",), ("config", "show"), ("template", "list"),
        ("classification", "list"), ("contact", "history"), ("stats", "agents"), ("stats", "queues"), ("events",),
        ("refusals",), ("expect",), ("explain",), ("timeline",), ("db", "check"))},
    # the trainer's: the contact centre's setup, the clock, whole states, server configuration
    **{words: NONE for words in (
        ("queue", "add"), ("break-reason", "add"), ("break-reason", "remove"), ("clock", "advance"), ("clock", "set"),
        ("clock", "real"), ("clock", "virtual"), ("config", "set"), ("profile", "list"), ("profile", "show"),
        ("profile", "apply"), ("template", "add"), ("template", "remove"),
        ("classification", "add"), ("classification", "remove"), ("run",), ("drill",), ("snapshot", "save"),
        ("snapshot", "restore"), ("snapshot", "list"), ("snapshot", "delete"), ("export",), ("import",), ("reset",),
        ("webhook", "add"), ("webhook", "list"), ("webhook", "delete"), ("webhook", "enable"),
        ("webhook", "deliveries"), ("token", "add"), ("token", "list"), ("token", "revoke"))},
    # the terminal's own commands: nothing to serve (simulate reads a model file of this machine: run it
    # where the namespace's database is, `chatemu --db DIR/NS.db simulate`, and the server shows its events)
    **{words: NONE for words in (("console",), ("watch",), ("serve",), ("completion",), ("db", "path"),
                                 ("simulate",))},
}


class Token(NamedTuple):
    """A token as stored (never the token itself)."""

    id: int
    ns: str
    role: str
    agent: str | None
    created: str
    revoked: str | None

    def as_json(self) -> dict:
        return self._asdict()


class Decision(NamedTuple):
    """``authorize``'s answer: allowed, or the HTTP status (401, 403) and why (never a token)."""

    allowed: bool
    status: int
    reason: str


ALLOWED = Decision(True, 200, "allowed")


def authorize(token: Token | None, open_loopback: bool, ns: str, words: tuple[str, ...] | list[str],
              agent: str | None) -> Decision:
    """Whether a request may run the command ``words`` on namespace ``ns``.

    ``token``: the request's token as ``TokenStore.lookup`` found it (None: no token, or one
    that matches none).  ``open_loopback``: the request came over a loopback address and no
    token is defined (``TokenStore.defined``): no token is needed.  ``agent``: the agent the
    request acts as, None when it names none (an agent token then acts as its own).
    """
    words = tuple(words)
    if token is None:
        if open_loopback:
            return ALLOWED
        return Decision(False, 401, "a valid bearer token is needed")
    if token.revoked is not None:
        return Decision(False, 401, "this token was revoked")
    if token.ns != ns:
        return Decision(False, 403, f"this token is for namespace {token.ns}, not {ns}")
    if token.role == "trainer":
        return ALLOWED
    roles = POLICY.get(words, NONE)
    if token.role not in roles:
        return Decision(False, 403, f"{'an' if token.role[0] in 'aeiou' else 'a'} {token.role} token may not run {' '.join(words) or 'this'}")
    if token.role == "agent" and agent is not None and agent != token.agent:
        return Decision(False, 403, f"this token acts as agent {token.agent} only, not {agent}")
    if token.role == "customer" and agent is not None:
        return Decision(False, 403, "a customer token acts as no agent")
    return ALLOWED


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header value; None if there is none."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value and " " not in value else None


@functools.lru_cache(maxsize=256)
def loopback(host: str | None) -> bool:
    """Whether a request's client address (``request.client.host``) is a loopback address
    (127.0.0.0/8, ::1, or an IPv4-mapped one); a name or nothing is not."""
    import ipaddress

    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


# -- the store -------------------------------------------------------------------------------


def new_token() -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def check_role(role: str, agent: str | None) -> tuple[str, str | None]:
    """A role and its agent: ``agent`` needs ``--agent``, the other roles refuse it."""
    if role not in ROLES:
        raise UsageError(f"bad role {role!r}: use {', '.join(ROLES)}")
    if role == "agent":
        if agent is None:
            raise UsageError("an agent token needs --agent ID: the agent it acts as")
        check_name("agent id", agent)
    elif agent is not None:
        raise UsageError(f"a {role} token acts as no agent: leave out --agent")
    return role, agent


class TokenStore:
    """The tokens of the namespaces in the folder ``data_dir``."""

    def __init__(self, data_dir: str):
        self.dir = data_dir
        self.path = os.path.join(data_dir, FILE_NAME)
        self._file = None  # (device, inode, descriptor) of the tokens file, kept open by ``_known``
        self._seen = None  # (the file's version, every token by its hash) as ``_known`` last read them

    def _folder(self) -> None:
        if not os.path.isdir(self.dir):
            what = "is not a folder" if os.path.exists(self.dir) else "does not exist"
            raise DatabaseError(f"data folder {self.dir} {what}")

    def _connect(self, write: bool) -> sqlite3.Connection | None:
        """The tokens file (created, mode 0600, when ``write``); None if there is none to read."""
        from chatemu.store.schema import busy_timeout

        self._folder()
        if not os.path.lexists(self.path):
            if not write:
                return None
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise DatabaseError(f"cannot create {self.path}: {exc.strerror or exc}") from None
        if os.path.islink(self.path) or not os.path.isfile(self.path):
            raise DatabaseError(f"{self.path} is not a regular file")
        try:
            conn = sqlite3.connect(self.path, timeout=busy_timeout(), isolation_level=None)
            if write:
                os.chmod(self.path, 0o600)
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("CREATE TABLE IF NOT EXISTS tokens (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                             " hash TEXT NOT NULL UNIQUE, ns TEXT NOT NULL, role TEXT NOT NULL, agent TEXT,"
                             " created TEXT NOT NULL, revoked TEXT)")
            elif not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'tokens'").fetchone():
                conn.close()
                return None
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot read {self.path}: {exc}") from None
        return conn

    @staticmethod
    def _token(row) -> Token:
        return Token(*row)

    def add(self, ns: str, role: str, agent: str | None = None, now: str | None = None) -> tuple[Token, str]:
        """A new token of ``role`` on namespace ``ns``: its record and the token (shown once)."""
        from chatemu.store.timefmt import format_time

        check_namespace(ns)
        check_role(role, agent)
        token = new_token()
        conn = self._connect(write=True)
        try:
            created = now or format_time(_wall_ms())
            cur = conn.execute("INSERT INTO tokens (hash, ns, role, agent, created) VALUES (?, ?, ?, ?, ?)",
                               (digest(token), ns, role, agent, created))
            row = conn.execute("SELECT id, ns, role, agent, created, revoked FROM tokens WHERE id = ?",
                               (cur.lastrowid,)).fetchone()
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot write {self.path}: {exc}") from None
        finally:
            conn.close()
        return self._token(row), token

    def list(self) -> list[Token]:
        conn = self._connect(write=False)
        if conn is None:
            return []
        try:
            return [self._token(r) for r in conn.execute(
                "SELECT id, ns, role, agent, created, revoked FROM tokens ORDER BY id")]
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot read {self.path}: {exc}") from None
        finally:
            conn.close()

    def revoke(self, token_id: int) -> Token:
        """Revoke a token: refused on its next request."""
        from chatemu.store.timefmt import format_time

        check_id("token", token_id)
        conn = self._connect(write=True)
        try:
            row = conn.execute("SELECT id, ns, role, agent, created, revoked FROM tokens WHERE id = ?",
                               (token_id,)).fetchone()
            if row is None:
                raise UnknownChat(f"unknown token {token_id}")
            if row[5] is not None:
                raise Refused(f"token {token_id} was already revoked at {row[5]}")
            conn.execute("UPDATE tokens SET revoked = ? WHERE id = ?", (format_time(_wall_ms()), token_id))
            row = conn.execute("SELECT id, ns, role, agent, created, revoked FROM tokens WHERE id = ?",
                               (token_id,)).fetchone()
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot write {self.path}: {exc}") from None
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
        return self._token(row)

    def defined(self) -> bool:
        """Whether any token was ever added (a revoked one counts: the folder is no longer open)."""
        return bool(self._known())

    def _known(self) -> dict:
        """Every token by its hash (the hash and the token's record), read from the file again only when the file changed: the
        server asks on every request, and a token added or revoked counts from the next one.
        The file's version is its device and inode (the file replaced or removed) and SQLite's
        file change counter (bytes 24-27 of its header, raised by every transaction that
        changes the file), read from a descriptor kept open: a ``stat`` and a 28-byte read per
        request instead of opening the database.  A file SQLite writes in WAL mode (where the
        counter does not move on each change) is read every time."""
        import stat

        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            self._folder()
            self._seen = None
            return {}
        version = None
        if stat.S_ISREG(st.st_mode):
            if self._file is None or self._file[:2] != (st.st_dev, st.st_ino):
                self._forget_file()
                try:
                    fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                except OSError:
                    fd = None
                if fd is not None:
                    opened = os.fstat(fd)
                    self._file = (opened.st_dev, opened.st_ino, fd)
            if self._file is not None and self._file[:2] == (st.st_dev, st.st_ino):
                header = os.pread(self._file[2], 28, 0)
                if len(header) == 28 and header[18] == 1:  # a rollback journal: the counter moves
                    version = (st.st_dev, st.st_ino, header[24:28])
        if version is not None and self._seen is not None and self._seen[0] == version:
            return self._seen[1]
        conn = self._connect(write=False)  # refuses what is not a regular file
        if conn is None:
            found = {}
        else:
            try:
                found = {row[0]: (row[0], self._token(row[1:])) for row in conn.execute(
                    "SELECT hash, id, ns, role, agent, created, revoked FROM tokens")}
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot read {self.path}: {exc}") from None
            finally:
                conn.close()
        self._seen = (version, found) if version is not None else None
        return found

    def _forget_file(self) -> None:
        if self._file is not None:
            os.close(self._file[2])
            self._file = None

    def decide(self, authorization: str | None, client_host: str | None, ns: str, words, agent: str | None) -> Decision:
        """``authorize`` for one request: its ``Authorization`` header value, its client address,
        the namespace, the command's words and the agent it acts as (None: it names none).  On a
        loopback address with no token defined, any request is allowed (a token sent is ignored:
        there is none to match)."""
        if loopback(client_host) and not self.defined():
            return authorize(None, True, ns, words, agent)
        return authorize(self.lookup(bearer(authorization)), False, ns, words, agent)

    def lookup(self, presented: str | None) -> Token | None:
        """The record of the token ``presented`` (revoked ones too: ``authorize`` refuses them), or
        None.  The hashes are compared in constant time."""
        if not presented:
            return None
        wanted = digest(presented)
        found = self._known().get(wanted)
        if found is None or not hmac.compare_digest(found[0], wanted):
            return None
        return found[1]


def _wall_ms() -> int:
    from chatemu.store.clock import system_wall_ms

    return system_wall_ms()
