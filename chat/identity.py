"""Who the customer is: an anonymous id in a long-lived cookie, or the site's own id in a header.

Chainlit keeps history only for a logged-in user, so every customer is "logged in" through
header auth: a site that knows its customers sets CUSTOMER_ID_HEADER at its proxy; everyone
else gets a random id in the `ee_customer` cookie on their first visit.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from http.cookies import SimpleCookie
from pathlib import Path

import chainlit as cl
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CUSTOMER_COOKIE = "ee_customer"
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


class CustomerCookie:
    """Gives a first-time visitor an anonymous customer id that survives refreshes.

    A plain ASGI middleware (not BaseHTTPMiddleware, which breaks when a browser drops a request
    mid-navigation): it only adds a header to the response start.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/portal"):
            await self.app(scope, receive, send)
            return
        if _COOKIE_VALUE.match(Request(scope).cookies.get(CUSTOMER_COOKIE, "")):
            await self.app(scope, receive, send)
            return
        cookie = f"{CUSTOMER_COOKIE}={uuid.uuid4().hex}; Max-Age={ONE_YEAR}; Path=/; HttpOnly; SameSite=lax"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def customer_identifier(headers: Headers, id_header: str) -> str | None:
    """The customer's stable identifier from the site's header, else from our cookie."""
    if id_header and (site_id := headers.get(id_header, "").strip()):
        return f"customer:{site_id[:128]}"
    cookie = SimpleCookie(headers.get("cookie", ""))
    if CUSTOMER_COOKIE in cookie and _COOKIE_VALUE.match(cookie[CUSTOMER_COOKIE].value):
        return f"visitor:{cookie[CUSTOMER_COOKIE].value}"
    return None


def customer_user(headers: Headers, id_header: str) -> cl.User | None:
    identifier = customer_identifier(headers, id_header)
    return cl.User(identifier=identifier, metadata={"role": "customer"}) if identifier else None
