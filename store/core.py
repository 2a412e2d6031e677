"""The pure core of chatemu: the chat state machine and the wrap-up timer.

Nothing in this module does I/O or reads a clock.  Every function takes the
time it needs as an argument, in integer milliseconds since the Unix epoch,
so the whole model can be tested in-process, exhaustively and fast.

The state machine is one explicit table, ``TRANSITIONS``: for each
(state, event) pair that is allowed, the next state and what happens to the
wrap-up timer.  Any pair that is not in the table is refused with
``Refused``, which names the chat, its state and the event that was tried.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import Refused

# --- states -----------------------------------------------------------------

QUEUED = "queued"
NEW = "new"
ACTIVE = "active"
PARKED = "parked"
ACTIVE_WRAPUP = "active-wrapup"
PARKED_WRAPUP = "parked-wrapup"
CLOSED = "closed"

STATES = (QUEUED, NEW, ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP, CLOSED)

#: States in which a chat sits in an agent's inbox and counts toward capacity.
OPEN_STATES = (NEW, ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP)
#: States that make an agent busy: while it has one, nothing is presented.
BUSY_STATES = (NEW, ACTIVE, ACTIVE_WRAPUP)
#: The agent's active item is in one of these (at most one per agent).
ACTIVE_STATES = (ACTIVE, ACTIVE_WRAPUP)
WRAPUP_STATES = (ACTIVE_WRAPUP, PARKED_WRAPUP)

# --- events -----------------------------------------------------------------
# The names are what a user types (``chat park``), or the source of an
# automatic change (timer, call, presentation).

TAKE = "take"  # the agent picks a queued chat
PRESENT = "present"  # a queued chat is presented to an idle agent
ACTIVATE = "activate"
PARK = "park"
END = "end"  # the customer ends the chat
WRAPUP = "wrapup"  # the agent ends the conversation
EXTEND = "extend"  # chat wrapup --extend
FINISH = "finish"  # chat wrapup --finish
EXPIRE = "expire"  # the wrap-up timer ran out
CALL_START = "call-start"  # a call parks the agent's active item
CALL_END = "call-end"  # the call ended; a chat the customer ended resumes
RETURN = "return"  # the chat goes back to a queue (the agent sends it back; its agent disconnected)
TRANSFER_QUEUE = "transfer-queue"  # the agent moves its active chat to another queue
TRANSFER_AGENT = "transfer-agent"  # the agent hands its active chat to another agent

EVENTS = (
    TAKE, PRESENT, ACTIVATE, PARK, END, WRAPUP, EXTEND, FINISH, EXPIRE, CALL_START, CALL_END,
    RETURN, TRANSFER_QUEUE, TRANSFER_AGENT,
)

# --- timer operations, carried by each transition -----------------------------

T_NONE = "none"  # the timer is not touched
T_START = "start"  # start a running timer, full duration
T_START_PAUSED = "start-paused"  # start a paused timer, full duration
T_PAUSE = "pause"
T_RESUME = "resume"
T_EXTEND = "extend"
T_STOP = "stop"  # the chat closes; no timer any more


class Step(NamedTuple):  # a NamedTuple, not a dataclass: cheaper to define at every start
    to: str
    timer: str = T_NONE
    closed_reason: str | None = None


TRANSITIONS: dict[tuple[str, str], Step] = {
    (QUEUED, TAKE): Step(NEW),
    (QUEUED, PRESENT): Step(NEW),
    (QUEUED, END): Step(CLOSED, T_NONE, "abandoned"),
    (NEW, ACTIVATE): Step(ACTIVE),
    (NEW, END): Step(PARKED_WRAPUP, T_START_PAUSED),
    (PARKED, ACTIVATE): Step(ACTIVE),
    (PARKED, END): Step(PARKED_WRAPUP, T_START_PAUSED),
    (ACTIVE, PARK): Step(PARKED),
    (ACTIVE, CALL_START): Step(PARKED),
    (ACTIVE, END): Step(ACTIVE_WRAPUP, T_START),
    (ACTIVE, WRAPUP): Step(ACTIVE_WRAPUP, T_START),
    (ACTIVE_WRAPUP, PARK): Step(PARKED_WRAPUP, T_PAUSE),
    (ACTIVE_WRAPUP, CALL_START): Step(PARKED_WRAPUP, T_PAUSE),
    (ACTIVE_WRAPUP, EXTEND): Step(ACTIVE_WRAPUP, T_EXTEND),
    (ACTIVE_WRAPUP, FINISH): Step(CLOSED, T_STOP, "wrapup-finished"),
    (ACTIVE_WRAPUP, EXPIRE): Step(CLOSED, T_STOP, "wrapup-expired"),
    (PARKED_WRAPUP, ACTIVATE): Step(ACTIVE_WRAPUP, T_RESUME),
    (PARKED_WRAPUP, CALL_END): Step(ACTIVE_WRAPUP, T_RESUME),
    (NEW, RETURN): Step(QUEUED),
    (ACTIVE, RETURN): Step(QUEUED),
    (PARKED, RETURN): Step(QUEUED),
    (ACTIVE, TRANSFER_QUEUE): Step(QUEUED),
    (ACTIVE, TRANSFER_AGENT): Step(NEW),
}

#: Every cause an event records: the command or happening that moved a chat or an agent's status
#: (``upgrade``: an older database's upgrade logged the agent's status).
CAUSES = ("customer", "presentation", "take", "activate", "park", "wrapup", "extend", "finish", "timer", "call",
          "return", "transfer", "login", "logout", "available", "break", "upgrade", "disconnect",
          "profile")  # profile: a vendor profile applied (neither a chat's nor an agent's event)
#: ``wrapup-skipped``: finished from active where wrap-up is optional; ``no-wrapup``: the
#: conversation ended where there is no wrap-up (``MODE_TRANSITIONS``).
CLOSED_REASONS = ("wrapup-expired", "wrapup-finished", "abandoned", "wrapup-skipped", "no-wrapup")

# What a refused event was trying to do, for messages: "cannot park C1: it is queued".
VERBS = {
    TAKE: "take",
    PRESENT: "present",
    ACTIVATE: "activate",
    PARK: "park",
    END: "end",
    WRAPUP: "wrap up",
    EXTEND: "extend the wrap-up of",
    FINISH: "finish the wrap-up of",
    EXPIRE: "expire the wrap-up of",
    CALL_START: "park for a call",
    CALL_END: "resume after a call",
    RETURN: "return",
    TRANSFER_QUEUE: "transfer",
    TRANSFER_AGENT: "transfer",
}


def step(chat_id: str, state: str, event: str, mode: str = "timed", parks: bool = True) -> Step:
    """The transition for ``event`` on a chat in ``state``, or ``Refused``; ``mode``: the
    chat's wrap-up mode, ``parks``: the ``call-parks-chats`` setting (``table``)."""
    try:
        return table(mode, parks)[(state, event)]
    except KeyError:
        raise Refused(f"cannot {VERBS[event]} {chat_id}: {refusal_reason(state, event, mode)}") from None


