"""The one table from HTTP requests to chatemu command lines.

Each row: method, path (under ``/v1/ns/{ns}``), the command's words (``{name}`` takes a
path parameter), the fields a request may give (from the JSON body, or the query string
for a GET or DELETE) and the status of a success.  A field is written

- ``name``: a positional argument (``chat send {id}`` then ``text``);
- ``name*``: zero or more positional arguments (a JSON list of strings);
- ``name=--opt``: an option taking the value; ``name=--flag!``: a flag (true/false);
- ``name=a|b``: one of these words, appended to the command (``clock real``);
- a ``:int`` after the name: an integer, not a string.

Several rows may share a method and path when each has a field of its own (``POST /clock``
takes ``set``, ``advance`` or ``mode``): the one whose field the request gives is used.
The acting agent is the ``agent`` field (when the row has none of its own), else the
``X-Chatemu-Agent`` header, else the command line's default.  Nothing here imports
Starlette: the table is data, read by ``app`` and by ``openapi``.
"""

from __future__ import annotations

import re

ROWS = (
    # chats
    ("GET", "/chats", "chat list", "all=--all! state=--state queue=--queue ids=--ids!"),
    ("POST", "/chats", "chat new", "customer=--customer queue=--queue priority:int=--priority id=--id inbox=--inbox! patience=--patience", 201),
    ("GET", "/chats/{id}", "chat show {id}", ""),
    ("GET", "/chats/{id}/transcript", "chat transcript {id}", ""),
    ("GET", "/chats/{id}/explain", "explain {id}", ""),
    ("POST", "/chats/{id}/take", "chat take {id}", ""),
    ("POST", "/chats/{id}/activate", "chat activate {id}", ""),
    ("POST", "/chats/{id}/park", "chat park {id}", ""),
    ("POST", "/chats/{id}/end", "chat end {id}", ""),
    ("POST", "/chats/{id}/wrapup", "chat wrapup {id}", "extend=--extend! finish=--finish!"),
    ("POST", "/chats/{id}/send", "chat send {id}", "template=--template text"),
    ("POST", "/chats/{id}/receive", "chat receive {id}", "text"),
    ("POST", "/chats/{id}/return", "chat return {id}", ""),
    ("POST", "/chats/{id}/transfer", "chat transfer {id}", "queue=--queue agent=--agent"),
    ("POST", "/chats/{id}/classify", "chat classify {id}", "note=--note code"),
    ("POST", "/chats/{id}/flag-abusive", "chat flag-abusive {id}", ""),
    ("POST", "/chats/{id}/contact", "chat contact {id}", "name"),
    # agents
    ("GET", "/agents", "agent list", ""),
    ("GET", "/agents/{agent}", "agent status {agent}", ""),
    ("POST", "/agents/{agent}/login", "--agent {agent} agent login", ""),
    ("POST", "/agents/{agent}/logout", "--agent {agent} agent logout", "return=--return!"),
    ("POST", "/agents/{agent}/available", "--agent {agent} agent available", ""),
    ("POST", "/agents/{agent}/break", "--agent {agent} agent break", "reason=--reason"),
    ("POST", "/agents/{agent}/disconnect", "--agent {agent} agent disconnect", ""),
    ("POST", "/agents/{agent}/call-start", "--agent {agent} chat call-start", ""),
    ("POST", "/agents/{agent}/call-end", "--agent {agent} chat call-end", ""),
    ("GET", "/agents/{agent}/queues", "--agent {agent} agent queues", ""),
    ("PUT", "/agents/{agent}/queues", "--agent {agent} agent queues set", "queues*"),
    ("DELETE", "/agents/{agent}/queues", "--agent {agent} agent queues clear", ""),
    ("POST", "/agents/{agent}/queues/{queue}/on", "--agent {agent} agent queues on {queue}", ""),
    ("POST", "/agents/{agent}/queues/{queue}/off", "--agent {agent} agent queues off {queue}", ""),
    # queues, break reasons, templates, classification codes, contacts
    ("GET", "/queues", "queue list", ""),
    ("POST", "/queues", "queue add", "name", 201),
    ("GET", "/queues/{queue}", "queue show {queue}", ""),
    ("GET", "/break-reasons", "break-reason list", ""),
    ("POST", "/break-reasons", "break-reason add", "reason limit=--limit", 201),
    ("DELETE", "/break-reasons/{reason}", "break-reason remove {reason}", ""),
    ("GET", "/templates", "template list", "queue=--queue"),
    ("POST", "/templates", "template add", "queue=--queue name text", 201),
    ("DELETE", "/templates/{name}", "template remove {name}", "queue=--queue"),
    ("GET", "/classifications", "classification list", "queue=--queue"),
    ("POST", "/classifications", "classification add", "queue=--queue code", 201),
    ("DELETE", "/classifications/{code}", "classification remove {code}", "queue=--queue"),
    ("GET", "/contacts/{name}", "contact history {name}", ""),
    # settings
    ("GET", "/config", "config show", ""),
    ("PUT", "/config", "config set", "queue=--queue agent=--agent key value"),
    ("GET", "/profiles", "profile list", ""),
    ("GET", "/profiles/{name}", "profile show {name}", ""),
    ("POST", "/profiles/{name}/apply", "profile apply {name}", "queue=--queue"),
    ("GET", "/clock", "clock", ""),
    ("POST", "/clock", "clock set", "set"),
    ("POST", "/clock", "clock advance", "advance"),
    ("POST", "/clock", "clock", "mode=real|virtual"),
    # reading the record
    ("GET", "/stats/agents", "stats agents", "since=--since until=--until"),
    ("GET", "/stats/queues", "stats queues", "since=--since until=--until"),
    ("GET", "/events", "events", "chat=--chat agent=--agent since=--since"),
    ("GET", "/refusals", "refusals", "agent=--agent since=--since"),
    ("POST", "/expect", "expect", "what checks*"),
    ("GET", "/check", "db check", ""),
    # whole state
    ("GET", "/snapshots", "snapshot list", ""),
    ("POST", "/snapshots", "snapshot save", "name", 201),
    ("POST", "/snapshots/{name}/restore", "snapshot restore {name}", ""),
    ("DELETE", "/snapshots/{name}", "snapshot delete {name}", ""),
    ("POST", "/reset", "reset --yes", "keep_snapshots=--keep-snapshots!"),
    # webhooks (server configuration: docs/webhooks.md)
    ("GET", "/webhooks", "webhook list", ""),
    ("POST", "/webhooks", "webhook add", "secret=--secret url events*", 201),
    ("DELETE", "/webhooks/{id}", "webhook delete {id}", ""),
    ("POST", "/webhooks/{id}/enable", "webhook enable {id}", ""),
    ("GET", "/webhooks/{id}/deliveries", "webhook deliveries {id}", ""),
)

