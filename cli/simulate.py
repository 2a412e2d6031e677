"""`chatemu simulate MODEL.toml`: a day of customers and virtual agents, through the engine
(docs/simulate.md).  Imported only when the command runs."""

from typing import Annotated, Optional

import typer

from . import render
from .common import JsonOpt, default_db, session


def _until(text: str, start: int) -> int:
    """``--until``: a time (ISO 8601), or a duration from the simulation's start."""
    from chatemu.store.errors import UsageError
    from chatemu.store.timefmt import parse_duration, parse_time

    try:
        return start + parse_duration(text)
    except UsageError:
        pass
    try:
        return parse_time(text)
    except UsageError:
        raise UsageError(f"bad --until {text!r}: use a time (ISO 8601, e.g. 2026-01-05T12:00:00Z)"
                         " or a duration from the simulation's start (e.g. 4h)") from None


def simulate(
    ctx: typer.Context,
    model_file: Annotated[str, typer.Argument(metavar="MODEL", help="The model file (TOML; docs/simulate.md).")],
    until: Annotated[Optional[str], typer.Option(
        "--until", metavar="T", help="Stop before this instant (ISO 8601, or a duration from the simulation's"
        " start); the next run carries on [default: the end of the day, every chat closed].",
        show_default=False)] = None,
    live: Annotated[bool, typer.Option(
        "--live", help="Run on the real clock (or --speed times faster), beside people working their own agents;"
        " Ctrl-C stops, keeping everything so far.")] = False,
    speed: Annotated[float, typer.Option(
        "--speed", metavar="N", help="With --live: N virtual seconds per real second (1: the real clock's pace;"
        " 0.01 to 10000).")] = 1.0,
    commit_every: Annotated[int, typer.Option(
        "--commit-every", metavar="N", help="Commands per SQLite transaction (1: each its own, as separate"
        " command lines run; the result is the same; at most 100000).")] = 2000,
    json: JsonOpt = False,
) -> None:
    """Simulate a day: customers arrive (Poisson), wait, give up, chat and leave; virtual agents
    logged in to their queues take what routing presents them, reply, and wrap up.  Every step
    is an ordinary command on the database's virtual clock, so stats, timeline, events,
    snapshots and export work on the result.  The same model and seed give the same database.

    Prints the queues' figures over the simulated time (as `stats queues`).  A run stopped by
    --until keeps its plan in the database: `simulate` with the same model carries on.

    \b
    Examples:
      chatemu simulate examples/models/small-class.toml
      chatemu simulate examples/models/busy-monday.toml --until 4h --json
      chatemu --db live.db simulate examples/models/small-class.toml --live --speed 10
    """
    import sys

    from chatemu.store import simulate as model_
    from chatemu.store.simulation import SimEngine, Simulation

    from chatemu.store.errors import UsageError

    if not 0.01 <= speed <= 10_000:
        raise UsageError(f"bad --speed {speed}: use 0.01 to 10000")
    if not 1 <= commit_every <= 100_000:
        raise UsageError(f"bad --commit-every {commit_every}: use 1 to 100000")
    if (speed != 1.0) and not live:
        raise UsageError("--speed goes with --live")
    if until is not None:
        _until(until, 0)  # a bad --until is a usage error before anything is changed
    model = model_.load(model_file)
    own = session(ctx)
    path = own.db if own.db is not None else default_db()
    engine = SimEngine(path, "sim-1", connections=own.connections, make_folder=own.db is None)
    engine.batch = 1 if live else commit_every
    with engine.kept_open():
        sim = Simulation(engine, model)
        sim.prepare(live=live)
        limit = None if until is None else _until(until, sim.plan.start)
        progress = None
        if not json and not live and render.use_rich() and sys.stdout.isatty():
            from rich.progress import Progress

            progress = Progress(transient=True, console=render.console())
            task = progress.add_task("simulating", total=max(1, sim.plan.end - sim.plan.start))
            progress.start()
        import signal

        stopping: list[int] = []  # Ctrl-C: stop between two steps, keeping everything and the plan
        try:
            previous = signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
        except ValueError:  # not the main thread (a server's): nothing to catch
            previous = None
        try:
            if live:
                from .simulate_live import run_live

                done = run_live(sim, limit, speed, lambda: bool(stopping))
            else:
                report = None if progress is None else \
                    (lambda now: progress.update(task, completed=min(now - sim.plan.start, sim.plan.end - sim.plan.start)))
                done = sim.run(limit, report, stop=lambda: bool(stopping))
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if progress is not None:
                progress.stop()
        figures = engine.stats_queues(sim.plan.start, None).value
    value = {"start": _time(sim.plan.start), "now": _time(sim.now), "finished": done,
             "customers": sim.plan.arrived, "steps": sim.steps, "events": sim.events,
             "queues": figures["queues"]}
    if json:
        render.emit_json(value)
        return
    how = "day simulated" if done else "stopped; `chatemu simulate` with the same model carries on"
    print(f"{value['start']} to {value['now']}: {sim.plan.arrived} customers, {sim.steps} steps,"
          f" {sim.events} events ({how})")
    render.stats_queues(figures)


def _time(ms: int) -> str:
    from chatemu.store.timefmt import format_time

    return format_time(ms)
