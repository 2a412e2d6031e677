"""``chatemu serve``: the emulator over HTTP.

``routes`` is the one table from HTTP requests to chatemu command lines (and the OpenAPI
document made from it); ``execute`` runs a command line in this process as ``chatemu`` would
and captures what it prints; ``app`` is the Starlette application; ``stream`` the event
stream; ``main`` starts uvicorn; ``tokens`` holds the bearer tokens and
the role policy, ``webhooks`` delivers events to webhooks; ``pages`` serves the agent desk and
the trainer's room (``static/``).  Only ``chatemu serve`` and
``chatemu token`` import this package.
"""
