"""Who the customer is: an anonymous id in a long-lived cookie, or the site's own id in a header.

Chainlit keeps history only for a logged-in user, so every customer is signed in: a site that
knows its customers sets CUSTOMER_ID_HEADER at its proxy; everyone else gets a random id in the
`ee_customer` cookie on their first visit.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from http.cookies import SimpleCookie
from pathlib import Path

import chainlit as cl
import jwt
from chainlit.auth.cookie import get_token_from_cookies, set_auth_cookie
from chainlit.auth.jwt import create_jwt, decode_jwt
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CUSTOMER_COOKIE = "ee_customer"
VISITOR_PREFIX = "visitor:"
_COOKIE_VALUE = re.compile(r"^[0-9a-f]{32}$")
ONE_YEAR = 365 * 24 * 3600


def stored_secret(data_dir: Path, name: str) -> str:
    """A random secret kept in the data dir, made on first use: no deployment runs on a known default."""
    secret_file = data_dir / name
    if not secret_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secrets.token_urlsafe(48))
        secret_file.chmod(0o600)
    return secret_file.read_text().strip()


def ensure_auth_secret(data_dir: Path) -> None:
    """Chainlit signs its session cookie with CHAINLIT_AUTH_SECRET; without one set, the data dir keeps one."""
    if not os.environ.get("CHAINLIT_AUTH_SECRET"):
        os.environ["CHAINLIT_AUTH_SECRET"] = stored_secret(data_dir, "chainlit_auth_secret")


class CustomerSignIn:
    """Signs the customer in on the page load itself, so the chat opens ready to type into.

    Left to Chainlit, a first visit bounces through `/login` (sometimes twice) before header auth
    signs the customer in, and words typed into the box in the meantime are lost with the page. So
    this middleware gives a first-time visitor an anonymous id that survives refreshes and, on any
    chat page load without a valid session for that customer, sets Chainlit's own session cookie.
    Header auth stays the fallback for a session that expires while the page is open.

    A plain ASGI middleware (not BaseHTTPMiddleware, which breaks when a browser drops a request
    mid-navigation): it only adds headers to the response start.
    """

    def __init__(self, app: ASGIApp, id_header: str) -> None:
        self.app = app
        self._id_header = id_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/portal"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cookies: list[tuple[bytes, bytes]] = []
        visitor = request.cookies.get(CUSTOMER_COOKIE, "")
        if not _COOKIE_VALUE.match(visitor):
            visitor = uuid.uuid4().hex
            cookie = f"{CUSTOMER_COOKIE}={visitor}; Max-Age={ONE_YEAR}; Path=/; HttpOnly; SameSite=lax"
            cookies.append((b"set-cookie", cookie.encode("latin-1")))
        if _is_page_load(request):
            cookies += _session_cookies(request, _identify(request.headers, self._id_header, visitor))
        if not cookies:
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *cookies]
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def _is_page_load(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def _session_cookies(request: Request, identifier: str) -> list[tuple[bytes, bytes]]:
    """Chainlit's session cookie for this customer, unless the request already carries one."""
    if token := get_token_from_cookies(request.cookies):
        try:
            if decode_jwt(token).identifier == identifier:
                return []
        except (jwt.InvalidTokenError, KeyError, TypeError):  # expired, forged, another deployment's
            pass
    response = Response()
    set_auth_cookie(request, response, create_jwt(_customer(identifier)))
    return [(name, value) for name, value in response.raw_headers if name == b"set-cookie"]


def _identify(headers: Headers, id_header: str, visitor: str) -> str:
    if id_header and (site_id := headers.get(id_header, "").strip()):
        return f"customer:{site_id[:128]}"
    return f"{VISITOR_PREFIX}{visitor}"


def _customer(identifier: str) -> cl.User:
    shown_as = "Guest" if identifier.startswith(VISITOR_PREFIX) else identifier
    return cl.User(identifier=identifier, display_name=shown_as, metadata={"role": "customer"})


def customer_identifier(headers: Headers, id_header: str) -> str | None:
    """The customer's stable identifier from the site's header, else from our cookie."""
    cookie = SimpleCookie(headers.get("cookie", ""))
    visitor = cookie[CUSTOMER_COOKIE].value if CUSTOMER_COOKIE in cookie else ""
    if id_header and headers.get(id_header, "").strip():
        return _identify(headers, id_header, visitor)
    return f"{VISITOR_PREFIX}{visitor}" if _COOKIE_VALUE.match(visitor) else None


def customer_user(headers: Headers, id_header: str) -> cl.User | None:
    identifier = customer_identifier(headers, id_header)
    return _customer(identifier) if identifier else None
