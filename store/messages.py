"""Messages between the customer and the agent, and the templates agents send.

A customer message that arrives while the chat is not its agent's active item
counts as unread; activating the chat reads them (``chats.activate``).
"""

from __future__ import annotations

import re

from . import chats, clocks, core
from .errors import UsageError, unknown
from .timefmt import format_time
from .validate import check_name, check_text, shown

CUSTOMER = "customer"
PLACEHOLDERS = ("customer", "agent", "queue", "chat")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def message_object(row) -> dict:
    return {"chat": row["chat"], "seq": row["seq"], "at": format_time(row["at_ms"]), "from": row["sender"],
            "text": row["text"]}


def _append(tx, chat_id: str, sender: str, text: str) -> dict:
    seq = tx.q("SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE chat = ?", chat_id).fetchone()[0]
    tx.q("INSERT INTO messages (chat, seq, at_ms, sender, text) VALUES (?, ?, ?, ?, ?)",
         chat_id, seq, tx.at, sender, text)
    return {"chat": chat_id, "seq": seq, "at": format_time(tx.at), "from": sender, "text": text}


def send(tx, chat_id, text, template):
    """The acting agent sends ``text`` (or a template's text) on its own active chat."""
    if (text is None) == (template is None):
        raise UsageError("send needs the TEXT or --template NAME (one of them)")
    if text is not None:
        check_text("message", text)
    chat = chats.own(tx, chat_id, "send to")
    core.require(chat_id, chat["state"], core.SEND)
    if template is not None:
        text = check_text(f"message from template {shown(template)}", fill(tx, chat, template_text(tx, template, chat["queue"])))
    message = _append(tx, chat_id, tx.agent, text)
    clocks.sent(tx, chat)
    return message


def receive(tx, chat_id, text):
    """A customer message arrives; unread unless the chat is its agent's active item."""
    check_text("message", text)
    chat = chats.row(tx, chat_id)
    core.require(chat_id, chat["state"], core.RECEIVE)
    message = _append(tx, chat_id, CUSTOMER, text)
    if chat["state"] != core.ACTIVE:
        tx.q("UPDATE chats SET unread = unread + 1 WHERE id = ?", chat_id)
    clocks.received(tx, chat)
    return message


def transcript(tx, chat_id):
    chats.row(tx, chat_id)
    return [message_object(row) for row in tx.q("SELECT * FROM messages WHERE chat = ? ORDER BY seq", chat_id)]


# -- templates --------------------------------------------------------------------------


def template_text(tx, name: str, queue: str) -> str:
    """The template ``name`` for ``queue``: the queue's own, else the global one."""
    check_name("template name", name)
    row = tx.q(
        "SELECT text FROM templates WHERE name = ? AND queue IN (?, '') ORDER BY queue = '' LIMIT 1", name, queue
    ).fetchone()
    if row is None:
        raise unknown("template", name)
    return row["text"]


def fill(tx, chat, text: str) -> str:
    """A template's placeholders filled in for ``chat``."""
    customer = chat["customer"] or chat["contact"] or CUSTOMER
    values = {"customer": customer, "agent": tx.agent, "queue": chat["queue"], "chat": chat["id"]}
    # One pass: what a placeholder brings in (a customer's name) is never read for placeholders.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def template_object(row) -> dict:
    return {"name": row["name"], "queue": row["queue"] or None, "text": row["text"]}


def template_add(tx, name, text, queue):
    check_name("template name", name)
    check_text("template text", text)
    if queue is not None:
        from .queues import named

        named(tx, queue)
    replaced = tx.exists("SELECT 1 FROM templates WHERE queue = ? AND name = ?", queue or "", name)
    tx.q("INSERT INTO templates (queue, name, text) VALUES (?, ?, ?)"
         " ON CONFLICT (queue, name) DO UPDATE SET text = excluded.text", queue or "", name, text)
    return {"name": name, "queue": queue, "text": text, "replaced": replaced}


def template_list(tx, queue):
    if queue is not None:
        from .queues import named

        named(tx, queue)
    if queue is None:
        rows = tx.q("SELECT * FROM templates ORDER BY name, queue")
    else:
        # What a chat of that queue would use: its own templates shadow the global ones.
        rows = tx.q(
            "SELECT * FROM templates t WHERE queue = ? OR (queue = '' AND NOT EXISTS"
            " (SELECT 1 FROM templates o WHERE o.queue = ? AND o.name = t.name)) ORDER BY name",
            queue, queue,
        )
    return [template_object(row) for row in rows]


def template_remove(tx, name, queue):
    check_name("template name", name)
    if queue is not None:
        from .queues import named

        named(tx, queue)
    row = tx.q("SELECT * FROM templates WHERE queue = ? AND name = ?", queue or "", name).fetchone()
    if row is None:
        raise unknown("template", name, where=queue)
    tx.q("DELETE FROM templates WHERE queue = ? AND name = ?", queue or "", name)
    return {**template_object(row), "removed": True}
