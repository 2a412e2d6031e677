"""Vendor profiles: the values of chatemu's settings that each platform's documentation states.

The table (``PROFILES``) is pure: for each profile, every key of ``PROFILE_KEYS`` with the value
``config set`` would take, the sentence it rests on and where that sentence is.  A key whose value
the platform does not document keeps chatemu's default (``Value.source`` empty, ``note`` says
why).  ``apply`` sets a profile's values in one command's transaction through ``config.store``
(the values parsed by ``config.parse_value``, as ``config set`` parses them), records which profile
was applied at that level (the ``profile`` row of ``config``, like ``queues-added``) and logs one
event; ``applied`` says, for ``config show``, which profile each level had and which of its values
were changed since.  docs/profiles.md says the same for people.
"""

from __future__ import annotations

from typing import NamedTuple

from . import config as cfg
from .errors import UsageError

#: The fact kept beside the settings: ``(LEVEL, 'profile', NAME)``, LEVEL being '' (every queue) or
#: a queue's name.  ``config set`` does not know it; ``config show`` names it; ``reset`` clears it.
PROFILE = "profile"

#: The keys a profile sets: the contact centre's behaviour.  The others (auto-present, routing,
#: service-level, the classification keys, break-reasons) are the site's own and a profile leaves
#: them as they are.
PROFILE_KEYS = ("wrapup-mode", "wrapup", "wrapup-extension", "wrapup-extensions", "timeout-classification",
                "offer-timeout", "patience", "reply-alert", "customer-idle-timeout", "max-queue-length",
                "when-no-agent", "max-chats", "call-parks-chats")


class Value(NamedTuple):
    text: str  # as ``config set`` takes it
    source: str = ""  # a short sentence of the platform's documentation (quoted), or "" when it documents none
    link: str = ""
    note: str = ""  # how the value follows from the source, or why it is chatemu's default
    quoted: bool = True  # ``source`` is the documentation's own words (else said in ours)


class Profile(NamedTuple):
    name: str
    title: str
    about: str
    values: dict  # key → Value, for every key of PROFILE_KEYS


def _default(name: str) -> str:
    k = cfg.KEYS[name]
    return cfg.encode(k, k.default) if k.kind != "duration" or k.default is None else cfg.show(k, k.default)


def _profile(name: str, title: str, about: str, documented: dict, notes: dict | None = None) -> Profile:
    """Every key of PROFILE_KEYS: the documented values, the others at chatemu's default."""
    values = {}
    for key in PROFILE_KEYS:
        if key in documented:
            values[key] = documented[key]
        else:
            values[key] = Value(_default(key), note=(notes or {}).get(key, "") or "not documented: chatemu's default")
    return Profile(name, title, about, values)


_HZ_ADMIN = "https://adminhelp-contact.unlimitedhorizon.co.uk/knowledge-base/configuring-advanced-settings-for-a-chat-queue"
_HZ_PARK = "https://agenthelp-contact.unlimitedhorizon.co.uk/knowledge-base/activating-and-pausing-a-webchat"
_HZ_WRAP = "https://agenthelp-contact.unlimitedhorizon.co.uk/knowledge-base/classify-and-wrap-up-a-webchat"
_HZ_REPLY = "https://agenthelp-contact.unlimitedhorizon.co.uk/?p=1955"
_GC_ACW = "https://help.mypurecloud.com/articles/configure-call-work-settings/"
_GC_ALERT = "https://help.mypurecloud.com/articles/set-behavior-and-thresholds-for-voice-and-chat-channels/"
_GC_UTIL = "https://help.mypurecloud.com/?p=4728"
_GC_FAQ = "https://help.mypurecloud.com/articles/agent-utilization-faqs/"
_GC_TF = "https://github.com/MyPureCloud/terraform-provider-genesyscloud"
_AC_CHAT = "https://docs.aws.amazon.com/connect/latest/adminguide/chat-with-connect-contacts.html"
_AC_ACW = "https://docs.aws.amazon.com/connect/latest/APIReference/API_UpdateUserConfig.html"
_AC_IDLE = "https://docs.aws.amazon.com/connect/latest/adminguide/setup-chat-timeouts.html"
_AC_PAUSE = "https://docs.aws.amazon.com/connect/latest/adminguide/resume-contact.html"
_AC_CONC = "https://docs.aws.amazon.com/connect/latest/APIReference/API_MediaConcurrency.html"
_SF_PUSH = ("https://help.salesforce.com/s/articleView?id=service.service_presence_routing_configuration_settings.htm"
            "&language=en_US&type=5")