def allowed(state: str, event: str, mode: str = "timed", parks: bool = True) -> bool:
    return (state, event) in table(mode, parks)


# --- wrap-up modes and calls that park nothing --------------------------------------
# ``wrapup-mode`` (per queue) and ``call-parks-chats`` (global) change some pairs of the
# table: each mode's pairs added (a Step) or taken away (None), and the call's pairs when a
# call parks nothing.  ``table(mode, parks)`` is TRANSITIONS with those applied.

TIMED, UNTIMED, NO_EARLY_EXIT, OPTIONAL, OFF = "timed", "untimed", "no-early-exit", "optional", "off"
WRAPUP_MODES = (TIMED, UNTIMED, NO_EARLY_EXIT, OPTIONAL, OFF)

MODE_TRANSITIONS: dict[str, dict[tuple[str, str], Step | None]] = {
    TIMED: {},
    # No timer: wrap-up starts with none (T_NONE), only --finish closes it, nothing to extend.
    UNTIMED: {
        (NEW, END): Step(PARKED_WRAPUP),
        (PARKED, END): Step(PARKED_WRAPUP),
        (ACTIVE, END): Step(ACTIVE_WRAPUP),
        (ACTIVE, WRAPUP): Step(ACTIVE_WRAPUP),
        (ACTIVE_WRAPUP, EXTEND): None,
        (ACTIVE_WRAPUP, EXPIRE): None,
    },
    # Only the timer closes it: --finish is refused while it runs.
    NO_EARLY_EXIT: {(ACTIVE_WRAPUP, FINISH): None},
    # The agent may skip wrap-up: --finish from active closes the chat at once.
    OPTIONAL: {(ACTIVE, FINISH): Step(CLOSED, T_NONE, "wrapup-skipped")},
    # No wrap-up at all: the conversation's end closes the chat.
    OFF: {
        (NEW, END): Step(CLOSED, T_NONE, "no-wrapup"),
        (PARKED, END): Step(CLOSED, T_NONE, "no-wrapup"),
        (ACTIVE, END): Step(CLOSED, T_NONE, "no-wrapup"),
        (ACTIVE, WRAPUP): Step(CLOSED, T_NONE, "no-wrapup"),
    },
}

