"""The event bus: in-process by default, Redis pub/sub across processes when REDIS_URL is set."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from .events import Event, event_adapter

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]
_CHANNEL_PREFIX = "escalation:"


class EventBus:
    """Delivers each published event to every subscriber of its topic, in publish order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._local_handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler, *, local_only: bool = False) -> Callable[[], None]:
        """Register a handler; returns the function that unsubscribes it.

        `local_only` handlers see only events published in this process: the portal uses it
        because its socket.io manager already fans events out to the other processes.
        """
        registry = self._local_handlers if local_only else self._handlers
        registry[topic].append(handler)

        def unsubscribe() -> None:
            if handler in registry[topic]:
                registry[topic].remove(handler)
            if not registry[topic]:
                registry.pop(topic, None)

        return unsubscribe

    async def publish(self, topic: str, event: Event) -> None:
        await self._deliver(self._local_handlers, topic, event)
        await self._publish_shared(topic, event)

    async def _publish_shared(self, topic: str, event: Event) -> None:
        await self._deliver(self._handlers, topic, event)

    @staticmethod
    async def _deliver(registry: dict[str, list[Handler]], topic: str, event: Event) -> None:
        for handler in list(registry.get(topic, ())):
            try:
                await handler(event)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("event handler failed for %s on %s", event.type, topic)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class RedisEventBus(EventBus):
    """Shared subscribers hear events from every process through one Redis pattern subscription."""

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(redis_url)
        self._pubsub = self._redis.pubsub()
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._pubsub.psubscribe(f"{_CHANNEL_PREFIX}*")
        # Wait for Redis to confirm, so nothing published after start() is missed.
        while (await self._pubsub.get_message(timeout=5.0)) is None:
            pass
        self._listener = asyncio.create_task(self._listen(), name="redis-event-bus")

    async def _publish_shared(self, topic: str, event: Event) -> None:
        await self._redis.publish(_CHANNEL_PREFIX + topic, event.model_dump_json())

    async def _listen(self) -> None:
        """Delivers what Redis sends, for as long as the bus runs: a lost connection is re-made."""
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        backoff = 0.1
        while True:
            try:
                async for message in self._pubsub.listen():
                    backoff = 0.1
                    if message["type"] == "pmessage":
                        await self._dispatch(message)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                log.warning("lost the Redis event bus; reconnecting in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                try:
                    await self._pubsub.aclose()  # drops the dead connection; psubscribe makes a new one
                    await self._pubsub.psubscribe(f"{_CHANNEL_PREFIX}*")
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    continue

    async def _dispatch(self, message: dict) -> None:
        topic = message["channel"].decode()[len(_CHANNEL_PREFIX) :]
        if topic not in self._handlers:
            return
        try:
            event = event_adapter.validate_json(message["data"])
        except ValueError:
            log.warning("ignored a malformed event on %s", topic)
            return
        await self._deliver(self._handlers, topic, event)

    async def close(self) -> None:
        if self._listener:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._pubsub.aclose()
        await self._redis.aclose()


def make_bus(redis_url: str) -> EventBus:
    return RedisEventBus(redis_url) if redis_url else EventBus()