_SF_ACW = ("https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/"
           "tooling_api_objects_presenceuserconfig.htm")
_SF_CHANNEL = ("https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
               "sforce_api_objects_servicechannel.htm")
_SF_VOICE = "https://help.salesforce.com/apex/HTViewHelpDoc?id=service.voice_respect_agent_capacity.htm"
_TW_WORKFLOW = "https://www.twilio.com/docs/taskrouter/api/workflow"
_TW_RES = "https://www.twilio.com/docs/taskrouter/api/reservations"
_TW_STATE = "https://www.twilio.com/docs/taskrouter/lifecycle-task-state"
_TW_WRAP = "https://support.flexfig.com/hc/en-us/articles/360058211574-Task-Wrap-Up-and-Completion"
_TW_PAUSE = "https://www.twilio.com/docs/flex/admin-guide/setup/conversations/leave-and-pause-for-conversations"

PROFILES = {p.name: p for p in (
    _profile(
        "horizon", "Horizon Contact",
        "chatemu's defaults: the vendor knowledge base chatemu was first built from",
        {
            "wrapup-mode": Value("timed", "you can extend the wrap-up time or end the wrap-up period early", _HZ_WRAP,
                                 "the timer ends wrap-up; the agent may end it early"),
            "wrapup": Value("60s", "The default value is 60 seconds.", _HZ_ADMIN, "Wrap-up Time"),
            "wrapup-extension": Value("60s", "The default value is 60 seconds.", _HZ_ADMIN, "Wrap-up Extension Time"),
            "wrapup-extensions": Value("3", "The default value is three times.", _HZ_ADMIN, "Wrap-up Extensions"),
            "call-parks-chats": Value("on", "your active webchat is parked automatically and remains in your inbox",
                                      _HZ_PARK, "while the agent is on a call"),
        },
        {
            "max-queue-length": "the queue's Maximum Queue Length is a setting with no default stated: chatemu's"
                                " default (no limit)",
            "when-no-agent": "the queue's checkbox that lets chats wait with no agent available has no default"
                             " stated: chatemu's default (queue)",
            "reply-alert": "the alerting icon changes colour at a time limit whose value is not stated: chatemu's"
                           " default (off)",
            "max-chats": "the number of concurrent chats is set per agent; no default stated: chatemu's default",
        },
    ),
    _profile(
        "genesys", "Genesys Cloud",
        "Genesys Cloud CX: ACD alerting, after call work modes, utilization",
        {
            "wrapup-mode": Value(
                "timed", "If they finish after call work early, they can change status to receive new interactions"
                " or automatically become available at the end of the time specified.", _GC_ACW,
                "Mandatory, Time-boxed, the Terraform provider's default (MANDATORY_TIMEOUT, " + _GC_TF
                + "); the admin UI's default is not checked"),
            "timeout-classification": Value(
                "ININ-WRAP-UP-TIMEOUT", "Genesys Cloud assigns the default ININ-WRAP-UP-TIMEOUT wrap up code.",
                _GC_ACW, "a chat whose after call work timer runs out unclassified"),
            "max-chats": Value("4", "By default, an agent can handle at one time: … Up to four chats",
                               _GC_UTIL, "utilization, organization level"),
            "call-parks-chats": Value(
                "off", "When the agent answers the call, the chats remain active", _GC_FAQ,
                "a call that interrupts chats leaves them active"),
        },
        {
            "wrapup": "the time-boxed modes' timeout has no documented default (1 s to 1 day): chatemu's default",
            "wrapup-extensions": "no wrap-up extension is documented: chatemu's default stays; set it to 0 for none",
            "offer-timeout": "an unanswered alert sets the agent Not Responding and returns the interaction to the"
                             " queue (\"When an alert times out, the agent's status changes to Not Responding and"
                             " the system returns the call to the queue\", " + _GC_ALERT + "); its default is not"
                             " checked (at most 900 seconds): chatemu's default (off)",
            "customer-idle-timeout": "the message inactivity timeout is disabled by default: chatemu's default (off)",
        },
    ),
    _profile(
        "connect", "Amazon Connect",
        "Amazon Connect: the Contact Control Panel's chats, after contact work, chat timeouts",
        {
            "offer-timeout": Value("20s", "You have 20 seconds to accept or reject a contact.", _AC_CHAT,
                                   "a chat not accepted in time is missed and goes to another agent"),
            "call-parks-chats": Value("off", "Pausing and resuming a contact is for tasks; a chat cannot be paused.",
                                      _AC_PAUSE, "a call never parks a chat", quoted=False),
        },
        {
            "wrapup-mode": "after contact work has a time limit per user and channel, 0 meaning indefinite (the"
                           " agent must choose Close contact, " + _AC_ACW + "); no default is documented:"
                           " chatemu's default (timed); `config set wrapup-mode untimed` is the 0 setting",
            "wrapup": "the after contact work time limit (0 or 1 to 2,000,000 s) has no documented default:"
                      " chatemu's default",
            "wrapup-extensions": "no extension of after contact work is documented: chatemu's default stays",
            "customer-idle-timeout": "the customer idle and auto-disconnect timeouts (2 to 480 minutes, " + _AC_IDLE
                                     + ") are unset by default: chatemu's default (off)",
            "max-chats": "chat concurrency is 1 to 10 per routing profile (" + _AC_CONC + ") with no documented"
                         " default: chatemu's default",
        },
    ),
    _profile(
        "omni", "Salesforce Omni-Channel",
        "Salesforce Omni-Channel: push time-out, after-conversation work, capacity",
        {
            "wrapup-mode": Value(
                "untimed", "HasAfterConvoWorkTimer, which turns the after-conversation work timer on, is false by"
                " default.", _SF_ACW, "with no timer the rep's work stays open until the rep ends it (All Done or"
                " closing the tab)", quoted=False),
            "wrapup-extensions": Value(
                "0", "HasAcwExtensionEnabled, which offers the Extend button in after-conversation work, is false"
                " by default.", _SF_CHANNEL, "with the extension off, no extension", quoted=False),
            "call-parks-chats": Value(
                "off", "With Respect Rep Capacity on, a call to a rep whose primary capacity is in use is declined"
                " and goes to the next rep.", _SF_VOICE, "no parking of chats on a call is documented: a call never"
                " parks a chat", quoted=False),
        },
        {
            "wrapup": "AfterConvoWorkMaxTime is 10 to 3600 s with no documented default: chatemu's default (used"
                      " once wrap-up is timed)",
            "wrapup-extension": "AcwExtensionDuration is 10 to 3600 s per extension with no documented default:"
                                " chatemu's default",
            "offer-timeout": "Push Time-Out sets how long a rep has to respond before the item is pushed to another"
                             " rep (" + _SF_PUSH + "); it has no documented default: chatemu's default (off)",
            "max-chats": "capacity is in units or percentages, not a number of chats: chatemu's default",
        },
    ),
    _profile(
        "flex", "Twilio Flex (TaskRouter)",
        "Twilio Flex on TaskRouter: reservations, the wrapping state",
        {
            "offer-timeout": Value(
                "120s", "Can be up to 86,400 (24 hours) and the default is 120.", _TW_WORKFLOW,
                "TaskReservationTimeout; \"the Reservation will timeout and the Task will be available for other"
                " workers\" (" + _TW_RES + ")"),
            "wrapup-mode": Value(
                "untimed", "A task stays wrapping until the agent clicks Complete; there is no built-in wrap-up"
                " timer.", _TW_WRAP, "a secondary source; the task states are at " + _TW_STATE, quoted=False),
            "call-parks-chats": Value(
                "off", "Pause is off by default, and a paused task waits for a manual Resume.", _TW_PAUSE,
                "nothing pauses a conversation when a call comes", quoted=False),
        },
        {
            "wrapup-extensions": "no wrap-up extension is built in (an auto-wrap add-on is not core): chatemu's"
                                 " default stays",
            "max-chats": "a worker's configured capacity per channel has no documented default: chatemu's default",
        },
    ),
)}

