"""chatemu's engine: a pure core (``core``, ``timefmt``) and a SQLite shell (``engine``)."""
