"""``chatemu --server URL [--ns NS] [--token T] COMMAND…``: the command line against a server
(docs/server.md).  Imported only when a server is named (``--server`` or ``CHATEMU_SERVER``):
a local command never pays for it.

Each command line goes to ``POST /v1/ns/NS/cli`` and ends as the server says it would: the same
stdout, the same ``error:`` line, the same exit code.  ``run FILE`` reads the file here and sends
it to ``POST /v1/ns/NS/run``, printing what ``run`` prints from the records it answers.
``events --follow`` follows ``GET /events/stream``.  ``export`` and ``import`` read and write
their file here and the bundle goes by ``GET /export`` and ``PUT /import``.  ``token`` and
``completion`` run here (they are about this machine's files and shell); the
commands that take over a terminal or read and write the database's own files are refused."""

from __future__ import annotations

import os
from typing import Optional

from .app import REMOTE, WITH_VALUE

DEFAULT_NS = "default"
#: Run on this machine even with a server named.
HERE = ("token", "completion")
#: Refused with a server named, and why.
NOT_REMOTE = {
    "console": "it runs on a database of this machine (--db)",
    "watch": "it runs on a database of this machine (--db)",
    "drill": "it runs on a database of this machine (--db)",
    "serve": "it starts a server of its own",
    "simulate": "it reads a model file of this machine and runs on a database of this machine (--db)",
}


def command_words(argv: list[str]) -> list[str]:
    """``argv`` after its root ``--db`` and ``--agent`` options: the command and its words."""
    from .common import root_options

    spans = root_options(argv)
    return argv[spans[-1][1] if spans else 0:]


class Remote:
    """Where a command line goes: the server's base URL, the namespace, the token (or None)."""

    def __init__(self, server: str, ns: str, token: Optional[str]):
        self.server, self.ns, self.token = server, ns, token


