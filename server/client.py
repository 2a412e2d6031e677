"""The other end of ``POST /v1/ns/NS/cli`` and ``POST /v1/ns/NS/run``: run a command line or a
scenario on a server, get what a ``chatemu`` process would give.  Standard library only (a
command line may import it at start-up without growing it).

A server that cannot be reached or answers a problem is an exit code and one error line, as the
command line documents them (docs/server.md): unreachable, or a 5xx, exit 5 (as a database that
cannot be opened); 401 (no token, or one the server does not know) exit 2; 403 (the token may not
do this) exit 3; any other problem, its own ``exit_code``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

#: The exit code of an answer refused for its token, whatever the problem says.
AUTH_EXIT = {401: 2, 403: 3}


def send(base_url: str, ns: str, route: str, body: Optional[bytes], content_type: str = "application/json",
         token: Optional[str] = None, agent: Optional[str] = None, query: str = "",
         timeout: float = 60, method: str = "POST", read=json.load) -> tuple[int, object]:
    """POST ``body`` (or ``method`` it) to ``/v1/ns/NS/ROUTE`` (``token``: as ``Authorization:
    Bearer``; ``agent``: as ``X-Chatemu-Agent``): ``(0, read(the answer))`` (by default its JSON),
    or ``(exit code, problem)`` where the problem is a dict with at least ``detail`` (the error
    line without ``error: ``)."""
    url = f"{base_url.rstrip('/')}/v1/ns/{urllib.parse.quote(ns, safe='')}/{route}" + (f"?{query}" if query else "")
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if agent is not None:
        headers["X-Chatemu-Agent"] = agent
    try:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 0, read(response)
    except urllib.error.HTTPError as exc:
        try:
            problem = json.load(exc)
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = {}
        detail = problem.get("detail") or f"the server at {base_url} answered {exc.code} {exc.reason}"
        if exc.code == 401:
            detail += " (give a token: --token or CHATEMU_TOKEN)"
        code = AUTH_EXIT.get(exc.code) or (5 if exc.code >= 500 else problem.get("exit_code")) or 5
        return code, {**problem, "detail": detail}
    except (urllib.error.URLError, OSError, ValueError) as exc:  # http.client.InvalidURL is a ValueError
        return 5, {"detail": f"cannot reach the server at {base_url}: {getattr(exc, 'reason', exc)}"}


def call(base_url: str, ns: str, argv: list[str], agent: Optional[str] = None,
         timeout: float = 60, token: Optional[str] = None) -> tuple[int, str, list[str]]:
    """Run ``argv`` (a command line's words after the root options) in the namespace ``ns`` of
    the server at ``base_url``: (exit code, stdout, stderr lines), as ``cli.app.call`` returns
    them plus stdout.  ``token``: sent as ``Authorization: Bearer TOKEN``."""
    body = {"argv": list(argv)}
    if agent is not None:
        body["agent"] = agent
    code, answer = send(base_url, ns, "cli", json.dumps(body).encode(), token=token, timeout=timeout)
    if code:
        return code, "", [f"error: {answer['detail']}"]
    return answer["exit_code"], answer["stdout"], answer["stderr"].splitlines()
