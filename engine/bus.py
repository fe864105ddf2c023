"""The event bus: in-process by default, a Redis stream shared by processes when REDIS_URL is set."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import cast

from .events import Event, event_adapter
from .outbox import DurableOutbox

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]
_STREAM = "escalation:events"
# How many events the stream keeps: enough to ride out minutes of a process being away at full load.
_STREAM_LENGTH = 100_000
_OUTBOX_LIMIT = 100_000
_READ_COUNT = 500
_READ_BLOCK_MS = 1000
_CLOSE_SECONDS = 2.0
_HOLD_SECONDS = 2.0  # the most a publish waits on Postgres to hold an event while Redis is down

# What the stream commands return on this bus's connection (RESP2, bytes not decoded). redis-py types them as
# the union over every protocol and decoding option, so the replies are cast to these.
_StreamEntry = tuple[bytes, dict[bytes, bytes]]
_StreamBatch = tuple[bytes, list[_StreamEntry]]


class EventBus:
    """Delivers each published event to every subscriber of its topic, in publish order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Register a handler; returns the function that unsubscribes it."""
        self._handlers[topic].append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers[topic]:
                self._handlers[topic].remove(handler)
            if not self._handlers[topic]:
                self._handlers.pop(topic, None)

        return unsubscribe

    async def publish(self, topic: str, event: Event) -> None:
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

    async def ping(self) -> None:
        """Returns when the bus can carry events now (in process: always); raises when it cannot."""

    async def close(self) -> None:
        pass


class RedisEventBus(EventBus):
    """Subscribers hear events from every process through one Redis stream.

    A stream rather than pub/sub because pub/sub drops whatever is published while a subscriber is
    away: each process reads on from the last id it saw, so a Redis blip or a slow reconnect delays
    events but loses none. Publishing while Redis is down holds the event in Postgres when there is
    one (`outbox`; a process that dies meanwhile loses nothing, and any process sends it on), else in
    the process, and sends it, in order, when Redis is back. Every retry waits: a dead Redis never
    spins a loop.
    """

    def __init__(self, redis_url: str, outbox: DurableOutbox | None = None) -> None:
        super().__init__()
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No retries inside redis-py: the bus has its own loops, and a publish must fail fast into the outbox.
        self._redis = redis.from_url(
            redis_url,
            socket_connect_timeout=2.0,
            socket_timeout=_READ_BLOCK_MS / 1000 + 3.0,
            retry=Retry(NoBackoff(), 0),
        )
        self._last_id = "0-0"
        self._durable = outbox
        # This process has put events in the durable outbox that may not be sent yet: later ones go there too.
        self._holding_durably = False
        self._durable_puts = 0
        self._look_in_outbox = False  # another process may have left events there (it died during an outage)
        self._outbox: deque[tuple[str, str]] = deque(maxlen=_OUTBOX_LIMIT)  # when Postgres would not take them
        self._listener: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.connected = False

    async def start(self) -> None:
        """Fails if Redis cannot be reached now; after that, outages are ridden out."""
        newest = cast(list[_StreamEntry], await self._redis.xrevrange(_STREAM, count=1))
        self._last_id = newest[0][0].decode() if newest else "0-0"
        self.connected = True
        self._listener = asyncio.create_task(self._listen(), name="redis-event-bus")
        self._send_held(look_in_outbox=True)  # what a process that died during an outage left behind

    async def ping(self) -> None:
        await self._redis.ping()

    async def publish(self, topic: str, event: Event) -> None:
        entry = (topic, event.model_dump_json())
        if not (self._outbox or self._holding_durably):
            try:
                await self._append(*entry)
                return
            except Exception:
                log.warning("Redis did not take an event; holding events until it does", exc_info=True)
        await self._hold(entry)
        self._send_held()

    async def _hold(self, entry: tuple[str, str]) -> None:
        """Behind anything already waiting, so order is kept: in Postgres unless it fails too, or does
        not answer in time (a publish never waits long on the outbox)."""
        if self._durable is not None and not self._outbox:
            try:
                await asyncio.wait_for(self._durable.put(*entry), _HOLD_SECONDS)
                self._holding_durably = True
                self._durable_puts += 1
                return
            except Exception:
                log.warning("Postgres did not hold the event either; holding it in memory", exc_info=True)
        self._outbox.append(entry)

    def _send_held(self, look_in_outbox: bool = False) -> None:
        self._look_in_outbox = self._look_in_outbox or (look_in_outbox and self._durable is not None)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="redis-event-outbox")

    async def _append(self, topic: str, payload: str) -> None:
        await self._redis.xadd(_STREAM, {"topic": topic, "event": payload}, maxlen=_STREAM_LENGTH, approximate=True)

    async def _flush(self) -> None:
        """Sends what is held, oldest first: the durable outbox, then what only memory holds."""
        backoff = _BackOff()
        while self._holding_durably or self._look_in_outbox or self._outbox:
            if (self._holding_durably or self._look_in_outbox) and not await self._drain_durable():
                if self._holding_durably:  # its events come before those in memory: wait for them
                    await backoff.wait()
                    continue
                self._look_in_outbox = False  # someone else's, if any: whoever drains now sends them
            try:
                while self._outbox:
                    await self._append(*self._outbox[0])
                    self._outbox.popleft()
            except Exception:  # down, read-only after a failover, out of memory: wait and try again
                log.warning("Redis did not take an event; retrying", exc_info=True)
                await backoff.wait()
                continue
            backoff.reset()

    async def _drain_durable(self) -> bool:
        """True once the durable outbox was found empty by this process, with nothing put meanwhile."""
        assert self._durable is not None
        puts = self._durable_puts
        try:
            drained = await self._durable.drain(self._append)
        except Exception:  # Redis or Postgres failed: the rows stay for the next try
            log.warning("could not send the events held in Postgres yet", exc_info=True)
            return False
        if drained is None:  # another process is draining
            return False
        self._look_in_outbox = False
        if self._durable_puts == puts:
            self._holding_durably = False
            return True
        return False  # held during the drain: drain again

    async def _listen(self) -> None:
        """Delivers every event added to the stream after start, in order, for as long as the bus runs."""
        backoff = _BackOff()
        while True:
            try:
                batches = cast(
                    list[_StreamBatch],
                    await self._redis.xread({_STREAM: self._last_id}, count=_READ_COUNT, block=_READ_BLOCK_MS),
                )
            except Exception as problem:  # a listener that died would silence every other process
                if self.connected:
                    log.warning(
                        "lost the Redis event bus (%s); reading on from %s when it is back", problem, self._last_id
                    )
                self.connected = False
                await backoff.wait()
                continue
            if not self.connected:
                log.info("the Redis event bus is back")
                self._send_held(look_in_outbox=True)
            self.connected = True
            backoff.reset()
            for _stream, entries in batches:
                for entry_id, fields in entries:
                    self._last_id = entry_id.decode()
                    await self._dispatch(fields)

    async def _dispatch(self, fields: dict[bytes, bytes]) -> None:
        topic = fields.get(b"topic", b"").decode(errors="replace")
        if topic not in self._handlers:
            return
        try:
            event = event_adapter.validate_json(fields.get(b"event", b""))
        except ValueError:
            log.warning("ignored a malformed event on %s", topic)
            return
        await self._deliver(self._handlers, topic, event)

    async def close(self) -> None:
        """Stops reading and publishing; bounded, so a dead or stalled Redis never holds up a shutdown."""
        tasks = [task for task in (self._listener, self._flusher) if task and not task.done()]
        for task in tasks:
            task.cancel()
        if self._outbox:
            log.warning("closing the event bus with %d events Redis never took", len(self._outbox))
        if self._holding_durably:
            log.info("closing the event bus with events held in Postgres; a process sends them when Redis is back")
        # Disconnecting the pool also wakes a read that redis-py is still waiting on.
        await asyncio.wait_for(self._redis.aclose(), _CLOSE_SECONDS)
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=_CLOSE_SECONDS)
            if stuck:
                log.warning("the event bus's Redis tasks did not stop within %.0f s", _CLOSE_SECONDS)


class _BackOff:
    """Waits 0.05 s, then twice as long each time, up to 2 s."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._delay = 0.05

    async def wait(self) -> None:
        await asyncio.sleep(self._delay)
        self._delay = min(self._delay * 2, 2.0)


def make_bus(redis_url: str, outbox: DurableOutbox | None = None) -> EventBus:
    return RedisEventBus(redis_url, outbox) if redis_url else EventBus()
