"""Small helpers the tests share: run a customer turn, collect events from the bus."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine.events import Event
from engine.service import ConversationService

# Ten questions the articles answer, asked in turn for a long conversation that never escalates (with
# REPEAT_SIMILARITY above 1, asking one again ten turns later is not "the answer did not help").
LONG_CONVERSATION = [
    "How do I reset my password?",
    "How do I turn on two-factor authentication?",
    "What are your support hours?",
    "How do I change my payment method?",
    "What are the API rate limits?",
    "How do I cancel my subscription?",
    "How long does Hub shipping take?",
    "How do I track my order?",
    "How do I export my data?",
    "How do I set up SSO with SAML?",
]


async def say(service: ConversationService, thread_id: str, text: str) -> list[Event]:
    """Sends one customer message and returns every event of that turn."""
    return [event async for event in service.customer_message(thread_id, text)]


def kinds(events: list[Event]) -> list[str]:
    return [event.type for event in events if event.type != "token_stream"]


class Recorder:
    """Collects what a bus topic delivers, and awaits a given event type without sleeping."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._arrived = asyncio.Condition()

    async def __call__(self, event: Event) -> None:
        async with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    async def wait_for(self, event_type: str, timeout: float = 10.0, count: int = 1) -> list[Event]:
        async def matched() -> list[Event]:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.of(event_type)) >= count)
                return self.of(event_type)

        return await asyncio.wait_for(matched(), timeout)

    def of(self, event_type: str) -> list[Event]:
        return [event for event in self.events if event.type == event_type]


async def race_one_agent_for_tickets(service: ConversationService, tickets: int, max_chats: int) -> tuple[list, list]:
    """One agent clicks claim on `tickets` waiting tickets at once; returns (claimed, refused)."""
    agent = await service.tickets.add_agent("Quick", "pw", ["General"], max_chats=max_chats)
    waiting = []
    for index in range(tickets):
        await say(service, f"limit-{index}", "operator please")
        waiting.append(await service.tickets.open_for_thread(f"limit-{index}"))
    results = await asyncio.gather(*(service.claim(ticket.id, agent) for ticket in waiting), return_exceptions=True)
    return [r for r in results if not isinstance(r, Exception)], [r for r in results if isinstance(r, Exception)]


class PrivateRedis:
    """A redis-server of the test's own on `port`, to stop and start again (the shared one serves others)."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._command = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ]
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> PrivateRedis:
        self._process = await asyncio.create_subprocess_exec(*self._command, stdout=asyncio.subprocess.DEVNULL)
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return self
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def stop(self) -> None:
        if self._process and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()


async def end_backends(admin_url: str, database: str) -> int:
    """What a failover or a restart does to every pool: each open connection to the database ended."""
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    try:
        ended: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return ended
    finally:
        await admin.close()
