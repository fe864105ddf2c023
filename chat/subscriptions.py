"""Which customer threads this process listens to on the bus, and when it stops listening."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chainlit.session import ws_sessions_id

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
        self._forget_closed_chats()
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

    def _forget_closed_chats(self) -> None:
        """Drops the subscriptions of threads whose chats Chainlit has let go (after session_timeout)."""
        open_threads = {session.thread_id for session in list(ws_sessions_id.values())}
        for thread_id in [t for t in self._unsubscribe if t not in open_threads]:
            self._unsubscribe.pop(thread_id)()