#: ``call-parks-chats off``: a call moves no chat (the active item stays active, a wrap-up
#: timer keeps running), so these pairs are taken away.
CALL_PAIRS = ((ACTIVE, CALL_START), (ACTIVE_WRAPUP, CALL_START), (PARKED_WRAPUP, CALL_END))

#: What the agent's call refuses of its own commands, by ``call-parks-chats``: while a call
#: parks chats, activating and returning wait for its end; otherwise the call refuses nothing.
CALL_REFUSES = {True: (ACTIVATE, RETURN), False: ()}

_TABLES: dict[tuple[str, bool], dict[tuple[str, str], Step]] = {}


def table(mode: str = TIMED, parks: bool = True) -> dict[tuple[str, str], Step]:
    """The transition table of a wrap-up ``mode`` and a ``call-parks-chats`` setting."""
    found = _TABLES.get((mode, parks))
    if found is None:
        found = dict(TRANSITIONS_ALL)
        for pair, changed in MODE_TRANSITIONS[mode].items():
            # the customer going quiet ends the conversation as the customer's end does
            idle = (pair[0], IDLE_TIMEOUT) if pair[1] == END and (pair[0], IDLE_TIMEOUT) in found else None
            for each in (pair, idle) if idle else (pair,):
                if changed is None:
                    found.pop(each, None)
                else:
                    found[each] = changed
        if not parks:
            for pair in CALL_PAIRS:
                found.pop(pair, None)
        _TABLES[(mode, parks)] = found
    return found


def every_pair() -> set[tuple[str, str]]:
    """Every (from, to) a chat's move may carry, whatever the modes (``db check``'s replay)."""
    return {(state, s.to) for mode in WRAPUP_MODES for parks in (True, False)
            for (state, _event), s in table(mode, parks).items()}


def wrapup_mode(queue_mode: str, state: str, timer: "Timer") -> str:
    """The mode a chat's event follows: a chat in wrap-up without a timer is ``untimed``,
    whatever its queue says now; one in wrap-up with a timer follows its queue only where
    that refuses --finish (``no-early-exit``, read when the agent finishes); a chat not yet
    in wrap-up follows its queue's mode."""
    if state in WRAPUP_STATES:
        if timer.deadline is None and timer.remaining is None:
            return UNTIMED
        return NO_EARLY_EXIT if queue_mode == NO_EARLY_EXIT else TIMED
    return queue_mode


# --- actions that do not move a chat -------------------------------------------
# Messages, classification, the abusive flag and the contact leave the state as
# it is; this table says in which states each is allowed.

SEND = "send"  # the agent sends a message
RECEIVE = "receive"  # a customer message arrives
CLASSIFY = "classify"
FLAG_ABUSIVE = "flag-abusive"
ASSIGN_CONTACT = "contact"

#: The customer is still there: messages from the customer may arrive.
CUSTOMER_PRESENT = (QUEUED, NEW, ACTIVE, PARKED)
#: During the conversation or its wrap-up: classification and the abusive flag.
CONVERSATION_OR_WRAPUP = (ACTIVE, PARKED, ACTIVE_WRAPUP, PARKED_WRAPUP)

ACTIONS: dict[str, tuple[str, ...]] = {
    SEND: (ACTIVE,),
    RECEIVE: CUSTOMER_PRESENT,
    CLASSIFY: CONVERSATION_OR_WRAPUP,
    FLAG_ABUSIVE: CONVERSATION_OR_WRAPUP,
    ASSIGN_CONTACT: OPEN_STATES,
}

ACTION_VERBS = {
    SEND: "send to",
    RECEIVE: "receive a message on",
    CLASSIFY: "classify",
    FLAG_ABUSIVE: "flag",
    ASSIGN_CONTACT: "assign a contact to",
}


def refusal_reason(state: str, event: str, mode: str = "timed") -> str:
    """Why ``event`` (a transition or an action) is refused in ``state``, after "cannot … C1: "."""
    if state in WRAPUP_STATES + (CLOSED,) and event in (SEND, RECEIVE, RETURN, TRANSFER_QUEUE, TRANSFER_AGENT):
        return f"the customer has left ({state})"
    if mode == UNTIMED and state == ACTIVE_WRAPUP and event == EXTEND:
        return f"it is {state} with no timer (wrapup-mode untimed: only --finish closes it)"
    if mode == NO_EARLY_EXIT and state == ACTIVE_WRAPUP and event == FINISH:
        return f"it is {state} and its timer has not run out (wrapup-mode no-early-exit)"
    return f"it is {state}"


