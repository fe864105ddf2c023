"""Avatars by author name: a picture from public/avatars when there is one, else the person's initials."""

from __future__ import annotations

import hashlib
import re
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

PUBLIC_AVATARS = Path(__file__).resolve().parent.parent / "public" / "avatars"
_PALETTE = ("#2563eb", "#7c3aed", "#db2777", "#ea580c", "#16a34a", "#0891b2", "#4f46e5", "#b45309")


def avatar_path(name: str) -> str:
    """The URL of a person's avatar; the Chainlit frontend asks for the same path by author name."""
    return f"/avatars/{re.sub(r'[^a-zA-Z0-9_ .-]', '', name) or 'agent'}"


def initials_svg(name: str) -> str:
    initials = "".join(part[0] for part in name.split()[:2]).upper() or "?"
    color = _PALETTE[int(hashlib.sha1(name.encode()).hexdigest(), 16) % len(_PALETTE)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        f'<circle cx="32" cy="32" r="32" fill="{color}"/>'
        '<text x="32" y="41" font-family="Helvetica,Arial,sans-serif" font-size="26" font-weight="600" '
        f'fill="#fff" text-anchor="middle">{escape(initials)}</text></svg>'
    )


async def serve_avatar(request: Request) -> Response:
    name = request.path_params["name"]
    normalized = name.strip().lower().replace(" ", "_").replace(".", "_")
    if re.fullmatch(r"[a-z0-9_-]+", normalized):
        for picture in sorted(PUBLIC_AVATARS.glob(f"{normalized}.*")):
            return FileResponse(picture)
    return Response(initials_svg(name), media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


avatar_route = Route("/avatars/{name:str}", serve_avatar, methods=["GET"])
