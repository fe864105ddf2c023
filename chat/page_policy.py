"""The pages load nothing from outside this host and cannot be framed.

Chainlit's page asks a CDN for KaTeX's stylesheet on every load (we render no LaTeX), and a markdown
image in anyone's message would be fetched from its host as the page renders it: a tracking pixel
that reaches the sender's server from the customer's browser, and from the agent's. The stylesheet
link is taken out of the page, and a Content-Security-Policy lets the browser load images, styles,
scripts and connections from this host only. A plain ASGI middleware: it only touches HTML pages.
"""

from __future__ import annotations

import gzip
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
# A <link> to a stylesheet on another host (Chainlit's KaTeX, fonts).
_OUTSIDE_STYLESHEET = re.compile(rb"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.I | re.S)


class SameOriginPages:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def send_same_origin(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name == b"content-type" and value.startswith(b"text/html") for name, value in headers):
                    await send(message)
                    return
                start = {**message, "headers": headers + _HEADERS}
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body)
            # Chainlit's GZip middleware sits inside this one.
            compressed = (b"content-encoding", b"gzip") in start["headers"]
            page = _OUTSIDE_STYLESHEET.sub(b"", gzip.decompress(page) if compressed else page)
            page = gzip.compress(page) if compressed else page
            headers = [(name, value) for name, value in start["headers"] if name != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, send_same_origin)
