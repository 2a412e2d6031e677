"""The QA tools: events, expect, explain, run, snapshots, export/import, reset, db.

Top-level commands are plain functions here; ``app`` registers them."""

import sys
from typing import Annotated, Optional

import typer

from chatemu.store.engine import Result
from chatemu.store.errors import UsageError
from chatemu.store.validate import check_seq

from . import render
from .common import ChatId, JsonOpt, engine, session, show, with_examples

def events(
    ctx: typer.Context,
    chat: Annotated[Optional[str], typer.Option("--chat", metavar="ID", help="Only this chat's events.")] = None,
    agent_id: Annotated[Optional[str], typer.Option("--agent", metavar="ID", help="Only this agent's events.")] = None,
    since: Annotated[int, typer.Option("--since", metavar="SEQ", help="Only events after this seq (0 or more).")] = 0,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")] = False,
    json: JsonOpt = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON object per line.")] = False,
) -> None:
    """The event log: every change, in order.

    \b
    Examples:
      chatemu events
      chatemu events --chat C1 --json
      chatemu events --agent agent-2 --since 40
      chatemu events --follow --jsonl
    """
    check_seq("event", since)
    if json and (jsonl or follow):
        raise UsageError("--json prints one array: use --jsonl with --follow")
    if follow and session(ctx).in_run:
        raise UsageError("events --follow runs until Ctrl-C: it cannot be a scenario line")
    if follow and session(ctx).remote is not None:
        from .remote import follow_events as follow_remote

        follow_remote(session(ctx).remote, session(ctx).agent, chat, agent_id, since, jsonl)
        return
    eng = engine(ctx)
    if follow:
        from .follow import follow_events

        follow_events(eng, chat, agent_id, since, jsonl)
        return
    if session(ctx).sink is None:
        # Printed as it is read: only a batch of events in memory, however long the log.
        eng.each_event(lambda found: render.event_stream(found, json, jsonl), chat, agent_id, since)
        return
    result = eng.events(chat, agent_id, since)
    if jsonl:
        for item in result.value:
            render.emit_json(item)
        return
    show(ctx, result, json, lambda r: render.events(r.value))


def refusals(
    ctx: typer.Context,
    agent_id: Annotated[Optional[str], typer.Option("--agent", metavar="ID", help="Only this agent's refusals.")] = None,
    since: Annotated[int, typer.Option("--since", metavar="SEQ", help="Only refusals after this seq (0 or more).")] = 0,
    json: JsonOpt = False,
) -> None:
    """The journal of refusals: each command that would have changed something and was refused.

    A command refused by the model (exit 3) or naming something unknown (exit 4)
    changes nothing; its command line, the acting agent, the exit code and the
    message are kept here, oldest first.  Read-only commands and usage errors are
    not journaled.  Changes nothing.

    \b
    Examples:
      chatemu refusals
      chatemu refusals --agent agent-2
      chatemu refusals --since 12 --json
    """
    check_seq("refusal", since)
    show(ctx, engine(ctx).refusals(agent_id, since), json, lambda r: render.refusals(r.value))


# -- QA tools ---------------------------------------------------------------------------


