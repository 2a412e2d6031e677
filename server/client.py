"""The other end of ``POST /v1/ns/NS/cli``: run a command line on a server, get what a
``chatemu`` process would give.  Standard library only (a command line may import it at
start-up without growing it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional


def call(base_url: str, ns: str, argv: list[str], agent: Optional[str] = None,
         timeout: float = 60) -> tuple[int, str, list[str]]:
    """Run ``argv`` (a command line's words after the root options) in the namespace ``ns`` of
    the server at ``base_url``: (exit code, stdout, stderr lines), as ``cli.app.call`` returns
    them plus stdout.  A server that cannot be reached or answers a problem: exit 5 or the
    problem's exit code, with its detail as the error line."""
    body = {"argv": list(argv)}
    if agent is not None:
        body["agent"] = agent
    request = urllib.request.Request(f"{base_url.rstrip('/')}/v1/ns/{urllib.parse.quote(ns, safe='')}/cli", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            problem = json.load(exc)
        except ValueError:
            problem = {}
        return problem.get("exit_code") or 5, "", [f"error: {problem.get('detail') or exc.reason}"]
    except (urllib.error.URLError, OSError, ValueError) as exc:  # http.client.InvalidURL is a ValueError
        return 5, "", [f"error: cannot reach the server at {base_url}: {getattr(exc, 'reason', exc)}"]
    return answer["exit_code"], answer["stdout"], answer["stderr"].splitlines()
