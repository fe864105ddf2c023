"""The baseline: a bare python-socketio relay (client → server → client), the floor for this stack.

Run as `python -m bench.relay PORT`.
"""

from __future__ import annotations

import sys

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi")


@sio.on("join")
async def join(sid: str, room: str) -> None:
    await sio.enter_room(sid, room)


@sio.on("relay")
async def relay(sid: str, data: dict) -> dict:
    await sio.emit("relayed", data, to=data["room"])
    return {"ok": True}


if __name__ == "__main__":
    uvicorn.run(
        socketio.ASGIApp(sio, socketio_path="/socket.io"), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning"
    )