NAMES = tuple(PROFILES)


def get(name: str) -> Profile:
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        from .validate import shown

        raise UsageError(f"unknown profile {shown(name)} (profiles: {', '.join(NAMES)})") from None


def parsed(profile: Profile) -> dict:
    """Each key's value as stored (``config.parse_value``: the same checks as ``config set``)."""
    return {key: cfg.parse_value(cfg.KEYS[key], value.text) for key, value in profile.values.items()}


def _shown(key: str, value):
    return cfg._shown_value(cfg.KEYS[key], value)


def describe(profile: Profile) -> dict:
    """A profile as ``profile show`` gives it: each value with its source, link and note."""
    values = parsed(profile)
    return {
        "name": profile.name,
        "title": profile.title,
        "about": profile.about,
        "values": [
            {"key": key, "value": _shown(key, values[key]), "default": values[key] == cfg.KEYS[key].default,
             "per_queue": cfg.KEYS[key].per_queue, "documented": bool(value.source),
             "source": value.source or None, "quoted": bool(value.source) and value.quoted,
             "link": value.link or None, "note": value.note or None}
            for key, value in profile.values.items()
        ],
    }


def list_all() -> list[dict]:
    found = []
    for profile in PROFILES.values():
        values = parsed(profile)
        found.append({"name": profile.name, "title": profile.title, "about": profile.about,
                      "differs": [key for key in PROFILE_KEYS if values[key] != cfg.KEYS[key].default]})
    return found