def expect(
    ctx: typer.Context,
    kind: Annotated[
        str, typer.Argument(metavar="chat|agent|clock|config|inbox|queue|events-since", help="What to check.", show_default=False)
    ],
    checks: Annotated[
        Optional[list[str]],
        typer.Argument(metavar="[ID] FIELD=VALUE...",
                       help="The chat id (or agent id, or config's queue), then fields to compare; for the lists, the items.", show_default=False),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Check fields of a chat, an agent, the clock or the config, or a list: exit 0 if all hold, 1 if not.

    Values are compared as the JSON fields are: null, true/false, numbers,
    strings; durations may be written 40s or 1m and times in any ISO form.
    'config [Q] KEY=VALUE...' compares configuration keys (for queue Q: as a
    chat of Q gets them), each value written as 'config set' takes it, and
    'profile=NAME' the profile applied (docs/profiles.md).
    Lists: 'inbox [ID[:STATE]...]' (the acting agent's open chats, in order),
    'queue NAME [ID[:STATE]...]' (its waiting chats, in the order they would be
    presented), 'events-since SEQ N' (N events after seq SEQ; in a scenario SEQ
    may name a 'mark NAME' line).  Changes nothing.

    \b
    Examples:
      chatemu expect chat C1 state=active-wrapup wrapup_remaining=40s
      chatemu expect agent agent-1 status=wrap-up
      chatemu expect clock now=2026-01-05T09:01:00Z
      chatemu expect config profile=connect offer-timeout=20s
      chatemu expect inbox C1:parked C2:new
      chatemu expect queue sales C3 C4
    """
    from .expect import run_expect

    code = run_expect(ctx, kind, checks, json)
    if code:
        raise typer.Exit(code)


def explain(ctx: typer.Context, chat_id: ChatId, json: JsonOpt = False) -> None:
    """Why a chat is in its state, and what would move it next.

    \b
    Examples:
      chatemu explain C1
      chatemu explain C1 --json
    """
    show(ctx, engine(ctx).explain(chat_id), json, lambda r: render.explain(r.value))


def run_file(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="A scenario file: one chatemu command per line.")],
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Run every line; exit non-zero if any failed.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per line run.")] = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Run on a new temporary database, its virtual clock at 2026-01-05T09:00:00Z, discarded at the end; the default or named one is not touched.")
    ] = False,
    keep: Annotated[
        Optional[str], typer.Option("--keep", metavar="PATH", help="Run on a new database kept at PATH (which must not exist yet); implies --fresh.")
    ] = None,
) -> None:
    """Run a scenario file in one process: each line its own transaction.

    \b
    Examples:
      chatemu run scenario.chatemu
      chatemu run --fresh --quiet scenario.chatemu
      chatemu run --keep case.db scenario.chatemu
      chatemu run - < scenario.chatemu
    """
    from .scenario import fresh_database, run_scenario

    if session(ctx).in_run:
        raise UsageError("a scenario cannot run another scenario")
    remote = session(ctx).remote
    if remote is not None:
        if fresh or keep is not None:
            raise UsageError(f"run {'--keep' if keep is not None else '--fresh'} does not run against a server: "
                             "start the namespace anew with 'reset --yes' (or another --ns)")
        from .remote import run_scenario as run_remote

        code = run_remote(remote, session(ctx).agent, file, keep_going, quiet, json)
        if code:
            raise typer.Exit(code)
        return
    root = ctx.find_root()
    if fresh or keep is not None:
        with fresh_database(keep) as path:
            root.params["db"] = session(ctx).db = path
            code = run_scenario(root, file, keep_going, quiet, json, fresh=path)
    else:
        code = run_scenario(root, file, keep_going, quiet, json)
    if code:
        raise typer.Exit(code)


snapshot_app = typer.Typer(help=with_examples("Whole-state copies inside the database.", "chatemu snapshot save before-call",
                                                          "chatemu snapshot list", "chatemu snapshot restore before-call"), no_args_is_help=True)
SnapName = Annotated[str, typer.Argument(metavar="NAME", help="The snapshot's name.", show_default=False)]


@snapshot_app.command("save")
def snapshot_save(ctx: typer.Context, name: SnapName, json: JsonOpt = False) -> None:
    """Save the whole state (clock, config, agents, chats, timers, events) as NAME.

    \b
    Examples:
      chatemu snapshot save before-call
    """
    result = engine(ctx).snapshot_save(name)
    verb = "replaced" if result.value["replaced"] else "saved"
    show(ctx, result, json, lambda r: print(f"snapshot {name} {verb} at {r.value['created_at']}"))


@snapshot_app.command("restore")
def snapshot_restore(ctx: typer.Context, name: SnapName, json: JsonOpt = False) -> None:
    """Return the whole state to snapshot NAME (the clock included).

    \b
    Examples:
      chatemu snapshot restore before-call
    """
    show(ctx, engine(ctx).snapshot_restore(name), json,
         lambda r: print(f"restored snapshot {name} (saved {r.value['created_at']}); now {r.value['now']}"))


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The snapshots in this database.

    \b
    Examples:
      chatemu snapshot list
      chatemu snapshot list --json
    """
    show(ctx, engine(ctx).snapshot_list(), json, lambda r: render.snapshots(r.value))


@snapshot_app.command("delete")
def snapshot_delete(ctx: typer.Context, name: SnapName, json: JsonOpt = False) -> None:
    """Delete snapshot NAME.

    \b
    Examples:
      chatemu snapshot delete before-call
    """
    show(ctx, engine(ctx).snapshot_delete(name), json, lambda r: print(f"deleted snapshot {name}"))


def export(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="Where to write the bundle; - for stdout.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    pretty: Annotated[bool, typer.Option("--pretty", help="Indented, with an ISO time beside each time in milliseconds (import reads both forms).")] = False,
) -> None:
    """Write the whole database as one JSON bundle (a bug report in one file).

    Canonical JSON: keys sorted, rows in key order, so exporting what was imported
    gives the same bytes.  The default is compact; --pretty indents it for reading
    and adds each time as ISO 8601 (created_at_iso beside created_at_ms).

    \b
    Examples:
      chatemu export bug.json
      chatemu export --pretty bug.json
      chatemu export - | gzip > bug.json.gz
    """
    remote = session(ctx).remote
    if remote is not None:  # the bundle of the server's namespace, written here
        from .files import writing
        from .remote import export as export_remote

        if file == "-":
            export_remote(remote, session(ctx).agent, pretty, sys.stdout.write)
            return
        with writing(file, force) as write:
            export_remote(remote, session(ctx).agent, pretty, write)
        return
    eng = engine(ctx)
    if file == "-":
        # Through stdout's escaping, which writes DEL, C1 and bidirectional controls as JSON
        # escapes: the same values, and nothing a terminal would act on.
        eng.export(sys.stdout.write, pretty)
        return
    from .files import check_target, writing

    check_target(file, force, eng.path)  # refused before the database is even opened
    with writing(file, force, eng.path) as write:
        eng.export(write, pretty)


def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="A bundle made by export; - for stdin.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace the current state (the snapshots are kept).")] = False,
    replace_snapshots: Annotated[
        bool, typer.Option("--replace-snapshots", help="Delete the database's snapshots too (the bundle's are kept).")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Load a bundle into an empty database (or replace the state with --replace).

    The bundle's snapshots are added to the database's; one with the name of a
    snapshot already there replaces it.

    \b
    Examples:
      chatemu --db replay.db import bug.json
      chatemu import --replace bug.json
      gunzip -c bug.json.gz | chatemu import --replace -
    """
    from .files import reading

    remote = session(ctx).remote
    if remote is not None:  # a bundle of this machine into the server's namespace
        from .remote import import_ as import_remote

        with reading(file) as (source, where):
            text = source.read()
        value = import_remote(remote, session(ctx).agent, text, where, replace, replace_snapshots)
        if json:
            render.emit_json(value)
        else:
            print(_imported(value))
        return
    with reading(file) as (source, where):
        result = engine(ctx).import_(source, where, replace, replace_snapshots)
    show(ctx, result, json, lambda r: print(_imported(r.value)))


def _imported(value: dict) -> str:
    line = (f"imported {value['imported']}: {value['chats']} chat(s), {value['events']} event(s), "
            f"{value['snapshots']} snapshot(s); now {value['now']}")
    gone = value["replaced"]
    if any(gone.values()):
        line += f"; replaced {gone['chats']} chat(s), {gone['events']} event(s), {gone['snapshots']} snapshot(s)"
    if value["snapshots_kept"]:
        line += f"; kept {value['snapshots_kept']} snapshot(s)"
    return line


def reset(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    keep_snapshots: Annotated[bool, typer.Option("--keep-snapshots", help="Keep the snapshots.")] = False,
    json: JsonOpt = False,
) -> None:
    """Empty the database: a new virtual clock, no agents, chats or events.

    \b
    Examples:
      chatemu reset
      chatemu reset --yes --keep-snapshots
    """
    eng = engine(ctx)
    if not yes:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("reset asks for confirmation on a terminal: not on one, so add --yes")
        if not typer.confirm(f"Empty {eng.path}? Every chat, agent and event is lost", default=False):
            print("nothing changed")
            raise typer.Exit(1)
    show(ctx, eng.reset(keep_snapshots), json, lambda r: print(f"reset {eng.path}; clock {r.value['now']} (virtual)"))


db_app = typer.Typer(help=with_examples("The database file: check its invariants, show its path.", "chatemu db path",
                                                  "chatemu db check"), no_args_is_help=True)


@db_app.command("check")
def db_check(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Check every invariant; print each violation. Exit 0 clean, 1 violations, 5 not chatemu's.

    Reads the file as the next command would read it; never creates it.

    \b
    Examples:
      chatemu db check
      chatemu --db bug.db db check --json
    """
    from chatemu.store.check import check_path

    path = engine(ctx).path
    problems = check_path(path)
    show(ctx, Result({"db": path, "ok": not problems, "violations": problems}), json,
         lambda r: print(f"{path}: clean") if not problems else [print(p) for p in problems])
    if problems:
        raise typer.Exit(1)


@db_app.command("path")
def db_path(ctx: typer.Context, json: JsonOpt = False) -> None:
    """Show which database file commands use (--db, CHATEMU_DB or the default).

    \b
    Examples:
      chatemu db path
      CHATEMU_DB=demo.db chatemu db path
    """
    path = engine(ctx).path
    show(ctx, Result({"db": path}), json, lambda r: print(path))