#: Routes the table does not describe as one command with JSON fields: their bodies are not JSON
#: objects, or they answer a stream (``app`` serves them; ``openapi`` describes them).
SPECIAL = (
    ("PUT", "/v1/ns/{ns}", "Make the namespace (a new database with the defaults) if it is not there yet."),
    ("DELETE", "/v1/ns/{ns}", "Remove the namespace and everything in it."),
    ("GET", "/v1/ns", "The namespaces there are."),
    ("POST", "/v1/ns/{ns}/cli", "Run one command line (the words after the root options): {\"argv\": [...]}."),
    ("POST", "/v1/ns/{ns}/run", "Run a scenario (the body, as `chatemu run` reads a file); what `run --json` prints."),
    ("GET", "/v1/ns/{ns}/export", "The bundle `chatemu export` writes."),
    ("PUT", "/v1/ns/{ns}/import", "Load a bundle (the body), as `chatemu import`; ?replace=true replaces the state."),
    ("GET", "/v1/ns/{ns}/events/stream", "Server-sent events: every new event, resumable with Last-Event-ID."),
    ("GET", "/v1/openapi.json", "This document."),
    ("GET", "/v1/whoami", "What the request's token allows: {\"ns\", \"role\", \"agent\", \"open\"} (open: a loopback "
                          "server with no token, where any namespace and agent may be used)."),
)

_FIELD = re.compile(r"(?P<name>[a-z_]+)(?P<many>\*)?(?::(?P<type>int))?(?:=(?P<to>\S+))?$")


class Field:
    """One field of a request: how its value becomes words of the command line."""

    def __init__(self, spec: str):
        found = _FIELD.match(spec)
        if found is None:
            raise ValueError(spec)
        self.name, to = found["name"], found["to"]
        self.many = bool(found["many"])
        self.integer = found["type"] == "int"
        self.flag = bool(to and to.endswith("!"))
        self.option = to.rstrip("!") if to and to.startswith("--") else None
        self.choices = tuple(to.split("|")) if to and not to.startswith("--") else None
        self.positional = to is None

    @property
    def json_type(self) -> dict:
        if self.flag:
            return {"type": "boolean"}
        if self.many:
            return {"type": "array", "items": {"type": "string"}}
        if self.choices:
            return {"type": "string", "enum": list(self.choices)}
        return {"type": "integer"} if self.integer else {"type": "string"}


