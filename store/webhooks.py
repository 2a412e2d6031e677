"""Webhooks: endpoints that are sent the namespace's events (docs/webhooks.md).

An endpoint is server configuration, not contact-centre state: it lives in the database
(so a restarted server carries on where it stopped) but in no bundle or snapshot, and reset,
snapshot restore and import keep it.  Each endpoint has a cursor, the seq of the last event
it acknowledged, in the event log of a *generation*: reset, restore and import replace the
log (its seqs start again at 1), and count the generation up (``log_replaced``); an endpoint
whose generation is behind is next sent the notice of the replaced log, then the new log
from its start.

The rules (pure) and the commands over one transaction are here; sending is
``chatemu.server.webhooks``.
"""

from __future__ import annotations

import re

from .errors import Refused, UnknownChat, UsageError
from .timefmt import format_time

#: The event types (docs/webhooks.md): a chat's move, an agent's status, a profile applied, a replaced log.
TYPES = ("chat.state", "agent.status", "config.profile", "log.replaced")
_PATTERN = re.compile(r"\*|(chat|agent|config|log)\.\*|chat\.state|agent\.status|config\.profile|log\.replaced")
SECRET_PREFIX = "whsec_"
MAX_URL = 2000
#: Delivery records kept per endpoint (older ones are removed as new ones are written).
KEPT_DELIVERIES = 100


def event_type(event: dict) -> str:
    """The webhook type of an event as ``events --json`` shows it."""
    if event.get("chat") is not None:
        return "chat.state"
    return "agent.status" if event.get("agent") is not None else "config.profile"


def matches(patterns: list[str], kind: str) -> bool:
    group = kind.split(".", 1)[0]
    return any(p == "*" or p == kind or p == f"{group}.*" for p in patterns)


def url_problem(url) -> str | None:
    """Why ``url`` is not an endpoint address (http or https, with a host), or None."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or not url:
        return "it is empty"
    if len(url) > MAX_URL:
        return f"it is longer than {MAX_URL} characters"
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "it holds a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "use an http:// or https:// URL"
    if not parts.hostname:
        return "it names no host"
    if "@" in parts.netloc:
        return "it holds a user name or password (put credentials in the receiver, not the URL)"
    if parts.fragment:
        return "it has a #fragment"
    return None


def check_url(url: str) -> str:
    problem = url_problem(url)
    if problem:
        raise UsageError(f"bad webhook URL {url!r}: {problem}")
    return url


def check_patterns(patterns) -> list[str]:
    """Event patterns: ``*``, a group (``chat.*``, ``agent.*``, ``config.*``, ``log.*``) or a type."""
    if isinstance(patterns, str):
        patterns = patterns.split()
    if not patterns:
        return ["*"]
    for p in patterns:
        if not isinstance(p, str) or not _PATTERN.fullmatch(p):
            raise UsageError(f"bad event pattern {p!r}: use *, chat.*, agent.*, config.*, log.* or one of {', '.join(TYPES)}")
    return list(dict.fromkeys(patterns))


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (its base64 decoded)."""
    import base64

    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def secret_problem(secret) -> str | None:
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        return f"it does not start with {SECRET_PREFIX}"
    try:
        key = secret_key(secret)
    except ValueError:
        return "what follows whsec_ is not base64"
    if not 24 <= len(key) <= 64:
        return f"its key has {len(key)} bytes: use 24 to 64"
    return None


def check_secret(secret: str) -> str:
    problem = secret_problem(secret)
    if problem:
        raise UsageError(f"bad webhook secret: {problem}")
    return secret


def new_secret() -> str:
    import base64
    import secrets

    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


# -- the commands over one transaction -------------------------------------------------------


def log_replaced(tx) -> None:
    """The event log was replaced (reset, snapshot restore, import): a new generation."""
    tx.q("UPDATE webhook_log SET generation = generation + 1 WHERE id = 1")


def _object(row) -> dict:
    return {
        "id": row["id"], "url": row["url"], "events": row["events"].split(), "created": format_time(row["created_at_ms"]),
        "disabled": format_time(row["disabled_at_ms"]) if row["disabled_at_ms"] is not None else None,
        "disabled_why": row["disabled_why"], "cursor": max(row["cursor"], 0), "generation": row["generation"],
    }


def _row(tx, webhook_id):
    from .validate import check_id

    check_id("webhook", webhook_id)
    row = tx.q("SELECT * FROM webhooks WHERE id = ?", webhook_id).fetchone()
    if row is None:
        raise UnknownChat(f"unknown webhook {webhook_id}")
    return row


def add(tx, url, patterns=None, secret=None):
    """A new endpoint, sent the events logged from now on; its object with its secret (the
    only time the secret is shown)."""
    check_url(url)
    patterns = check_patterns(patterns)
    secret = check_secret(secret) if secret is not None else new_secret()
    import secrets

    tx.q("UPDATE webhook_log SET tag = ? WHERE id = 1 AND tag IS NULL", secrets.token_hex(4))
    generation = tx.q("SELECT generation FROM webhook_log WHERE id = 1").fetchone()[0]
    last = tx.q("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
    cur = tx.q("INSERT INTO webhooks (url, events, secret, created_at_ms, generation, cursor) VALUES (?, ?, ?, ?, ?, ?)",
               url, " ".join(patterns), secret, tx.wall_ms, generation, last)
    found = _object(_row(tx, cur.lastrowid))
    found["secret"] = secret
    return found


def list_(tx):
    return [_object(row) for row in tx.q("SELECT * FROM webhooks ORDER BY id")]


def delete(tx, webhook_id):
    found = _object(_row(tx, webhook_id))
    tx.q("DELETE FROM webhook_deliveries WHERE webhook = ?", webhook_id)
    tx.q("DELETE FROM webhooks WHERE id = ?", webhook_id)
    found["deleted"] = True
    return found


def enable(tx, webhook_id):
    """Switch a disabled endpoint back on: it is sent what follows its cursor, from the first try."""
    row = _row(tx, webhook_id)
    if row["disabled_at_ms"] is None:
        raise Refused(f"webhook {webhook_id} is not disabled")
    tx.q("UPDATE webhooks SET disabled_at_ms = NULL, disabled_why = NULL WHERE id = ?", webhook_id)
    tx.q("DELETE FROM webhook_deliveries WHERE webhook = ? AND delivered = 0", webhook_id)
    return _object(_row(tx, webhook_id))


def deliveries(tx, webhook_id):
    """The endpoint's latest delivery records, newest first."""
    _row(tx, webhook_id)
    return [
        {"webhook": r["webhook"], "generation": r["generation"], "seq": r["seq"], "attempts": r["attempts"],
         "status": r["status"], "error": r["error"], "first_attempt": format_time(r["first_ms"]),
         "last_attempt": format_time(r["last_ms"]),
         "next_attempt": format_time(r["next_ms"]) if r["next_ms"] is not None else None,
         "delivered": bool(r["delivered"])}
        for r in tx.q("SELECT * FROM webhook_deliveries WHERE webhook = ? ORDER BY last_ms DESC, generation DESC,"
                      " seq DESC", webhook_id)
    ]