def require(chat_id: str, state: str, action: str) -> None:
    """``Refused`` unless ``action`` is allowed on a chat in ``state``."""
    if state not in ACTIONS[action]:
        raise Refused(f"cannot {ACTION_VERBS[action]} {chat_id}: {refusal_reason(state, action)}")


# --- the wrap-up timer --------------------------------------------------------
# A timer is stored as two integers: ``deadline`` (the instant it runs out,
# while it runs) and ``remaining`` (what is left, while it is paused).  Exactly
# one of them is set.  All arithmetic is in integer milliseconds.


class Timer(NamedTuple):
    deadline: int | None = None
    remaining: int | None = None

    @property
    def running(self) -> bool:
        return self.deadline is not None


NO_TIMER = Timer()


def timer_start(duration_ms: int, now: int) -> Timer:
    return Timer(deadline=now + duration_ms)


def timer_start_paused(duration_ms: int) -> Timer:
    return Timer(remaining=duration_ms)


def timer_left(timer: Timer, now: int) -> int | None:
    """Milliseconds left at ``now``; never negative; None without a timer."""
    if timer.deadline is not None:
        return max(0, timer.deadline - now)
    return timer.remaining


def timer_pause(timer: Timer, now: int) -> Timer:
    if timer.deadline is None:
        return timer
    return Timer(remaining=max(0, timer.deadline - now))


def timer_resume(timer: Timer, now: int) -> Timer:
    if timer.remaining is None:
        return timer
    return Timer(deadline=now + timer.remaining)


def timer_extend(timer: Timer, extension_ms: int) -> Timer:
    if timer.deadline is not None:
        return Timer(deadline=timer.deadline + extension_ms)
    if timer.remaining is not None:
        return Timer(remaining=timer.remaining + extension_ms)
    return timer


def timer_due(timer: Timer, now: int) -> bool:
    """A running timer is due once ``now`` has reached its deadline."""
    return timer.deadline is not None and timer.deadline <= now


def apply_timer(op: str, timer: Timer, now: int, duration_ms: int, extension_ms: int) -> Timer:
    """What a transition's timer operation makes of the stored timer."""
    if op == T_NONE:
        return timer
    if op == T_START:
        return timer_start(duration_ms, now)
    if op == T_START_PAUSED:
        return timer_start_paused(duration_ms)
    if op == T_PAUSE:
        return timer_pause(timer, now)
    if op == T_RESUME:
        return timer_resume(timer, now)
    if op == T_EXTEND:
        return timer_extend(timer, extension_ms)
    if op == T_STOP:
        return NO_TIMER
    raise ValueError(f"unknown timer operation {op!r}")


# --- time accounting ----------------------------------------------------------
# Each chat keeps how long it has been active, parked and wrapping up.


def bucket(state: str) -> str | None:
    """Which time counter a state adds to."""
    if state == ACTIVE:
        return "active"
    if state in (PARKED, PARKED_WRAPUP):
        return "parked"
    if state == ACTIVE_WRAPUP:
        return "wrapup"
    return None


# --- agents -------------------------------------------------------------------

AVAILABLE = "available"
BREAK = "break"
LOGGED_OUT = "logged-out"
UNAVAILABLE = "unavailable"  # the agent's connection was lost (``agent disconnect``)
PRESENCES = (AVAILABLE, BREAK, LOGGED_OUT, UNAVAILABLE)

ON_CALL = "on-call"
HANDLING_CHAT = "handling-chat"
WRAP_UP = "wrap-up"
#: Every derived status, in the order statistics list them.
STATUSES = (AVAILABLE, HANDLING_CHAT, WRAP_UP, ON_CALL, BREAK, LOGGED_OUT, UNAVAILABLE)


def agent_status(presence: str, on_call: bool, active_state: str | None) -> str:
    """Derived status: the first that holds of on-call, handling-chat, wrap-up, presence."""
    if on_call:
        return ON_CALL
    if active_state == ACTIVE:
        return HANDLING_CHAT
    if active_state == ACTIVE_WRAPUP:
        return WRAP_UP
    return presence


# --- the clocks beyond wrap-up ---------------------------------------------------
# Timers other than wrap-up's: an offer not activated in time, a customer's patience in the
# queue, a customer message left unanswered (the reply alert), a customer gone quiet after
# the agent's last message, and a break past its reason's limit.  Each runs only in the
# states this section names; every one is a deadline (an instant) while it runs.

