"""The agent desk and the trainer's room: two static pages served by ``chatemu serve``.

``GET /ns/{ns}/desk`` and ``GET /ns/{ns}/room`` answer an HTML file of ``static/``, ``GET /``
the login page (``login.html``: a token, or on an open loopback server a namespace and an agent,
and on to the page it allows); the page's
one script (``/static/app.js``) and style sheet (``/static/app.css``) come from the same folder,
shipped in the package.  The pages hold no data and no rules: the script reads the namespace from
the address, state from the ``/v1/ns/{ns}`` routes and the event stream, and every button is one
request.  Each answer carries a Content-Security-Policy that lets the page load only its own
files (no inline script or style) and talk only to this server.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}
#: The files a browser may ask for, by name: nothing else of the folder is served.
FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}


def _file(name: str, media_type: str) -> Response:
    return Response((STATIC / name).read_bytes(), media_type=media_type, headers=HEADERS)


def page(name: str):
    """The endpoint answering the page ``name`` (``static/NAME.html``) for any valid namespace."""

    async def endpoint(request: Request) -> Response:
        from .app import NAME, bad_request

        ns = request.path_params["ns"]
        if not NAME.fullmatch(ns):
            raise bad_request(f"bad namespace {ns!r}: 1 to 64 of a-z, 0-9 and -, starting with a letter or digit")
        return _file(f"{name}.html", "text/html; charset=utf-8")

    return endpoint


async def static(request: Request) -> Response:
    from starlette.exceptions import HTTPException

    name = request.path_params["name"]
    if name not in FILES:
        raise HTTPException(404, "Not Found")
    return _file(name, FILES[name])


async def login(request: Request) -> Response:
    return _file("login.html", "text/html; charset=utf-8")


def routes() -> list[Route]:
    return [Route("/", login, methods=["GET"]),
            Route("/ns/{ns}/desk", page("desk"), methods=["GET"]),
            Route("/ns/{ns}/room", page("room"), methods=["GET"]),
            Route("/static/{name}", static, methods=["GET"])]
