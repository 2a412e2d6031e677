"""Configuration keys, their defaults and how their values are read (pure)."""

from __future__ import annotations

from typing import NamedTuple

from .errors import UsageError
from .timefmt import format_duration, parse_duration


class Key(NamedTuple):  # a NamedTuple: cheaper to define than a dataclass at every start
    name: str
    kind: str  # "duration" (stored in ms), "count", "switch", "choice", "name" or "list" (names, comma-separated)
    default: int | bool | str | tuple | None
    per_queue: bool
    help: str
    minimum: int = 0
    maximum: int = 1000
    choices: tuple[str, ...] = ()
    off: bool = False  # the value may also be ``off`` (stored "off", read as None): the behaviour is not used


KEYS = {
    key.name: key
    for key in (
        Key("wrapup", "duration", 60_000, True, "how long wrap-up lasts"),
        Key("wrapup-extension", "duration", 60_000, True, "what one `chat wrapup --extend` adds"),
        Key("wrapup-extensions", "count", 3, True, "how many extensions one wrap-up may have"),
        Key("max-chats", "count", 3, False, "open chats an inbox holds at most", minimum=1),
        Key("auto-present", "switch", True, False, "present queued chats to idle agents (on/off)"),
        Key("classification", "choice", "free", True, "free: any code; list: a code of the queue's list",
            choices=("free", "list")),
        Key("classification-required", "switch", False, True, "wrap-up --finish waits for a classification (on/off)"),
        Key("routing", "choice", "longest-wait", False,
            "longest-wait: the agent's queues' chats by priority, then the longest wait; queue-order:"
            " the first of the agent's queues with a waiting chat first",
            choices=("longest-wait", "queue-order")),
        Key("service-level", "duration", 20_000, True, "a chat presented or taken within it meets the service level"),
        Key("break-reasons", "list", ("lunch", "training", "comfort", "meeting"), False,
            "the reasons `agent break --reason` accepts (`break-reason add|list|remove`)"),
        Key("offer-timeout", "duration", None, True,
            "a presented chat not activated within it goes back to its queue (off: it waits)", off=True),
        Key("patience", "duration", None, True, "a customer still queued after it leaves (off: it waits)", off=True),
        Key("reply-alert", "duration", None, True,
            "a customer message unanswered that long makes the chat alerting (off: never)", off=True),
        Key("customer-idle-timeout", "duration", None, True,
            "a customer silent that long after the agent's last message leaves (off: never)", off=True),
        Key("max-queue-length", "count", None, True, "chats a queue holds waiting at most (off: no limit)",
            minimum=1, maximum=1_000_000, off=True),
        Key("when-no-agent", "choice", "queue", True,
            "queue: a chat waits when no logged-in agent serves its queue; refuse: it is refused",
            choices=("queue", "refuse")),
        Key("wrapup-mode", "choice", "timed", True,
            "timed: the timer closes it; untimed: only --finish; no-early-exit: only the timer;"
            " optional: the agent may skip it; off: no wrap-up",
            choices=("timed", "untimed", "no-early-exit", "optional", "off")),
        Key("timeout-classification", "name", None, True,
            "the code a chat its wrap-up timer closes unclassified is given (off: none)", off=True),
        Key("call-parks-chats", "switch", True, False,
            "a call parks the active chat and pauses wrap-up (on/off)"),
    )
}

#: Not a setting but a fact kept beside them, so that it travels with the state (snapshots, bundles;
#: ``reset`` clears it): a queue was added with ``queue add`` (``queues.added``).  Its row is
#: ``('', 'queues-added', 'on')``; ``config show`` leaves it out and ``config set`` does not know it.
QUEUES_ADDED = "queues-added"
#: Another such fact: an unfinished ``chatemu simulate`` run's plan (its next steps, random streams),
#: a JSON object in the row ``('', 'simulation', …)``, so that the next run carries on
#: (``simulation.KEY``; docs/simulate.md).  ``config show`` leaves it out.
SIMULATION = "simulation"

_SWITCH = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def key(name: str) -> Key:
    try:
        return KEYS[name]
    except KeyError:
        from .validate import shown

        raise UsageError(f"unknown config key {shown(name)} (keys: {', '.join(KEYS)})") from None


def parse_value(k: Key, text: str) -> int | bool | str | tuple | None:
    """The value a user typed → the stored value (ms, a count, a bool, a name; None for ``off``)."""
    if k.off and text.strip().lower() == "off":
        return None
    if k.kind == "name":
        from .validate import check_name

        check_name(f"value for {k.name}", text.strip())
        return text.strip()
    if k.kind == "duration":
        return parse_duration(text)
    if k.kind == "switch":
        try:
            return _SWITCH[text.strip().lower()]
        except KeyError:
            raise UsageError(f"bad value {text!r} for {k.name}: use on or off") from None
    if k.kind == "list":
        from .validate import check_name

        names = tuple(name.strip() for name in text.split(",") if name.strip())
        for name in names:
            check_name(f"value for {k.name}", name)
        if len(set(names)) != len(names):
            raise UsageError(f"bad value {text!r} for {k.name}: a name is given twice")
        return names
    if k.kind == "choice":
        if text.strip().lower() not in k.choices:
            raise UsageError(f"bad value {text!r} for {k.name}: use {' or '.join(k.choices)}")
        return text.strip().lower()
    try:
        value = int(text.strip())
    except ValueError:
        raise UsageError(f"bad value {text!r} for {k.name}: use a whole number") from None
    if not k.minimum <= value <= k.maximum:
        raise UsageError(f"bad value {text!r} for {k.name}: use {k.minimum} to {k.maximum}"
                         + (" or off" if k.off else ""))
    return value


