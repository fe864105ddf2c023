"""A local OpenAI-compatible server that streams SSE: the one fake we allow, at the LLM's HTTP boundary."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class StreamRecord:
    """One streamed response: what was asked, what went out, and whether the client hung up."""

    prompt: str
    tokens_sent: int = 0
    disconnected_at: float | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakeOpenAI:
    """Streams `reply` word by word. `mode` is "ok", "error" (HTTP 500) or "hang" (never answers).

    With `tool_call` ({"name", "arguments": {...}}) the reply is followed by that tool call, streamed as
    OpenAI streams one: a delta naming the function, then its JSON arguments in small pieces."""

    reply: str = "From **Resetting Your Password**: go to the login page and click Forgot password."
    tool_call: dict | None = None
    mode: str = "ok"
    token_delay: float = 0.0
    requests: list[dict] = field(default_factory=list)
    tokens_sent: int = 0
    # Set when the client goes away mid-stream: the moment, and how many tokens went out after it.
    disconnected_at: float | None = None
    tokens_after_disconnect: int = 0
    stream_closed: asyncio.Event = field(default_factory=asyncio.Event)
    streams: list[StreamRecord] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        # Cancel the handler the moment the client disconnects, so a closed stream is seen at once.
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def reset(self, **changes: object) -> None:
        self.requests.clear()
        self.streams.clear()
        self.tokens_sent = self.tokens_after_disconnect = 0
        self.disconnected_at = None
        self.stream_closed = asyncio.Event()
        self.reply, self.mode, self.token_delay = (
            "From **Resetting Your Password**: go to the login page and click Forgot password.",
            "ok",
            0.0,
        )
        self.tool_call = None
        for name, value in changes.items():
            setattr(self, name, value)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if self.mode == "error":
            return web.json_response({"error": {"message": "upstream exploded", "type": "server_error"}}, status=500)
        if self.mode == "hang":
            await asyncio.sleep(3600)
        words = [piece + " " for piece in self.reply.split(" ")] if self.reply else []
        if words:
            words[-1] = words[-1].rstrip()
        if not body.get("stream"):
            return web.json_response(_completion(self.reply))
        record = StreamRecord(prompt=json.dumps(body.get("messages", [])))
        self.streams.append(record)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for word in words:
                if self.token_delay:
                    await asyncio.sleep(self.token_delay)
                await response.write(_sse(_chunk(word)))
                self.tokens_sent += 1
                record.tokens_sent += 1
                if self.disconnected_at is not None:
                    self.tokens_after_disconnect += 1
            if self.tool_call:
                for delta in _tool_call_deltas(self.tool_call["name"], json.dumps(self.tool_call["arguments"])):
                    await response.write(_sse(_delta(delta)))
            await response.write(_sse(_chunk(None, finish="tool_calls" if self.tool_call else "stop")))
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnected_at = record.disconnected_at = time.perf_counter()
            self.stream_closed.set()
            record.closed.set()
            raise
        self.stream_closed.set()
        record.closed.set()
        return response

    def stream_asking(self, text: str) -> StreamRecord:
        """The latest stream whose prompt contains the text."""
        return next(record for record in reversed(self.streams) if text in record.prompt)


def _sse(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _tool_call_deltas(name: str, arguments: str) -> list[dict]:
    first = {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_fake1", "type": "function", "function": {"name": name, "arguments": ""}}
    ]}  # fmt: skip
    pieces = [arguments[start : start + 7] for start in range(0, len(arguments), 7)]
    return [first, *({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]} for piece in pieces)]


def _chunk(content: str | None, finish: str | None = None) -> dict:
    return _delta({"role": "assistant", "content": content} if content is not None else {}, finish)


def _delta(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _completion(text: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
