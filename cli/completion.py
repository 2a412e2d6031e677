"""``chatemu completion bash|zsh|fish``: a shell completion script, printed.

The script completes commands, options (with their descriptions in zsh and fish) and
their values from ``TREE``, a static copy of the command tree kept in this file (so
printing the script builds no parser, and pressing Tab starts no Python), and the names
the database holds (chat ids, queues, agents, break reasons, templates, classification
codes, snapshots) by running ``chatemu completion --names KIND``, which reads the
database the command line names with ``--db`` (or ``CHATEMU_DB``) and creates nothing.

``TREE`` is generated from the live command tree by the cog block below; after
adding or changing a command, refresh it with::

    .venv/bin/python -m cogapp -r cli/completion.py

(tests/test_conventions_more.py fails while it is stale).  One function,
``_chatemu_candidates``, in POSIX shell, does the work for every shell: bash
and zsh run it in the shell itself, fish through ``sh``.
"""

import re
from typing import Annotated, Optional

import typer

SHELLS = ("bash", "zsh", "fish")
#: What ``--names`` lists: the names the database holds of each kind.
NAMES = ("chat", "queue", "agent", "reason", "template", "code", "snapshot")
#: Options whose value is one of the database's names, by the option's parameter name.
_OPTION_NAMES = {"chat": "chat", "chats": "chat", "queue": "queue", "agent": "agent", "agent_id": "agent",
                 "agents": "agent", "reason": "reason", "template": "template"}
#: Arguments whose value is one of the database's names: (command path, parameter) → kind.
_ARGUMENT_NAMES = {
    ("agent status", "agent_id"): "agent", ("agent queues set", "queues"): "queue",
    ("agent queues on", "queue"): "queue", ("agent queues off", "queue"): "queue", ("queue show", "name"): "queue",
    ("break-reason remove", "reason"): "reason", ("template remove", "name"): "template",
    ("chat classify", "code"): "code", ("classification remove", "code"): "code",
    ("snapshot restore", "name"): "snapshot", ("snapshot delete", "name"): "snapshot",
}
HELP_OPTION = "Show this message and exit"

