"""The clocks of a contact centre: every timer, one mechanism.

A timer is a deadline column (an instant, NULL while it does not run) with a partial
index in the order timers run out: the wrap-up timer (``chats.wrapup_deadline_ms``), an
offer not activated in time (``offer_deadline_ms``), a customer's patience in the queue
(``patience_deadline_ms``), a customer gone quiet after the agent's last message
(``idle_deadline_ms``), a customer message unanswered too long (``alert_deadline_ms``) and
a break past its reason's limit (``agents.break_deadline_ms``).  ``Tx.settle`` reads the
due ones of every kind a batch at a time, merges them in ``core.timer_order`` and runs each
out at its own instant (``run``), presenting after each; a timer a run starts that is due
already joins the merge at its place.  The moves start and stop the chat timers
(``moved``, through ``core.clock_timers``); messages the alert and idle timers
(``received``, ``sent``); presence the break limit (``break_started``).
"""

from __future__ import annotations

from . import core
from .timefmt import MAX_MS


class Kind:
    """A kind of timer: its name, its deadline column, the query of its due timers (a batch,
    in order; the stored clock its parameter) and the query of one subject's row (to judge it
    again).  A plain class: cheaper to define at every start than a NamedTuple."""

    __slots__ = ("name", "column", "due", "read")

    def __init__(self, name: str, column: str, due: str, read: str):
        self.name, self.column, self.due, self.read = name, column, due, read

    def __lt__(self, other: "Kind") -> bool:  # never reached: the merge's keys differ before it
        return self.name < other.name


BATCH = 500
_CHAT = "SELECT {fields} FROM chats WHERE {col} IS NOT NULL AND {col} <= ? ORDER BY {col}, number LIMIT " + str(BATCH)
_AGENT = ("SELECT id, presence, break_reason, break_deadline_ms, overrun_since_ms FROM agents"
          " WHERE break_deadline_ms IS NOT NULL AND break_deadline_ms <= ? ORDER BY break_deadline_ms, id LIMIT "
          + str(BATCH))
#: Each kind's deadline column.
DEADLINES = {core.K_WRAPUP: "wrapup_deadline_ms", core.K_IDLE: "idle_deadline_ms",
            core.K_PATIENCE: "patience_deadline_ms", core.K_OFFER: "offer_deadline_ms",
            core.K_ALERT: "alert_deadline_ms", core.K_BREAK: "break_deadline_ms"}
#: The chat columns the clocks keep and ``moved`` may change.
CHAT_COLUMNS = ("idle_deadline_ms", "patience_deadline_ms", "offer_deadline_ms", "alert_deadline_ms",
                "awaiting_since_ms", "alerting_since_ms", "waiting_since_ms")
#: The clocks' columns of a chat, read where a clock runs or is shown (``chats.FULL``).
CLOCK_FIELDS = "patience_ms, " + ", ".join(CHAT_COLUMNS)
#: In a chat's own columns (``chats.FIELDS``, what every move reads): whether any clock runs on
#: it or it awaits a reply.  A move of a chat with none (a wrap-up running out) reads no more.
CLOCKING = ("(idle_deadline_ms IS NOT NULL OR patience_deadline_ms IS NOT NULL OR offer_deadline_ms IS NOT NULL"
            " OR alert_deadline_ms IS NOT NULL OR awaiting_since_ms IS NOT NULL) AS clocking")
_CHAT_KINDS = (core.K_IDLE, core.K_PATIENCE, core.K_OFFER, core.K_ALERT)
#: The earliest deadline of each kind (NULL: none runs), one read of its partial index's first
#: entry (the ``WHERE`` lets the ``min`` use it): ``FIRSTS`` gives them in ``kinds()``' order.
_FIRST = {kind: f"(SELECT min({col}) FROM {'agents' if kind == core.K_BREAK else 'chats'} WHERE {col} IS NOT NULL)"
          for kind, col in DEADLINES.items()}
FIRSTS = "SELECT " + ", ".join(_FIRST.values())
#: The earliest deadline of every kind: whether settling has anything to look at (NULL: none
#: runs).  The largest integer stands for a kind with none; the outer ``nullif`` makes it NULL.
FIRST_DUE = "nullif(min(" + ", ".join(
    f"ifnull({first}, 9223372036854775807)" for first in _FIRST.values()) + "), 9223372036854775807)"