def encode(k: Key, value) -> str:
    if value is None:
        return "off"
    if k.kind == "list":
        return ",".join(value)
    if k.kind == "switch":
        return "on" if value else "off"
    if k.kind in ("choice", "name"):
        return value
    return str(int(value))


def decode(k: Key, stored: str):
    if k.off and stored == "off":
        return None
    if k.kind == "list":
        return tuple(name for name in stored.split(",") if name)
    if k.kind == "switch":
        return stored == "on"
    if k.kind in ("choice", "name"):
        return stored
    return int(stored)


def show(k: Key, value: int | bool) -> str:
    """For people: 60s, 3, on."""
    if value is None:
        return "off"
    if k.kind == "duration":
        return format_duration(int(value))
    if k.kind == "switch":
        return "on" if value else "off"
    if k.kind == "list":
        return ", ".join(value) or "(none)"
    return str(value)


# --- the config commands (over one command's transaction) ------------------------


def _shown_value(k: Key, value):
    from .timefmt import seconds

    if value is None:
        return None
    if k.kind == "list":
        return list(value)
    return seconds(value) if k.kind == "duration" else value


def show_all(tx) -> dict:
    shown_config = {name: _shown_value(k, tx.config(name)) for name, k in KEYS.items()}
    queues: dict[str, dict] = {}
    for row in tx.q("SELECT queue, key, value FROM config WHERE queue != '' ORDER BY queue, key"):
        k = KEYS.get(row["key"])
        if k is None:  # a fact kept beside the settings (a queue's ``profile``)
            continue
        queues.setdefault(row["queue"], {})[row["key"]] = _shown_value(k, decode(k, row["value"]))
    shown_config["queues"] = queues
    shown_config["agents"] = {
        row["id"]: {"max-chats": row["max_chats"]}
        for row in tx.q("SELECT id, max_chats FROM agents WHERE max_chats IS NOT NULL ORDER BY id")
    }
    from .profiles import applied

    shown_config["profile"], shown_config["queue_profiles"] = applied(tx)
    return shown_config


def effective(tx, queue: str | None = None) -> dict:
    """Every key's value as stored (ms, counts, None for off), for every queue or as a chat of
    ``queue`` gets it, and ``profile``: the profile applied there (the queue's own, else the one
    applied to every queue), or None (``expect config``)."""
    from .profiles import PROFILE

    if queue is not None:
        from .queues import named

        named(tx, queue)
    found = {name: tx.config(name, queue) for name in KEYS}
    levels = ([queue] if queue else []) + [""]
    found["profile"] = next((row[0] for level in levels for row in
                             tx.q("SELECT value FROM config WHERE queue = ? AND key = ?", level, PROFILE)), None)
    return found


def store(tx, name: str, value, queue: str = "") -> None:
    """Store a key's value (already checked: ``parse_value``); ``queue`` '' for every queue."""
    if name == "call-parks-chats" and value != tx.config(name):
        _calls_over(tx)
    tx.q(
        "INSERT INTO config (queue, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT (queue, key) DO UPDATE SET value = excluded.value",
        queue, name, encode(KEYS[name], value),
    )
    tx.config_changed()
    if name == "max-chats":
        tx.free_changed()  # every agent's capacity may be another now


def _calls_over(tx) -> None:
    """``call-parks-chats`` changes only while no agent is on a call: a call keeps the rule it
    started with (what it parked resumes at its end; what it left active stays so)."""
    calling = [row[0] for row in tx.q("SELECT id FROM agents WHERE on_call != 0 ORDER BY id")]
    if calling:
        from .errors import Refused

        raise Refused(f"cannot set call-parks-chats: {', '.join(calling)} on a call (chatemu chat call-end first)")


def set_(tx, name: str, text: str, queue: str | None, agent: str | None = None):
    from .validate import check_name

    k = key(name)
    if agent is not None:
        from .errors import unknown

        if queue is not None:
            raise UsageError("use --queue or --agent, not both")
        if name != "max-chats":
            raise UsageError(f"{name} cannot be set per agent (per-agent keys: max-chats)")
        check_name("agent id", agent)
        value = parse_value(k, text)
        if not tx.q("UPDATE agents SET max_chats = ? WHERE id = ?", value, agent).rowcount:
            raise unknown("agent", agent)
        tx.touch(agent)
        return lambda: show_all(tx)
    if queue is not None:
        check_name("queue", queue)
        if not k.per_queue:
            per_queue = ", ".join(n for n, other in KEYS.items() if other.per_queue)
            raise UsageError(f"{name} cannot be set per queue (per-queue keys: {per_queue})")
    value = parse_value(k, text)
    if queue is not None:
        from .queues import named

        named(tx, queue)
    store(tx, name, value, queue or "")
    return lambda: show_all(tx)