OFFER_TIMEOUT = "offer-timeout"  # a presented chat was not activated in time: back to its queue
PATIENCE = "patience"  # the customer gave up waiting in the queue
IDLE_TIMEOUT = "idle-timeout"  # the customer sent nothing for too long after the agent's last message
REPLY_ALERT = "reply-alert"  # the customer's oldest unanswered message has waited too long

CLOCK_EVENTS = (OFFER_TIMEOUT, PATIENCE, IDLE_TIMEOUT, REPLY_ALERT)

#: The moves the clocks make, beside ``TRANSITIONS`` (the reply alert leaves the state as it is).
CLOCK_TRANSITIONS: dict[tuple[str, str], Step] = {
    (NEW, OFFER_TIMEOUT): Step(QUEUED),
    (QUEUED, PATIENCE): Step(CLOSED, T_NONE, "abandoned"),
    (NEW, IDLE_TIMEOUT): Step(PARKED_WRAPUP, T_START_PAUSED),
    (ACTIVE, IDLE_TIMEOUT): Step(ACTIVE_WRAPUP, T_START),
    (PARKED, IDLE_TIMEOUT): Step(PARKED_WRAPUP, T_START_PAUSED),
    **{(state, REPLY_ALERT): Step(state) for state in CUSTOMER_PRESENT},
}
TRANSITIONS_ALL = {**TRANSITIONS, **CLOCK_TRANSITIONS}
VERBS.update({OFFER_TIMEOUT: "time out the offer of", PATIENCE: "give up waiting on",
              IDLE_TIMEOUT: "time out the idle customer of", REPLY_ALERT: "alert on"})
CAUSES += ("offer-timeout", "patience", "idle-timeout", "reply-alert", "break-overrun")

#: The agent's presence after an offer timed out: nothing is presented until ``agent available``.
NOT_RESPONDING = "not-responding"
PRESENCES += (NOT_RESPONDING,)
STATUSES += (NOT_RESPONDING,)

# The kinds of timer, in the order timers due at the same instant run out for one chat
# (chats in creation order first, then agents by id).
K_WRAPUP = "wrapup"
K_IDLE = "idle"
K_PATIENCE = "patience"
K_OFFER = "offer"
K_ALERT = "alert"
K_BREAK = "break"
TIMER_KINDS = (K_WRAPUP, K_IDLE, K_PATIENCE, K_OFFER, K_ALERT, K_BREAK)

#: The chat states in which each chat timer may run (a break limit runs while on a break).
TIMER_STATES: dict[str, tuple[str, ...]] = {
    K_WRAPUP: (ACTIVE_WRAPUP,),
    K_IDLE: (NEW, ACTIVE, PARKED),
    K_PATIENCE: (QUEUED,),
    K_OFFER: (NEW,),
    K_ALERT: CUSTOMER_PRESENT,
}


def timer_order(due: int, kind: str, owner) -> tuple:
    """The order timers run out in: by instant; at one instant, chats (``owner`` their number)
    in creation order, each chat's kinds in ``TIMER_KINDS`` order, then agents (``owner``
    their id) by id."""
    if kind == K_BREAK:
        return (due, 1, 0, owner)
    return (due, 0, owner, TIMER_KINDS.index(kind))


def clock_timers(state: str, event: str, to: str, timers: dict[str, int | None], at: int,
                 offer_ms: int | None = None, patience_ms: int | None = None,
                 waited_since: int | None = None) -> dict[str, int | None]:
    """The chat's clock deadlines after ``event`` moves it from ``state`` to ``to`` at ``at``.

    ``timers``: kind → deadline (None: not running) for idle, patience, offer and alert.  A
    timer stops where its kind does not run; a routing presentation starts the offer timer
    (``offer_ms``: the queue's offer-timeout, None off); joining a queue starts the patience
    timer (``patience_ms``: the chat's or the queue's, None off), counted from ``waited_since``
    when an offer timed out (the customer is still waiting since then), else from now.  The
    idle timer stops when the chat goes back to a queue (the customer waits for an agent)."""
    after = {kind: (deadline if to in TIMER_STATES[kind] else None) for kind, deadline in timers.items()}
    if to == NEW and event != PRESENT:
        after[K_OFFER] = None
    if to == QUEUED:
        after[K_IDLE] = None
    if event == PRESENT and offer_ms is not None:
        after[K_OFFER] = at + offer_ms
    if to == QUEUED and state != QUEUED:
        start = waited_since if event == OFFER_TIMEOUT and waited_since is not None else at
        after[K_PATIENCE] = None if patience_ms is None else max(at, start + patience_ms)
    return after