def split(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """The root ``--server``, ``--ns`` and ``--token`` values given (the last of each), and the
    command line without them.  An option missing its value is a usage error."""
    from chatemu.store.errors import UsageError

    given, rest, at = {}, [], 0
    while at < len(argv) and argv[at].partition("=")[0] in WITH_VALUE:
        name, equals, value = argv[at].partition("=")
        if not equals:
            if at + 1 >= len(argv):
                raise UsageError(f"Option '{name}' requires an argument.")
            value = argv[at + 1]
        stop = at + (1 if equals else 2)
        if name in REMOTE:
            given[name] = value
        else:
            rest += argv[at:stop]
        at = stop
    return given, rest + argv[at:]


def resolve(argv: list[str]) -> tuple[Optional[Remote], list[str]]:
    """The server a command line names and the command line to run there (None: run here)."""
    from chatemu.store.errors import UsageError

    given, rest = split(argv)
    server = given.get("--server") or os.environ.get("CHATEMU_SERVER") or None
    if server is None:
        named = next(name for name in REMOTE if name in given)
        raise UsageError(f"{named} is for a server: give --server URL (or set CHATEMU_SERVER)")
    if not server.startswith(("http://", "https://")):
        raise UsageError(f"--server {server}: a server is an http:// or https:// URL")
    ns = given.get("--ns") or os.environ.get("CHATEMU_NS") or DEFAULT_NS
    token = given.get("--token") or os.environ.get("CHATEMU_TOKEN") or None
    command = command_words(rest)[:1]
    if not command or command[0] in HERE:  # no command: the root's help, as here
        return None, rest
    if any(word == "--db" or word.startswith("--db=") for word in rest):
        raise UsageError("--db and --server: on a server the namespace (--ns) is the database")
    if command[0] in NOT_REMOTE:
        raise UsageError(f"{command[0]} does not run against a server: {NOT_REMOTE[command[0]]}")
    return Remote(server.rstrip("/"), ns, token), rest


#: Parsed here, as locally; their command then sends its file to the server (``session.remote``).
PARSED_HERE = ("run", "export", "import")


def runs_here(argv: list[str]) -> bool:
    """Whether ``argv`` (without the server's options) is one of ``PARSED_HERE``, or
    ``events --follow`` (which follows ``GET /events/stream``)."""
    words = command_words(argv)
    return words[:1] in [[word] for word in PARSED_HERE] or (
        words[:1] == ["events"] and any(word in ("-f", "--follow") for word in words[1:]))


def call(remote: Remote, argv: list[str]) -> tuple[int, list[str]]:
    """Run ``argv`` on the server: its stdout printed here; the exit code and error lines back."""
    import sys

    from chatemu.server.client import call as call_server

    words = command_words(argv)
    if (words[:1] == ["reset"] and not {"--yes", "-y", "--help", "-h"} & set(words)
            and sys.stdin.isatty() and sys.stdout.isatty()):  # asked here, where the terminal is
        import typer

        if not typer.confirm(f"Empty the namespace {remote.ns} on {remote.server}? Every chat, agent and event is lost",
                             default=False):
            print("nothing changed")
            return 1, []
        argv = argv + ["--yes"]
    code, out, lines = call_server(remote.server, remote.ns, argv, agent=os.environ.get("CHATEMU_AGENT") or None,
                                   token=remote.token)
    sys.stdout.write(out)
    return code, lines


def run_scenario(remote: Remote, agent: str, file: str, keep_going: bool, quiet: bool, as_json: bool) -> int:
    """``chatemu run FILE`` on the server: the file read here, run by ``POST /run``, each line's
    record printed as ``run`` prints it."""
    from chatemu.server.client import send

    from . import render
    from .files import read_file
    from .scenario import report

    text, where = read_file(file)
    code, answer = send(remote.server, remote.ns, "run", text.encode("utf-8"), "text/plain; charset=utf-8",
                        token=remote.token, agent=agent, query="keep_going=true" if keep_going else "", timeout=600)
    records = answer if not code else answer.get("lines")
    if not isinstance(records, list):  # refused before any line ran
        render.error(f"error: {answer['detail']}")
        return code
    for record in records:
        errors = [f"error: {record['error']}"] if "error" in record else []
        report(where, record, errors, quiet, as_json)
    return code


def export(remote: Remote, agent: str, pretty: bool, write) -> None:
    """``chatemu export`` of the namespace: the bundle of ``GET /export``, given to ``write``
    as it comes.  A failure is raised as the command line's error."""
    import codecs

    def copy(response):
        decoder = codecs.getincrementaldecoder("utf-8")()
        while chunk := response.read(1 << 16):
            write(decoder.decode(chunk))
        write(decoder.decode(b"", final=True))

    from chatemu.server.client import send

    code, answer = send(remote.server, remote.ns, "export", None, token=remote.token, agent=agent,
                        query="pretty=true" if pretty else "", method="GET", read=copy, timeout=600)
    _raise(code, answer)


def import_(remote: Remote, agent: str, text: str, where: str, replace: bool, replace_snapshots: bool) -> dict:
    """``chatemu import`` into the namespace: the bundle ``text`` (read from ``where``) sent by
    ``PUT /import``; what ``import --json`` prints, naming ``where`` as a local import does."""
    from chatemu.server.client import send

    query = "&".join(name + "=true" for name, given in (("replace", replace), ("replace_snapshots", replace_snapshots)) if given)
    code, answer = send(remote.server, remote.ns, "import", text.encode("utf-8"), token=remote.token, agent=agent,
                        query=query, method="PUT", timeout=600)
    if code and answer["detail"].startswith("<stdin>"):  # the server read the body: its name is here
        answer["detail"] = where + answer["detail"].removeprefix("<stdin>")
    _raise(code, answer)
    return {**answer, "imported": where}


def _raise(code: int, answer) -> None:
    """A failed request as the command line's error of its exit code."""
    if code:
        from chatemu.store.errors import ChatemuError

        error = ChatemuError(answer["detail"])
        error.exit_code = code
        raise error


def follow_events(remote: Remote, agent: str, chat: Optional[str], agent_id: Optional[str], since: int,
                  jsonl: bool) -> None:
    """``events --follow`` on the namespace: ``GET /events/stream`` from ``since``, each event of
    the chat and agent asked for printed as a local follow prints it, until Ctrl-C.  A stream
    the server ends (it stops, the namespace is deleted) is an error, exit 5."""
    import json
    import sys

    from chatemu.server.client import send

    from . import render
    from .follow import REPLACED, interruptible

    def consume(response):
        kind, data = "message", []
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith(":"):
                continue
            if line:
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    kind = value
                elif field == "data":
                    data.append(value)
                continue
            if kind == "replaced":
                print(REPLACED, file=sys.stderr, flush=True)
            elif kind == "deleted":
                return f"the namespace {remote.ns} was deleted"
            elif data:
                event = json.loads("\n".join(data))
                if (chat is None or event["chat"] == chat) and (agent_id is None or event["agent"] == agent_id):
                    if jsonl:
                        render.emit_json(event)
                    else:
                        print(render.event_line(event))
                    sys.stdout.flush()
            kind, data = "message", []
        return f"the server at {remote.server} ended the event stream"

    interruptible()
    try:
        code, answer = send(remote.server, remote.ns, "events/stream", None, token=remote.token, agent=agent,
                            query=f"since={since}" if since else "", method="GET", read=consume)
    except KeyboardInterrupt:
        return  # Ctrl-C ends a follow: exit 0, quietly
    _raise(code, answer)
    _raise(5, {"detail": answer})