def kinds(fields: str) -> tuple[Kind, ...]:
    """Every kind of timer, with its queries (``fields``: a chat's own columns; a wrap-up's
    expiry reads no more, the clocks' read theirs too)."""
    found = []
    for name, col in DEADLINES.items():
        if name == core.K_BREAK:
            found.append(Kind(name, col, _AGENT, _AGENT.split(" WHERE ")[0] + " WHERE id = ?"))
            continue
        columns = fields if name == core.K_WRAPUP else f"{fields}, {CLOCK_FIELDS}"
        found.append(Kind(name, col, _CHAT.format(fields=columns, col=col), f"SELECT {columns} FROM chats WHERE id = ?"))
    return tuple(found)


def owner(kind: Kind, row: dict):
    return row["id"] if kind.name == core.K_BREAK else row["number"]


def _deadline(at: int, duration: int | None) -> int | None:
    """A timer of ``duration`` started at ``at`` (None: off; one ending after 9999-12-31 never runs out)."""
    if duration is None:
        return None
    end = at + duration
    return end if end <= MAX_MS else None


def moved(tx, chat: dict, event: str, to: str, queue: str) -> dict | None:
    """The chat's clock columns (``CHAT_COLUMNS``) that change when ``event`` moves it to ``to``
    (None or empty: none).  ``chat``: its own columns (``chats.FIELDS``), or all (``chats.FULL``)."""
    if not chat["clocking"] and to != core.QUEUED \
            and (event != core.PRESENT or tx.config("offer-timeout", queue) is None):
        return None  # no clock runs, none starts: nothing more to read or write
    chat = _full(tx, chat)
    state = chat["state"]
    timers = {core.K_IDLE: chat["idle_deadline_ms"], core.K_PATIENCE: chat["patience_deadline_ms"],
              core.K_OFFER: chat["offer_deadline_ms"], core.K_ALERT: chat["alert_deadline_ms"]}
    offer = patience = None
    if event == core.PRESENT:
        offer = tx.config("offer-timeout", queue)
    waiting = chat["waiting_since_ms"]
    if to == core.QUEUED and state != core.QUEUED:
        patience = chat["patience_ms"] if chat["patience_ms"] is not None else tx.config("patience", queue)
        if event != core.OFFER_TIMEOUT or waiting is None:
            waiting = tx.at
    after = core.clock_timers(state, event, to, timers, tx.at, offer, patience, waiting)
    for kind in (core.K_OFFER, core.K_PATIENCE):
        if after[kind] is not None and after[kind] > MAX_MS:
            after[kind] = None
    awaiting, alerting = chat["awaiting_since_ms"], chat["alerting_since_ms"]
    if to not in core.CUSTOMER_PRESENT:  # the customer left: nothing awaits a reply any more
        awaiting = alerting = None
    for kind in _CHAT_KINDS:
        if after[kind] is not None and after[kind] != timers[kind]:
            tx.timer_set(after[kind], kind, chat["id"])
    values = (after[core.K_IDLE], after[core.K_PATIENCE], after[core.K_OFFER], after[core.K_ALERT], awaiting, alerting,
              waiting)
    return {name: value for name, value in zip(CHAT_COLUMNS, values) if chat[name] != value}


def arrived(tx, queued: bool, patience_ms: int | None, queue: str) -> tuple[int | None, int | None]:
    """A new chat's patience deadline and since when its customer waits."""
    if not queued:
        return None, tx.at
    if patience_ms is None:
        patience_ms = tx.config("patience", queue)
    return _deadline(tx.at, patience_ms), tx.at


def _full(tx, chat: dict) -> dict:
    """The chat with its clocks' columns (read if ``chat`` holds only its own)."""
    if "waiting_since_ms" in chat:
        return chat
    return {**chat, **tx.record(f"SELECT {CLOCK_FIELDS} FROM chats WHERE id = ?", chat["id"])}


def received(tx, chat: dict) -> None:
    """A customer message arrived: it awaits a reply (the alert timer starts with the oldest
    unanswered one); the customer is not idle any more."""
    chat = _full(tx, chat)
    sets = {}
    if chat["awaiting_since_ms"] is None:
        sets["awaiting_since_ms"] = tx.at
        alert = _deadline(tx.at, tx.config("reply-alert", chat["queue"]))
        if alert is not None:
            sets["alert_deadline_ms"] = alert
            tx.timer_set(alert, core.K_ALERT, chat["id"])
    if chat["idle_deadline_ms"] is not None:
        sets["idle_deadline_ms"] = None
    _update(tx, chat["id"], sets)


def sent(tx, chat: dict) -> None:
    """The agent's message answers the customer (no alert any more) and starts the idle timer."""
    chat = _full(tx, chat)
    sets = {"awaiting_since_ms": None, "alert_deadline_ms": None, "alerting_since_ms": None}
    sets = {name: value for name, value in sets.items() if chat[name] is not None}
    idle = _deadline(tx.at, tx.config("customer-idle-timeout", chat["queue"]))
    if idle != chat["idle_deadline_ms"]:
        sets["idle_deadline_ms"] = idle
        if idle is not None:
            tx.timer_set(idle, core.K_IDLE, chat["id"])
    _update(tx, chat["id"], sets)


