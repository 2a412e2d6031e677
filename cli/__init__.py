"""chatemu's command line (``chatemu.cli``): parse, call the engine, render."""