def show(name: str) -> dict:
    return describe(get(name))


# --- over one command's transaction ----------------------------------------------------


def _stored_profile(tx, level: str) -> str | None:
    row = tx.q("SELECT value FROM config WHERE queue = ? AND key = ?", level, PROFILE).fetchone()
    return row[0] if row else None


def apply(tx, name: str, queue: str | None = None):
    """Set the profile's values (for one queue: its per-queue keys only), record it, log one event."""
    profile = get(name)
    if queue is not None:
        from .queues import named

        named(tx, queue)
    values = parsed(profile)
    level = queue or ""
    keys = [key for key in PROFILE_KEYS if queue is None or cfg.KEYS[key].per_queue]
    left = [key for key in PROFILE_KEYS if key not in keys]
    changed = []
    for key in keys:
        before = tx.config(key, queue)
        if before != values[key]:
            changed.append({"key": key, "from": _shown(key, before), "to": _shown(key, values[key])})
        cfg.store(tx, key, values[key], level)
    previous = _stored_profile(tx, level)
    tx.q("INSERT INTO config (queue, key, value) VALUES (?, ?, ?)"
         " ON CONFLICT (queue, key) DO UPDATE SET value = excluded.value", level, PROFILE, name)
    tx.event(None, None, previous, name, PROFILE, queue)
    not_set = [{"key": key, "value": _shown(key, tx.config(key)), "profile": _shown(key, values[key])}
               for key in left if tx.config(key) != values[key]]
    return lambda: {"profile": name, "queue": queue, "previous": previous, "changed": changed,
                    "global_not_set": not_set}


def applied(tx) -> tuple[dict | None, dict]:
    """For ``config show``: the profile applied to every queue (or None) and to each queue, each
    with the values of it changed since (``{"key", "profile", "value"}``, as ``config show``
    shows values)."""
    whole, queues = None, {}
    for level, name in tx.q("SELECT queue, value FROM config WHERE key = ? ORDER BY queue", PROFILE):
        profile = PROFILES.get(name)
        if profile is None:  # only a damaged database (``db check`` says so)
            continue
        values = parsed(profile)
        keys = [k for k in PROFILE_KEYS if not level or cfg.KEYS[k].per_queue]
        changed = [{"key": key, "profile": _shown(key, values[key]), "value": _shown(key, tx.config(key, level or None))}
                   for key in keys if tx.config(key, level or None) != values[key]]
        if level:
            queues[level] = {"name": name, "changed": changed}
        else:
            whole = {"name": name, "changed": changed}
    return whole, queues
