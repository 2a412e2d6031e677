"""`chatemu simulate --live`: the simulation on the real clock (or N times faster on the virtual
one) while people work their own agents beside it."""

import time

from chatemu.store import clock


def run_live(sim, until, speed: float, stop) -> bool:
    """Take the plan's steps when their instant comes; True when the plan is done.

    At ``--speed 1`` the database's clock is made real (it runs on from its instant) and the
    steps wait for it; at any other speed it is made virtual and moved forward here, every
    tenth of a second, ``speed`` times as fast as the wall clock.  Between steps the event
    log is followed, so chats that people's agents are presented, take or close are seen."""
    engine = sim.engine
    real = speed == 1.0
    mode = clock.REAL if real else clock.VIRTUAL
    if sim.real != real:
        engine._run(clock.set_mode, mode, acting=False)
        sim.real = real
    base_wall, base = time.monotonic(), max(sim.now, _now(engine))

    def virtual_now() -> int:
        return base + int((time.monotonic() - base_wall) * 1000 * speed)

    def pace(at: int) -> None:
        while not stop():
            now = virtual_now()
            if now >= at:
                return
            if not real and now > sim.now + 100 * speed:
                sim._clock(now)  # people's commands happen at about the right instant
            sim.poll()
            time.sleep(min(0.1, (at - now) / speed / 1000))

    return sim.run(until, pace=pace, stop=stop)


def _now(engine) -> int:
    from chatemu.store.timefmt import parse_time

    return parse_time(engine._read(clock.show).value["now"])
