"""``chatemu serve``: the emulator over HTTP.

``routes`` is the one table from HTTP requests to chatemu command lines (and the OpenAPI
document made from it); ``execute`` runs a command line in this process as ``chatemu`` would
and captures what it prints; ``app`` is the Starlette application; ``stream`` the event
stream; ``main`` starts uvicorn.  Only ``chatemu serve`` imports this package.
"""
