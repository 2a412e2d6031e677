"""``python -m chatemu``: the same as the ``chatemu`` command.

``chatemu`` is a namespace package (its code is ``chatemu.cli`` and ``chatemu.store``);
this module is its one top-level file, mapped from ``top/`` by pyproject.toml.
"""

from chatemu.cli.app import run

if __name__ == "__main__":
    run()
