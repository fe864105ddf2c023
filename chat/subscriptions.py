"""Which customer threads this process listens to on the bus, and when it stops listening."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from engine.bus import EventBus
from engine.events import Event, thread_topic

from .render import live_sessions

Handler = Callable[[Event], Awaitable[None]]


class ThreadSubscriptions:
    """One bus subscription per thread with an open chat here; dropped when its last chat is gone."""

    def __init__(self, bus: EventBus, make_handler: Callable[[str], Handler]) -> None:
        self._bus = bus
        self._make_handler = make_handler
        self._unsubscribe: dict[str, Callable[[], None]] = {}

    def watch(self, thread_id: str) -> None:
        if thread_id in self._unsubscribe:
            return
        render = self._make_handler(thread_id)

        async def handle(event: Event) -> None:
            # Chainlit keeps a disconnected session for its session_timeout; after that we stop listening.
            if not live_sessions(thread_id):
                self._unsubscribe.pop(thread_id, lambda: None)()
                return
            await render(event)

        self._unsubscribe[thread_id] = self._bus.subscribe(thread_topic(thread_id), handle)
