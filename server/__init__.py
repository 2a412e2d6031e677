"""``chatemu serve``: the HTTP server over namespaces of chatemu databases (``chatemu.server``)."""
