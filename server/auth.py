"""The tokens' policy as ``chatemu serve`` applies it to every request (docs/server.md, docs/tokens.md).

``TokenPolicy(data_dir)`` is the ``policy`` hook of ``app.make_app``: ``authenticate`` refuses a
request without valid credentials (401) before its body is read; calling it with the request's
``Command`` refuses what the token's role may not do (403), and makes an agent token's command
act as the token's agent when the request names none.  The token is read from the
``Authorization: Bearer`` header only, never from the query string, and appears in no answer or
log line.
"""

from __future__ import annotations

from typing import Optional

from .app import OPEN_WHO, Command, Problem, named_agent
from .tokens import POLICY, Token, TokenStore, authorize, bearer, loopback

_CREDENTIALS = "chatemu.credentials"  # where a request's credentials are kept once read (its ASGI scope)
_STATUS = {401: ("unauthorized", "A valid token is needed"), 403: ("forbidden", "Not allowed with this token")}


def command_words(argv: list[str]) -> tuple[str, ...]:
    """The command's words in the policy (``("chat", "park")``) of a command line without
    ``--db``: the longest run of its first words (after the root options) that has a line in
    ``POLICY``; else its first word (no line: a trainer's only)."""
    from chatemu.cli.common import root_options

    spans = root_options(argv)
    rest = argv[spans[-1][1] if spans else 0:]
    words = []
    for word in rest:
        if word.startswith("-"):
            break
        words.append(word)
    for end in range(len(words), 0, -1):
        if tuple(words[:end]) in POLICY:
            return tuple(words[:end])
    return tuple(words[:1])


class TokenPolicy:
    """The ``policy`` of a server whose tokens are in ``data_dir`` (``TokenStore``)."""

    def __init__(self, data_dir: str):
        self.store = TokenStore(data_dir)
        self.closed = False  # a token was seen defined: the folder never opens again

    def defined(self) -> bool:
        self.closed = self.closed or self.store.defined()
        return self.closed

    def credentials(self, request) -> tuple[bool, Optional[Token]]:
        """(open: a loopback request and no token defined, the request's token or None), read
        once per request."""
        found = request.scope.get(_CREDENTIALS)
        if found is None:
            client = request.scope.get("client")
            if client and loopback(client[0]) and not self.defined():
                found = (True, None)
            else:
                found = (False, self.store.lookup(bearer(request.headers.get("authorization"))))
            request.scope[_CREDENTIALS] = found
        return found

    def authenticate(self, request, ns: str) -> None:
        is_open, token = self.credentials(request)
        refuse(authorize(token, is_open, ns, (), None), 401)

    def whoami(self, request) -> dict:
        """What the request's token allows (``GET /v1/whoami``): its namespace, role and agent;
        open (any namespace, any agent) on a loopback server with no token; 401 without a valid token."""
        is_open, token = self.credentials(request)
        if is_open:
            return dict(OPEN_WHO)
        refuse(authorize(token, False, token.ns if token else "", (), None), 401)
        return {"ns": token.ns, "role": token.role, "agent": token.agent, "open": False}

    def __call__(self, request, command: Command) -> None:
        is_open, token = self.credentials(request)
        if command.ns == "" and token is not None and token.revoked is None:
            command.ns = token.ns  # the namespaces: a token sees its own
        refuse(authorize(token, is_open, command.ns, command_words(command.argv), command.named))
        for line in command.lines or ():  # a scenario: each line as the command it is
            refuse(authorize(token, is_open, command.ns, command_words(line), named_agent(line, command.agent)))
        if token is not None and token.role == "agent" and command.agent is None:
            command.agent = token.agent


def refuse(decision, only: Optional[int] = None) -> None:
    """Raise the decision's problem (401 with ``WWW-Authenticate: Bearer``, or 403) unless it
    allows; ``only``: refuse with that status only."""
    if decision.allowed or (only is not None and decision.status != only):
        return
    kind, title = _STATUS[decision.status]
    headers = {"WWW-Authenticate": "Bearer"} if decision.status == 401 else None
    raise Problem(decision.status, kind, title, decision.reason, headers=headers)
