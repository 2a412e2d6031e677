"""``python -m chatemu``: the same as the ``chatemu`` command."""

from chatemu.cli.app import run

if __name__ == "__main__":
    run()
