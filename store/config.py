"""Configuration keys, their defaults and how their values are read (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError
from .timefmt import format_duration, parse_duration


@dataclass(frozen=True)
class Key:
    name: str
    kind: str  # "duration" (stored in ms), "count" or "switch"
    default: int | bool
    per_queue: bool
    help: str
    minimum: int = 0
    maximum: int = 1000


KEYS = {
    key.name: key
    for key in (
        Key("wrapup", "duration", 60_000, True, "how long wrap-up lasts"),
        Key("wrapup-extension", "duration", 60_000, True, "what one `chat wrapup --extend` adds"),
        Key("wrapup-extensions", "count", 3, True, "how many extensions one wrap-up may have"),
        Key("max-chats", "count", 3, False, "open chats an inbox holds at most", minimum=1),
        Key("auto-present", "switch", True, False, "present queued chats to idle agents (on/off)"),
    )
}

_SWITCH = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def key(name: str) -> Key:
    try:
        return KEYS[name]
    except KeyError:
        raise UsageError(f"unknown config key {name!r} (keys: {', '.join(KEYS)})") from None


def parse_value(k: Key, text: str) -> int | bool:
    """The value a user typed → the stored value (ms, a count or a bool)."""
    if k.kind == "duration":
        return parse_duration(text)
    if k.kind == "switch":
        try:
            return _SWITCH[text.strip().lower()]
        except KeyError:
            raise UsageError(f"bad value {text!r} for {k.name}: use on or off") from None
    try:
        value = int(text.strip())
    except ValueError:
        raise UsageError(f"bad value {text!r} for {k.name}: use a whole number") from None
    if not k.minimum <= value <= k.maximum:
        raise UsageError(f"bad value {text!r} for {k.name}: use {k.minimum} to {k.maximum}")
    return value


def encode(k: Key, value: int | bool) -> str:
    if k.kind == "switch":
        return "on" if value else "off"
    return str(int(value))


def decode(k: Key, stored: str) -> int | bool:
    if k.kind == "switch":
        return stored == "on"
    return int(stored)


def show(k: Key, value: int | bool) -> str:
    """For people: 60s, 3, on."""
    if k.kind == "duration":
        return format_duration(int(value))
    if k.kind == "switch":
        return "on" if value else "off"
    return str(value)
