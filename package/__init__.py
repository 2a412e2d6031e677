"""chatemu: a local emulator of a contact-centre agent's webchat inbox.

The Python API's public names are here, imported on first use so that ``import chatemu`` (which
every ``chatemu`` command line does on its way to ``chatemu.cli``) costs nothing::

    from chatemu import Emulator, Refused, UnknownChat, UsageError, ChatemuError, emulated

They are the same objects as ``chatemu.cli.api``'s (docs/python-api.md). The command line is
``chatemu.cli``, the engine ``chatemu.store``.
"""

__all__ = [
    "Emulator", "ChatemuError", "ExpectationFailed", "UsageError", "Refused", "UnknownChat",
    "DatabaseError", "ScenarioFailure", "emulated",
]


def __getattr__(name: str):
    if name in __all__:
        from chatemu.cli import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'chatemu' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
