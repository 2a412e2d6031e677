"""Contacts: who the customer is, and the history of their chats."""

from __future__ import annotations

from . import chats, core
from .classification import ABUSIVE_NOTE
from .errors import unknown
from .timefmt import format_time
from .validate import check_customer


def assign(tx, chat_id, name):
    """Link the chat to the contact ``name`` (created if new)."""
    check_customer(name)
    chat = chats.own(tx, chat_id, "assign a contact to")
    core.require(chat_id, chat["state"], core.ASSIGN_CONTACT)
    chats.ensure_contact(tx, name)
    tx.q("UPDATE chats SET contact = ? WHERE id = ?", name, chat_id)
    return chats.view(tx, chat_id)


def history(tx, name):
    check_customer(name)
    contact = tx.q("SELECT name, created_at_ms FROM contacts WHERE name = ?", name).fetchone()
    if contact is None:
        raise unknown("contact", name)
    found = []
    for row in tx.records(f"SELECT {chats.SHOWN} FROM chats WHERE contact = ? ORDER BY created_at_ms, number", name):
        handled = [r["agent"] for r in tx.q(
            "SELECT agent FROM events WHERE chat = ? AND agent IS NOT NULL GROUP BY agent ORDER BY min(seq)", row["id"])]
        found.append({
            "id": row["id"],
            "queue": row["queue"],
            "origin_queue": row["origin_queue"],
            "agents": handled,
            "created_at": format_time(row["created_at_ms"]),
            "closed_at": format_time(row["closed_at_ms"]),
            "state": row["state"],
            "closed_reason": row["closed_reason"],
            "classification": row["classification"],
            "classification_note": row["classification_note"],
            "abusive": bool(row["abusive"]),
            "notes": [ABUSIVE_NOTE] if row["abusive"] else [],
            "messages": row["messages"],
        })
    return {"contact": name, "created_at": format_time(contact["created_at_ms"]), "chats": found}
