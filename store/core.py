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
RETURN = "return"  # the agent sends the chat back to its original queue
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
          "return", "transfer", "login", "logout", "available", "break", "upgrade")
CLOSED_REASONS = ("wrapup-expired", "wrapup-finished", "abandoned")

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


def step(chat_id: str, state: str, event: str) -> Step:
    """The transition for ``event`` on a chat in ``state``, or ``Refused``."""
    try:
        return TRANSITIONS_ALL[(state, event)]
    except KeyError:
        raise Refused(f"cannot {VERBS[event]} {chat_id}: {refusal_reason(state, event)}") from None


def allowed(state: str, event: str) -> bool:
    return (state, event) in TRANSITIONS_ALL


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


def refusal_reason(state: str, event: str) -> str:
    """Why ``event`` (a transition or an action) is refused in ``state``, after "cannot … C1: "."""
    if state in WRAPUP_STATES + (CLOSED,) and event in (SEND, RECEIVE, RETURN, TRANSFER_QUEUE, TRANSFER_AGENT):
        return f"the customer has left ({state})"
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
PRESENCES = (AVAILABLE, BREAK, LOGGED_OUT)

ON_CALL = "on-call"
HANDLING_CHAT = "handling-chat"
WRAP_UP = "wrap-up"
#: Every derived status, in the order statistics list them.
STATUSES = (AVAILABLE, HANDLING_CHAT, WRAP_UP, ON_CALL, BREAK, LOGGED_OUT)


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