#: Each command path ("" for the root, "chat new", "agent queues set") → (subcommands,
#: options, options taking a value, those whose value is a file, options whose value is one of
#: the database's names → its kind (``NAMES``), options with a fixed set of values → the values,
#: what each positional argument is: a kind of ``NAMES``, "file", "choice:A|B|C",
#: "expect-subject" or "-" (anything), each option → its description).
# [[[cog
# from chatemu.cli.completion import live_tree, as_source
# cog.out(as_source(live_tree()))
# ]]]
TREE = {
    '': (['chat', 'agent', 'queue', 'break-reason', 'clock', 'config', 'profile', 'template', 'classification', 'contact', 'stats', 'events', 'refusals', 'expect', 'explain', 'timeline', 'console', 'watch', 'run', 'drill', 'simulate', 'snapshot', 'export', 'import', 'reset', 'db', 'serve', 'token', 'webhook', 'completion'], ['--db', '--agent', '--server', '--ns', '--token', '--version', '--help', '-h'], ['--db', '--agent', '--server', '--ns', '--token'], ['--db'], {'--agent': 'agent'}, {}, [], {'--db': 'The database file', '--agent': 'The agent this command acts as', '--server': 'Run the command on the chatemu server at URL (chatemu serve) instead of a database file', '--ns': "The server's namespace to use", '--token': "The server's bearer token (chatemu token add)", '--version': 'Show the version and exit', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat': (['new', 'take', 'activate', 'park', 'end', 'wrapup', 'send', 'receive', 'transcript', 'return', 'transfer', 'classify', 'flag-abusive', 'contact', 'call-start', 'call-end', 'list', 'show'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat new': ([], ['--customer', '--queue', '--priority', '--id', '--inbox', '--patience', '--json', '--help', '-h'], ['--customer', '--queue', '--priority', '--id', '--patience'], [], {'--queue': 'queue'}, {}, [], {'--customer': "The customer's name", '--queue': 'The queue the chat waits in', '--priority': 'Higher is presented first', '--id': "The chat's id", '--inbox': "Put it straight into the agent's inbox as new", '--patience': 'This customer leaves (abandoned) if still queued after D', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat take': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat activate': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat park': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat end': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat wrapup': ([], ['--extend', '--finish', '--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--extend': 'Add one wrap-up extension', '--finish': 'End wrap-up now; the chat closes', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat send': ([], ['--template', '--json', '--help', '-h'], ['--template'], [], {'--template': 'template'}, {}, ['chat', '-'], {'--template': "Send this template's text instead", '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat receive': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat', '-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat transcript': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat return': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat transfer': ([], ['--queue', '--agent', '--json', '--help', '-h'], ['--queue', '--agent'], [], {'--queue': 'queue', '--agent': 'agent'}, {}, ['chat'], {'--queue': 'Queue it in queue Q', '--agent': "Put it, new, in agent A's inbox", '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat classify': ([], ['--note', '--json', '--help', '-h'], ['--note'], [], {}, {}, ['chat', 'code'], {'--note': 'Additional text for the contact history', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat flag-abusive': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat contact': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat', '-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat call-start': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat call-end': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat list': ([], ['--all', '--state', '--queue', '--ids', '--json', '--help', '-h'], ['--state', '--queue'], [], {'--queue': 'queue'}, {'--state': ['queued', 'new', 'active', 'parked', 'active-wrapup', 'parked-wrapup', 'closed']}, [], {'--all': 'Every chat in the database, in id order', '--state': 'Only chats in this state (queued or closed: every chat in it, as no inbox holds one)', '--queue': 'Only chats of this queue', '--ids': "Print only the chats' ids, one per line (with --json: one array)", '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'chat show': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent': (['status', 'list', 'available', 'break', 'login', 'logout', 'disconnect', 'queues'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent status': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['agent'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent list': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent available': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent break': ([], ['--reason', '--json', '--help', '-h'], ['--reason'], [], {'--reason': 'reason'}, {}, [], {'--reason': 'One of the break reasons (`chatemu break-reason list`)', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent login': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent logout': ([], ['--return', '--json', '--help', '-h'], [], [], {}, {}, [], {'--return': "First return the agent's new, active and parked chats to their queues", '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent disconnect': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent queues': (['set', 'clear', 'on', 'off'], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent queues set': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['queue'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent queues clear': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent queues on': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['queue'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'agent queues off': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['queue'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'queue': (['add', 'list', 'show'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'queue add': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'queue list': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'queue show': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['queue'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'break-reason': (['list', 'add', 'remove'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'break-reason list': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'break-reason add': ([], ['--limit', '--json', '--help', '-h'], ['--limit'], [], {}, {}, ['-'], {'--limit': 'A break for it longer than D overruns (off: no limit); set again for a listed reason', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'break-reason remove': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['reason'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'clock': (['advance', 'set', 'real', 'virtual'], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'clock advance': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'clock set': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'clock real': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'clock virtual': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'config': (['show', 'set'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'config show': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'config set': ([], ['--queue', '--agent', '--json', '--help', '-h'], ['--queue', '--agent'], [], {'--queue': 'queue', '--agent': 'agent'}, {}, ['choice:wrapup|wrapup-extension|wrapup-extensions|max-chats|auto-present|classification|classification-required|routing|service-level|break-reasons|offer-timeout|patience|reply-alert|customer-idle-timeout|max-queue-length|when-no-agent|wrapup-mode|timeout-classification|call-parks-chats', '-'], {'--queue': 'Set it for this queue only (wrap-up, classification and service-level keys)', '--agent': 'Set it for this agent only (max-chats)', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'profile': (['list', 'show', 'apply'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'profile list': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'profile show': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'profile apply': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], {'--queue': 'queue'}, {}, ['-'], {'--queue': "Set the profile's per-queue keys for this queue only; its global keys (max-chats, call-parks-chats) are left as they are, and named", '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'template': (['add', 'list', 'remove'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'template add': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], {'--queue': 'queue'}, {}, ['-', '-'], {'--queue': 'For queue Q only', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'template list': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], {'--queue': 'queue'}, {}, [], {'--queue': 'What a chat of queue Q would use', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'template remove': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], {'--queue': 'queue'}, {}, ['template'], {'--queue': 'For queue Q only', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'classification': (['add', 'list', 'remove'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'classification add': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], {'--queue': 'queue'}, {}, ['-'], {'--queue': 'For queue Q only', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'classification list': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], {'--queue': 'queue'}, {}, [], {'--queue': 'The codes a chat of queue Q may use', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'classification remove': ([], ['--queue', '--json', '--help', '-h'], ['--queue'], [], {'--queue': 'queue'}, {}, ['code'], {'--queue': 'For queue Q only', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'contact': (['history'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'contact history': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'stats': (['agents', 'queues'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'stats agents': ([], ['--since', '--until', '--json', '--help', '-h'], ['--since', '--until'], [], {}, {}, [], {'--since': 'Start of the window (ISO 8601, no zone means UTC)', '--until': 'End of the window, not included', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'stats queues': ([], ['--since', '--until', '--json', '--help', '-h'], ['--since', '--until'], [], {}, {}, [], {'--since': 'Start of the window (ISO 8601, no zone means UTC)', '--until': 'End of the window, not included', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'events': ([], ['--chat', '--agent', '--since', '--follow', '-f', '--json', '--jsonl', '--help', '-h'], ['--chat', '--agent', '--since'], [], {'--chat': 'chat', '--agent': 'agent'}, {}, [], {'--chat': "Only this chat's events", '--agent': "Only this agent's events", '--since': 'Only events after this seq (0 or more)', '--follow': 'Keep printing new events until Ctrl-C', '-f': 'Keep printing new events until Ctrl-C', '--json': 'Print one JSON document on stdout', '--jsonl': 'One JSON object per line', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'refusals': ([], ['--agent', '--since', '--json', '--help', '-h'], ['--agent', '--since'], [], {'--agent': 'agent'}, {}, [], {'--agent': "Only this agent's refusals", '--since': 'Only refusals after this seq (0 or more)', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'expect': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['choice:chat|agent|clock|config|inbox|queue|events-since', 'expect-subject'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'explain': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['chat'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'timeline': ([], ['--chat', '--agent', '--from', '--to', '--limit', '--output', '-o', '--force', '--help', '-h'], ['--chat', '--agent', '--from', '--to', '--limit', '--output', '-o'], ['--output', '-o'], {'--chat': 'chat', '--agent': 'agent'}, {}, [], {'--chat': 'Show this chat (repeat for more)', '--agent': "Show this agent's status and the chats it acted on (repeat for more)", '--from': 'Start here', '--to': 'End here', '--limit': 'At most N chats, the latest, and N agents (those named are always shown); 1 or more', '--output': 'Write an SVG picture (.svg) or an HTML page (.html)', '-o': 'Write an SVG picture (.svg) or an HTML page (.html)', '--force': 'Overwrite FILE if it exists', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'console': ([], ['--agent', '--help', '-h'], ['--agent'], [], {'--agent': 'agent'}, {}, [], {'--agent': 'Whose inbox', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'watch': ([], ['--agent', '--help', '-h'], ['--agent'], [], {'--agent': 'agent'}, {}, [], {'--agent': 'Follow this agent only', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'run': ([], ['--keep-going', '--quiet', '-q', '--json', '--fresh', '--keep', '--help', '-h'], ['--keep'], ['--keep'], {}, {}, ['file'], {'--keep-going': 'Run every line; exit non-zero if any failed', '--quiet': 'Print nothing but errors', '-q': 'Print nothing but errors', '--json': 'One JSON object per line run', '--fresh': 'Run on a new temporary database, its virtual clock at 2026-01-05T09:00:00Z, discarded at the end; the default or named one is not touched', '--keep': 'Run on a new database kept at PATH (which must not exist yet); implies --fresh', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'drill': ([], ['--timeout', '--json', '--help', '-h'], ['--timeout'], [], {}, {}, ['file'], {'--timeout': 'Give up after this long on the wall clock (exit 1, naming the step), e.g', '--json': 'Print nothing but the report, as one JSON document', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'simulate': ([], ['--until', '--live', '--speed', '--commit-every', '--json', '--help', '-h'], ['--until', '--speed', '--commit-every'], [], {}, {}, ['-'], {'--until': "Stop before this instant (ISO 8601, or a duration from the simulation's start); the next run carries on", '--live': 'Run on the real clock (or --speed times faster), beside people working their own agents; Ctrl-C stops, keeping everything so far', '--speed': "With --live: N virtual seconds per real second (1: the real clock's pace; 0.01 to 10000)", '--commit-every': 'Commands per SQLite transaction (1: each its own, as separate command lines run; the result is the same; at most 100000)', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'snapshot': (['save', 'restore', 'list', 'delete'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'snapshot save': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'snapshot restore': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['snapshot'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'snapshot list': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'snapshot delete': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['snapshot'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'export': ([], ['--force', '--pretty', '--help', '-h'], [], [], {}, {}, ['file'], {'--force': 'Overwrite FILE if it exists', '--pretty': 'Indented, with an ISO time beside each time in milliseconds (import reads both forms)', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'import': ([], ['--replace', '--replace-snapshots', '--json', '--help', '-h'], [], [], {}, {}, ['file'], {'--replace': 'Replace the current state (the snapshots are kept)', '--replace-snapshots': "Delete the database's snapshots too (the bundle's are kept)", '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'reset': ([], ['--yes', '-y', '--keep-snapshots', '--json', '--help', '-h'], [], [], {}, {}, [], {'--yes': 'Do not ask', '-y': 'Do not ask', '--keep-snapshots': 'Keep the snapshots', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'db': (['check', 'path'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'db check': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'db path': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'serve': ([], ['--host', '--port', '--data-dir', '--help', '-h'], ['--host', '--port', '--data-dir'], [], {}, {}, [], {'--host': 'The address to listen on', '--port': 'The port (up to 65535); 0 picks a free one', '--data-dir': "The folder of the namespaces' databases (NS.db each)", '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'token': (['add', 'list', 'revoke'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'token add': ([], ['--data-dir', '--ns', '--role', '--agent', '--json', '--help', '-h'], ['--data-dir', '--ns', '--role', '--agent'], [], {'--agent': 'agent'}, {}, [], {'--data-dir': "The server's data folder (NS.db files and .tokens.db)", '--ns': 'The namespace (a-z, 0-9 and -)', '--role': 'trainer, agent or customer', '--agent': 'The agent an agent token acts as (agent only)', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'token list': ([], ['--data-dir', '--json', '--help', '-h'], ['--data-dir'], [], {}, {}, [], {'--data-dir': "The server's data folder (NS.db files and .tokens.db)", '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'token revoke': ([], ['--data-dir', '--json', '--help', '-h'], ['--data-dir'], [], {}, {}, ['-'], {'--data-dir': "The server's data folder (NS.db files and .tokens.db)", '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'webhook': (['add', 'list', 'delete', 'enable', 'deliveries'], ['--help', '-h'], [], [], {}, {}, [], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'webhook add': ([], ['--secret', '--json', '--help', '-h'], ['--secret'], [], {}, {}, ['-', '-'], {'--secret': 'The signing secret (whsec_ and the base64 of 24 to 64 bytes)', '--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'webhook list': ([], ['--json', '--help', '-h'], [], [], {}, {}, [], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'webhook delete': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'webhook enable': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'webhook deliveries': ([], ['--json', '--help', '-h'], [], [], {}, {}, ['-'], {'--json': 'Print one JSON document on stdout', '--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
    'completion': ([], ['--help', '-h'], [], [], {}, {}, ['choice:bash|zsh|fish'], {'--help': 'Show this message and exit', '-h': 'Show this message and exit'}),
}
# [[[end]]]


def live_tree() -> dict:
    """``TREE`` as the live command line has it (every command module imported: slow, for cog
    and tests only)."""
    from chatemu.store.config import KEYS

    from .app import ORDER, root_command

    tree: dict = {}

    def visit(command, path: str) -> None:
        subcommands = [] if not hasattr(command, "commands") else [
            name for name in (ORDER if path == "" else command.commands)
            if name in command.commands and not command.commands[name].hidden]
        options, valued, files, names, choices, positional, helps = [], [], [], {}, {}, [], {}
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            metavar = param.metavar or ""
            if param.param_type_name == "option":
                names_ = [*param.opts, *param.secondary_opts]
                options += names_
                helps.update({name: _description(param.help) for name in names_})
                if param.is_flag or param.count:
                    continue
                valued += names_
                if "FILE" in metavar or "PATH" in metavar:
                    files += names_
                if param.name in _OPTION_NAMES:
                    names.update({name: _OPTION_NAMES[param.name] for name in names_})
                if param.name == "state":
                    from chatemu.store.core import STATES

                    choices.update({name: list(STATES) for name in names_})
                elif hasattr(param.type, "choices"):
                    choices.update({name: list(param.type.choices) for name in names_})
            elif param.name == "chat_id":
                positional.append("chat")
            elif (path, param.name) in _ARGUMENT_NAMES:
                positional.append(_ARGUMENT_NAMES[path, param.name])
            elif "FILE" in metavar:
                positional.append("file")
            elif path == "config set" and param.name == "key":
                positional.append("choice:" + "|".join(KEYS))
            elif path == "expect" and param.name == "checks":
                positional.append("expect-subject")
            elif "|" in metavar:
                positional.append("choice:" + metavar.strip("[]"))
            else:
                positional.append("-")
        options += ["--help", "-h"]
        helps.update({"--help": HELP_OPTION, "-h": HELP_OPTION})
        tree[path] = (subcommands, options, valued, files, names, choices, positional, helps)
        for name in subcommands:
            visit(command.commands[name], f"{path} {name}".strip())

    visit(root_command(), "")
    return tree


def _description(text: Optional[str]) -> str:
    """An option's help as a completion shows it: its first sentence, without its default."""
    text = " ".join(re.sub(r"\s*\[default:[^\]]*\]", "", text or "").split())
    return re.split(r"(?<=[^.])\. ", text)[0].rstrip(".")


def as_source(tree: dict) -> str:
    """``tree`` as the Python source of ``TREE``, one command per line."""
    lines = ["TREE = {\n"]
    for path, entry in tree.items():
        lines.append(f"    {path!r}: {entry!r},\n")
    lines.append("}\n")
    return "".join(lines)


# -- the scripts --------------------------------------------------------------------------


def _words(items) -> str:
    return " ".join(items)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def candidates_function() -> str:
    """``_chatemu_candidates WORD... CURRENT``: what may stand where CURRENT is being typed
    after ``chatemu WORD...``, one per line (``__files__``: a file name; an option is followed
    by a tab and its description).  POSIX shell."""
    cases, helps = [], []
    for path, (subcommands, options, valued, files, names, choices, positional, described) in TREE.items():
        values = " ".join(f"{option}={'|'.join(found)}" for option, found in choices.items())
        kinds = " ".join(f"{option}={kind}" for option, kind in names.items())
        cases.append(
            f"    '{path}') _c='{_words(subcommands)}'; _o='{_words(options)}'; _v='{_words(valued)}';"
            f" _f='{_words(files)}'; _h='{kinds}'; _k='{values}'; _a='{_words(positional)}';;\n")
        helps += [f"    {_quoted(f'{path}|{option}')}) _d={_quoted(text)};;\n"
                  for option, text in described.items() if text]
    return _CANDIDATES.replace("@CASES@", "".join(cases)).replace("@HELPS@", "".join(helps))


_CANDIDATES = r"""_chatemu_node() {
  _c=''; _o=''; _v=''; _f=''; _h=''; _k=''; _a=''
  case $1 in
@CASES@  esac
}

_chatemu_option() {
  _d=''
  case "$1|$2" in
@HELPS@  esac
  if [ -n "$_d" ]; then printf '%s\t%s\n' "$2" "$_d"; else printf '%s\n' "$2"; fi
}

_chatemu_has() {
  case " $2 " in *" $1 "*) return 0;; esac
  return 1
}

_chatemu_names() {
  case $2 in "~/"*) set -- "$1" "$HOME/${2#"~/"}";; esac
  if [ -n "$2" ]; then
    chatemu --db "$2" completion --names "$1" 2>/dev/null
  else
    chatemu completion --names "$1" 2>/dev/null
  fi
}

_chatemu_candidates() {
  local IFS _c _o _v _f _h _k _a _d _path _db _pending _npos _first _w _pair
  IFS=' '
  _path=''; _db=''; _pending=''; _npos=0; _first=''
  _chatemu_node ''
  while [ $# -gt 1 ]; do
    _w=$1
    shift
    if [ -n "$_pending" ]; then
      [ "$_w" = = ] && continue  # bash splits --db=FILE into --db, =, FILE
      [ "$_pending" = --db ] && _db=$_w
      _pending=''
      continue
    fi
    case $_w in
      --db=*) _db=${_w#--db=}; continue;;
      --db) _pending=--db; continue;;
      -*=*) continue;;
      -*) _chatemu_has "$_w" "$_v" && _pending=$_w; continue;;
    esac
    if [ $_npos -eq 0 ] && [ -n "$_c" ] && _chatemu_has "$_w" "$_c"; then
      _path=${_path:+$_path }$_w
      _chatemu_node "$_path"
      continue
    fi
    _npos=$((_npos + 1))
    [ $_npos -eq 1 ] && _first=$_w
  done
  if [ -n "$_pending" ]; then
    if [ "$_pending" = --db ] || _chatemu_has "$_pending" "$_f"; then
      echo __files__
      return 0
    fi
    for _pair in $_h; do
      [ "${_pair%%=*}" = "$_pending" ] && _chatemu_names "${_pair#*=}" "$_db"
    done
    for _pair in $_k; do
      [ "${_pair%%=*}" = "$_pending" ] && echo "${_pair#*=}" | tr '|' '\n'
    done
    return 0
  fi
  case $1 in
    -*) for _w in $_o; do _chatemu_option "$_path" "$_w"; done; return 0;;
  esac
  if [ -n "$_c" ] && [ $_npos -eq 0 ]; then
    for _w in $_c; do echo "$_w"; done
    return 0
  fi
  set -- $_a
  [ $_npos -lt $# ] || return 0
  shift $_npos
  case $1 in
    chat|queue|agent|reason|template|code|snapshot) _chatemu_names "$1" "$_db";;
    file) echo __files__;;
    expect-subject)
      if [ $_npos -eq 1 ]; then
        case $_first in chat|agent|queue) _chatemu_names "$_first" "$_db";; esac
      fi;;
    choice:*) echo "${1#choice:}" | tr '|' '\n';;
  esac
  return 0
}
"""

_BASH = r"""# chatemu completion for bash: eval "$(chatemu completion bash)" in ~/.bashrc
@CANDIDATES@
_chatemu() {
  local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
  local -a found
  found=($(_chatemu_candidates "${COMP_WORDS[@]:1:COMP_CWORD}"))
  found=("${found[@]%%$'\t'*}")  # an option's description: shown by zsh and fish only
  if [ "${found[0]}" = __files__ ]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "${found[*]}" -- "$cur"))
  fi
}
complete -F _chatemu chatemu
"""

_ZSH = r"""#compdef chatemu
# chatemu completion for zsh: eval "$(chatemu completion zsh)" in ~/.zshrc, after compinit
@CANDIDATES@
_chatemu_sh() {
  emulate -L sh
  _chatemu_candidates "$@"
}

_chatemu() {
  local -a found names shown
  local line
  found=("${(@f)$(_chatemu_sh "${(@)words[2,CURRENT]}")}")
  found=(${found:#})
  if [[ ${found[1]} == __files__ ]]; then
    _files
    return
  fi
  for line in "${found[@]}"; do
    names+=("${line%%$'\t'*}")
    if [[ $line == *$'\t'* ]]; then
      shown+=("${line%%$'\t'*}  -- ${line#*$'\t'}")
    else
      shown+=("$line")
    fi
  done
  if [[ ${found[*]} == *$'\t'* ]]; then
    compadd -l -d shown -- "${names[@]}"  # options, one a line, each with its description
  else
    compadd -- "${names[@]}"
  fi
}

if (( $+functions[compdef] )); then
  compdef _chatemu chatemu
fi
"""

_FISH = r"""# chatemu completion for fish: chatemu completion fish > ~/.config/fish/completions/chatemu.fish
function __chatemu_complete
    set -l words (commandline -opc) (commandline -ct)
    set -e words[1]
    set -l found (sh -c '@CANDIDATES@
_chatemu_candidates "$@"' chatemu $words)
    if test "$found[1]" = __files__
        __fish_complete_path (commandline -ct)
        return
    end
    printf '%s\n' $found
end
complete -c chatemu -f -a '(__chatemu_complete)'
"""


def script(shell: str) -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    body = candidates_function()
    if shell == "fish":
        return _FISH.replace("@CANDIDATES@", body.replace("\\", "\\\\").replace("'", "\\'"))
    return {"bash": _BASH, "zsh": _ZSH}[shell].replace("@CANDIDATES@", body)


def names(engine, kind: str) -> list[str]:
    """The names of ``kind`` (``NAMES``) the database holds, for the completion scripts."""
    if kind == "chat":
        return engine.chat_ids(True).value
    if kind == "queue":
        return [queue["name"] for queue in engine.queue_list().value]
    if kind == "agent":
        return [agent["id"] for agent in engine.agent_list().value]
    if kind == "reason":
        return engine.break_reason_list().value
    if kind == "template":
        return sorted({template["name"] for template in engine.template_list().value})
    if kind == "code":
        return sorted({code["code"] for code in engine.classification_list().value})
    return [snapshot["name"] for snapshot in engine.snapshot_list().value]


def _print_names(ctx: typer.Context, kind: Optional[str]) -> None:
    """``--names KIND``, what the scripts run as Tab is pressed: the names, one per line; read
    before anything else on the line is (eager), so no shell need be named."""
    if kind is None:
        return
    from chatemu.store.errors import UsageError

    from .common import engine

    if kind not in NAMES:
        raise UsageError(f"--names takes one of {', '.join(NAMES)}")
    for name in names(engine(ctx), kind):
        print(name)
    raise typer.Exit()


def completion(
    shell: Annotated[str, typer.Argument(metavar="bash|zsh|fish", help="The shell.", show_default=False)],
    kind: Annotated[Optional[str], typer.Option("--names", hidden=True, is_eager=True, callback=_print_names)] = None,
) -> None:
    """Print a shell completion script: commands, options and the names the database holds complete on Tab.

    Chat ids, queues, agents, break reasons, templates, classification codes and
    snapshots come from the database the command line names with --db (or
    CHATEMU_DB, or the default), read as Tab is pressed; nothing is created.  zsh
    and fish show each option's description.

    \b
    Examples:
      eval "$(chatemu completion bash)"
      eval "$(chatemu completion zsh)"
      chatemu completion fish > ~/.config/fish/completions/chatemu.fish
    """
    from chatemu.store.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"no completion for {shell!r} (shells: {', '.join(SHELLS)})")
    print(script(shell), end="")
