"""Checkpoint storage stays bounded: superseded checkpoints are pruned, and pruned threads still resume."""

from __future__ import annotations

import asyncio

from engine.config import Settings
from engine.service import ConversationService
from tests.conftest import settings_for
from tests.helpers import LONG_CONVERSATION, say


async def stored_checkpoints(settings: Settings, thread_id: str) -> int:
    if settings.uses_postgres:
        import asyncpg

        connection = await asyncpg.connect(settings.psycopg_url)
        try:
            return int(await connection.fetchval("SELECT count(*) FROM checkpoints WHERE thread_id = $1", thread_id))
        finally:
            await connection.close()
    import aiosqlite

    async with aiosqlite.connect(settings.checkpoint_path) as connection:
        row = await (
            await connection.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", (thread_id,))
        ).fetchone()
        assert row is not None
        return int(row[0])


async def settles_at_most(settings: Settings, thread_id: str, most: int) -> int:
    """The thread's stored checkpoints once the background prune is done (waits for it, up to 5 s)."""
    for _ in range(100):
        count = await stored_checkpoints(settings, thread_id)
        if count <= most:
            return count
        await asyncio.sleep(0.05)
    raise AssertionError(f"thread {thread_id} still stores {count} checkpoints")


# Ten questions in turn: asking one again ten turns later must not count as the answer not helping.
PRUNING = {"CHECKPOINT_PRUNE_TURNS": 5, "REPEAT_SIMILARITY": 1.01}


async def test_a_long_conversation_on_sqlite_stores_one_checkpoint_at_rest_and_still_hands_off(tmp_path):
    await long_conversation(settings_for(tmp_path, **PRUNING))


async def test_a_long_conversation_on_postgres_stores_one_checkpoint_at_rest_and_still_hands_off(
    tmp_path, postgres_url
):
    await long_conversation(settings_for(tmp_path, DATABASE_URL=postgres_url, **PRUNING))


async def long_conversation(pruning_settings: Settings) -> None:
    """Thirty answered turns, pruned every five; then a handoff, six agent replies across a prune, a
    resolution (the final checkpoint only) and the conversation going on."""
    service = await ConversationService.open(pruning_settings)
    try:
        unpruned = 0
        for turn in range(1, 31):
            await say(service, "long", LONG_CONVERSATION[turn % len(LONG_CONVERSATION)])
            if turn == 4:
                unpruned = await stored_checkpoints(pruning_settings, "long")  # four turns, nothing pruned yet
            if turn in (10, 30):
                await settles_at_most(pruning_settings, "long", 1)
        assert (await service.state("long"))["mode"] == "ai"  # thirty answers, no handoff
        assert unpruned == 4  # one checkpoint a turn, written at its end: pruning is what keeps it at one

        agent = await service.tickets.add_agent(
            "Prue", "pw", ["General", "Account", "Shipping", "Technical", "Billing"]
        )
        await say(service, "long", "I want to talk to a person")
        ticket = await service.tickets.open_for_thread("long")
        assert ticket is not None
        await service.claim(ticket.id, agent)
        for n in range(6):  # the replies resume the thread across a prune
            await service.reply(ticket.id, agent, f"reply {n}")
        await say(service, "long", "thanks")
        assert (await service.resolve(ticket.id, agent)).status == "resolved"
        assert await settles_at_most(pruning_settings, "long", 1) == 1  # closed: its final checkpoint only
        assert (await service.state("long"))["mode"] == "resolved"
        history = [message["content"] for message in await service.history("long")]
        assert history[-2:] == ["reply 5", "thanks"] and len(history) == 30 * 2 + 1 + 6 + 1
        events = await say(service, "long", "How do I add a team member?")  # the conversation goes on
        assert "assistant_answer" in [event.type for event in events]
    finally:
        await service.close()


async def test_with_pruning_off_every_checkpoint_is_kept(tmp_path):
    settings = settings_for(tmp_path, CHECKPOINT_PRUNE_TURNS=0)
    service = await ConversationService.open(settings)
    try:
        for turn in range(12):
            await say(service, "kept", LONG_CONVERSATION[turn % len(LONG_CONVERSATION)])
        assert await stored_checkpoints(settings, "kept") == 12  # one a turn, none pruned
    finally:
        await service.close()
