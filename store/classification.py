"""Classifying a chat, flagging it as abusive, and the lists of classification codes.

Per queue, config ``classification`` is ``free`` (any code) or ``list`` (a code
of the queue's list: the global codes and the queue's own).  With
``classification-required`` on, ``chat wrapup --finish`` waits for one
(``chats.wrapup``); the wrap-up timer still closes an unclassified chat.
"""

from __future__ import annotations

from . import chats, core
from .errors import UsageError, unknown
from .queues import named
from .validate import check_text, customer_problem

ABUSIVE_NOTE = "This chat was marked as abusive"


def check_code(code: str) -> str:
    problem = customer_problem(code)
    if problem:
        raise UsageError(f"bad classification {code!r}: {problem}")
    return code


def codes(tx, queue: str) -> list[str]:
    """The codes a chat of ``queue`` may be classified with (global and the queue's own)."""
    return [r["code"] for r in tx.q(
        "SELECT DISTINCT code FROM classification_codes WHERE queue IN ('', ?) ORDER BY code", queue)]


def classify(tx, chat_id, code, note):
    check_code(code)
    if note is not None:
        check_text("note", note)
    chat = chats.own(tx, chat_id, "classify")
    core.require(chat_id, chat["state"], core.CLASSIFY)
    if tx.config("classification", chat["queue"]) == "list":
        allowed = codes(tx, chat["queue"])
        if code not in allowed:
            listed = ", ".join(allowed) if allowed else "none yet: add them with `classification add CODE`"
            raise unknown("classification code", code, where=chat["queue"], hint=f"codes: {listed}")
    tx.q("UPDATE chats SET classification = ?, classification_note = ? WHERE id = ?", code, note, chat_id)
    return chats.view(tx, chat_id)


def flag_abusive(tx, chat_id):
    chat = chats.own(tx, chat_id, "flag")
    core.require(chat_id, chat["state"], core.FLAG_ABUSIVE)
    tx.q("UPDATE chats SET abusive = 1 WHERE id = ?", chat_id)
    return chats.view(tx, chat_id)


# -- the code lists ------------------------------------------------------------------


def code_add(tx, code, queue):
    check_code(code)
    if queue is not None:
        named(tx, queue)
    added = not tx.exists("SELECT 1 FROM classification_codes WHERE queue = ? AND code = ?", queue or "", code)
    tx.q("INSERT OR IGNORE INTO classification_codes (queue, code) VALUES (?, ?)", queue or "", code)
    return {"code": code, "queue": queue, "added": added}


def code_list(tx, queue):
    if queue is not None:
        named(tx, queue)
        return [{"code": r["code"], "queue": r["queue"] or None} for r in tx.q(
            "SELECT queue, code FROM classification_codes WHERE queue IN ('', ?) ORDER BY code, queue DESC", queue)]
    return [{"code": r["code"], "queue": r["queue"] or None}
            for r in tx.q("SELECT queue, code FROM classification_codes ORDER BY queue, code")]


def code_remove(tx, code, queue):
    check_code(code)
    if queue is not None:
        named(tx, queue)
    if not tx.exists("SELECT 1 FROM classification_codes WHERE queue = ? AND code = ?", queue or "", code):
        raise unknown("classification code", code, where=queue)
    tx.q("DELETE FROM classification_codes WHERE queue = ? AND code = ?", queue or "", code)
    return {"code": code, "queue": queue, "removed": True}