def _update(tx, chat_id: str, sets: dict) -> None:
    if sets:
        tx.q(f"UPDATE chats SET {', '.join(f'{name} = ?' for name in sets)} WHERE id = ?", *sets.values(), chat_id)
        tx.changed(chat_id)


# -- running a timer out ----------------------------------------------------------------------


def due(kind: Kind, row: dict | None, at: int) -> bool:
    """Whether ``row`` (read again) still has this timer running out at ``at``."""
    if row is None or row[kind.column] != at:
        return False
    if kind.name == core.K_BREAK:
        return row["presence"] == core.BREAK
    return row["state"] in core.TIMER_STATES[kind.name]


def run(tx, kind: Kind, row: dict) -> None:
    """Run the timer out at ``tx.at``, its instant."""
    from . import chats

    name = kind.name
    if name == core.K_WRAPUP:
        chats.move(tx, row, core.EXPIRE, "timer")
    elif name == core.K_OFFER:
        agent = row["agent"]
        chats.move(tx, row, core.OFFER_TIMEOUT, "offer-timeout")
        tx.q("UPDATE chats SET agent = NULL WHERE id = ?", row["id"])
        not_responding(tx, agent)
    elif name == core.K_PATIENCE:
        chats.move(tx, row, core.PATIENCE, "patience")
    elif name == core.K_IDLE:
        chats.move(tx, row, core.IDLE_TIMEOUT, "idle-timeout")
    elif name == core.K_ALERT:
        state = core.step(row["id"], row["state"], core.REPLY_ALERT).to
        tx.q("UPDATE chats SET alert_deadline_ms = NULL, alerting_since_ms = ? WHERE id = ?", tx.at, row["id"])
        tx.changed(row["id"])
        tx.event(row["agent"], row["id"], row["state"], state, "reply-alert", queue=row["queue"])
    elif name == core.K_BREAK:
        from .agents import status

        tx.q("UPDATE agents SET break_deadline_ms = NULL, overrun_since_ms = ? WHERE id = ?", tx.at, row["id"])
        tx.status_event(row["id"], status(tx, row["id"]), "break-overrun")


def not_responding(tx, agent: str) -> None:
    """The agent let an offer time out: nothing more is presented to it until ``agent available``."""
    from .agents import status

    tx.q("UPDATE agents SET presence = ?, break_reason = NULL, break_deadline_ms = NULL, overrun_since_ms = NULL"
         " WHERE id = ?", core.NOT_RESPONDING, agent)
    tx.status_event(agent, status(tx, agent), "offer-timeout")


# -- break limits --------------------------------------------------------------------------------

#: A row of the ``config`` table beside the settings (as ``queues-added``): each break reason's limit,
#: ``reason=ms`` comma-separated; it travels with the state (snapshots, bundles) and ``reset`` clears it.
BREAK_LIMITS = "break-limits"


def break_limits(tx) -> dict[str, int]:
    found = tx.q("SELECT value FROM config WHERE queue = '' AND key = ?", BREAK_LIMITS).fetchone()
    return parse_limits(found[0]) if found else {}


def parse_limits(value: str) -> dict[str, int]:
    limits = {}
    for item in value.split(","):
        if item:
            reason, _, ms = item.partition("=")
            limits[reason] = int(ms)
    return limits


def encode_limits(limits: dict[str, int]) -> str:
    return ",".join(f"{reason}={ms}" for reason, ms in sorted(limits.items()))


def store_limits(tx, limits: dict[str, int]) -> None:
    if limits:
        tx.q("INSERT INTO config (queue, key, value) VALUES ('', ?, ?) ON CONFLICT (queue, key)"
             " DO UPDATE SET value = excluded.value", BREAK_LIMITS, encode_limits(limits))
    else:
        tx.q("DELETE FROM config WHERE queue = '' AND key = ?", BREAK_LIMITS)


def break_started(tx, agent: str, presence: str, reason: str | None) -> None:
    """The agent's presence changed: a break with a limited reason starts its limit; any other
    presence (or reason) ends the limit and the overrun."""
    deadline = None
    if presence == core.BREAK and reason is not None:
        deadline = _deadline(tx.at, break_limits(tx).get(reason))
    tx.q("UPDATE agents SET break_deadline_ms = ?, overrun_since_ms = NULL WHERE id = ?", deadline, agent)
    if deadline is not None:
        tx.timer_set(deadline, core.K_BREAK, agent)