class Route:
    """One row of the table."""

    def __init__(self, method: str, path: str, words: str, fields: str, status: int = 200):
        self.method, self.path, self.status = method, path, status
        self.words = words.split()
        self.fields = {f.name: f for f in map(Field, fields.split())}
        self.params = re.findall(r"{(\w+)}", path)
        self.own_agent = "agent" in self.fields or "{agent}" in self.words

    @property
    def key(self) -> str | None:
        """The field that selects this row among rows of the same method and path."""
        return next(iter(self.fields)) if len(self.fields) == 1 else None

    def argv(self, params: dict, values: dict) -> list[str]:
        """The command line (without ``--db``): the row's words, the options, then ``--`` and the
        positional arguments (so a text starting with ``-`` stays a text)."""
        argv = [params[w[1:-1]] if w.startswith("{") else w for w in self.words]
        positional = []
        for name, field in self.fields.items():
            value = values.get(name)
            if value is None:
                continue
            if field.flag:
                argv += [field.option] if value else []
            elif field.option:
                argv += [field.option, str(value)]
            elif field.choices:
                argv.append(value)
            elif field.many:
                positional += value
            else:
                positional.append(str(value))
        argv.append("--json")
        return argv + ["--", *positional] if positional else argv


ROUTES = tuple(Route(*row) for row in ROWS)


def check_value(field: Field, value, from_query: bool):
    """The field's value as the command line takes it; ``ValueError`` with the reason when it is
    of the wrong type.  A query string's values are text: a flag is ``true`` or ``false``."""
    if from_query:
        if field.flag:
            if value not in ("true", "false", "1", "0"):
                raise ValueError(f"{field.name} must be true or false")
            return value in ("true", "1")
        if field.many:
            return [value]
    elif field.flag:
        if not isinstance(value, bool):
            raise ValueError(f"{field.name} must be true or false")
    elif field.many:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{field.name} must be a list of strings")
    elif field.integer:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{field.name} must be an integer")
    elif value is not None and not isinstance(value, str):
        raise ValueError(f"{field.name} must be a string")
    if field.choices and value not in field.choices:
        raise ValueError(f"{field.name} must be one of {', '.join(field.choices)}")
    return value


def openapi() -> dict:
    """The OpenAPI 3.1 document of the API, made from the table."""
    problem = {"description": "A problem (RFC 9457): what the command line's error line says, and its exit code.",
               "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    paths: dict = {}
    for route in ROUTES:
        path = "/v1/ns/{ns}" + route.path
        op = paths.setdefault(path, {}).get(route.method.lower())
        if op is None:
            op = {"summary": f"chatemu {' '.join(w for w in route.words if not w.startswith('{'))}",
                  "operationId": f"{route.method.lower()}{re.sub(r'[^a-zA-Z0-9]+', '_', route.path)}",
                  "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                 for p in ["ns", *route.params]],
                  "responses": {str(route.status): {"description": "What the command prints with --json.",
                                                    "content": {"application/json": {"schema": {}}}},
                                "default": problem}}
            paths[path][route.method.lower()] = op
        else:
            op["summary"] += " | " + " ".join(w for w in route.words if not w.startswith("{"))
        fields = {name: f.json_type for name, f in route.fields.items()}
        if not route.own_agent:
            fields["agent"] = {"type": "string"}
        op["parameters"].append({"name": "X-Chatemu-Agent", "in": "header", "required": False,
                                 "schema": {"type": "string"}}) if not any(
            p["name"] == "X-Chatemu-Agent" for p in op["parameters"]) else None
        if route.method in ("GET", "DELETE"):
            op["parameters"] += [{"name": name, "in": "query", "required": False,
                                  "schema": schema if schema.get("type") != "array" else schema["items"]}
                                 for name, schema in fields.items()
                                 if not any(p["name"] == name for p in op["parameters"])]
        else:
            body = op.setdefault("requestBody", {"required": False, "content": {"application/json": {"schema": {
                "oneOf": []}}}})
            body["content"]["application/json"]["schema"]["oneOf"].append(
                {"type": "object", "properties": fields, "additionalProperties": False})
    for method, path, summary in SPECIAL:
        paths.setdefault(path, {})[method.lower()] = {
            "summary": summary, "operationId": f"{method.lower()}{re.sub(r'[^a-zA-Z0-9]+', '_', path)}",
            "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                           for p in re.findall(r"{(\w+)}", path)],
            "responses": {"200": {"description": "Done."}, "default": problem}}
    paths["/v1/openapi.json"]["get"]["security"] = []  # the one route without a token
    return {
        "openapi": "3.1.0",
        "info": {"title": "chatemu", "version": "1",
                 "description": "The chatemu emulator over HTTP: each route runs one chatemu command on the "
                                "namespace's database and answers what it prints with --json."},
        "paths": paths,
        # a bearer token (docs/tokens.md); none on a loopback server whose folder has no token
        "security": [{"bearer": []}, {}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": {"Problem": {"type": "object", "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "exit_code": {"type": "integer"}}}}},
    }
