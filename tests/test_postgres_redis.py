"""Scale-out parts against the real services: Postgres checkpoints and tickets, Redis event bus."""

from __future__ import annotations

import asyncio
import shutil

from engine.bus import RedisEventBus
from engine.events import StatusChange, thread_topic
from engine.service import ActionRefused, ConversationService
from tests.conftest import free_port, need, settings_for
from tests.helpers import PrivateRedis, Recorder, end_backends, kinds, race_one_agent_for_tickets, say


async def test_a_handoff_paused_before_a_restart_resumes_in_a_fresh_process(tmp_path, postgres_url):
    settings = settings_for(tmp_path, DATABASE_URL=postgres_url)
    before = await ConversationService.open(settings)
    await say(before, "pg-restart", "Hi, I'm Noor, order NW-77001. I want to talk to a person")
    ticket = await before.tickets.open_for_thread("pg-restart")
    await before.close()

    after = await ConversationService.open(settings)
    try:
        noor_agent = await after.tickets.add_agent("Dana", "pw", ["Shipping", "General"])
        await after.claim(ticket.id, noor_agent)
        await after.reply(ticket.id, noor_agent, "Hi Noor, I see order NW-77001.")
        events = await say(after, "pg-restart", "great, thanks")
        assert [e.type for e in events] == ["customer_message"]
        state = await after.state("pg-restart")
        assert [m["role"] for m in await after.history("pg-restart")] == ["customer", "agent", "customer"]
        assert state["brief"]["customer_facts"]["order_number"] == "NW-77001"
    finally:
        await after.close()


async def test_twenty_agents_racing_for_one_ticket_exactly_one_wins(tmp_path, postgres_url):
    service = await ConversationService.open(settings_for(tmp_path, DATABASE_URL=postgres_url))
    try:
        agents = [await service.tickets.add_agent(f"agent{i}", "pw", ["General"]) for i in range(20)]
        await say(service, "pg-race", "operator")
        ticket = await service.tickets.open_for_thread("pg-race")
        results = await asyncio.gather(*(service.claim(ticket.id, agent) for agent in agents), return_exceptions=True)
        winners = [result for result in results if not isinstance(result, Exception)]
        losers = [result for result in results if isinstance(result, ActionRefused)]
        assert len(winners) == 1 and len(losers) == 19
        assert all("already taken by" in str(loser) for loser in losers)
        assert (await service.tickets.get(ticket.id)).assigned_agent == winners[0].assigned_agent
        assert (await service.state("pg-race"))["assigned_agent"] == winners[0].assigned_agent
    finally:
        await service.close()


async def test_an_agent_clicking_claim_on_many_tickets_at_once_stays_within_their_limit(tmp_path, postgres_url):
    service = await ConversationService.open(settings_for(tmp_path, DATABASE_URL=postgres_url))
    try:
        claimed, refused = await race_one_agent_for_tickets(service, tickets=6, max_chats=2)
        assert len(claimed) == 2 and len(refused) == 4
        assert all("your limit" in str(error) for error in refused)
        assert len([t for t in await service.tickets.open_tickets() if t.assigned_agent == "Quick"]) == 2
    finally:
        await service.close()


async def test_the_redis_bus_delivers_across_processes_in_order(redis_url):
    publisher, listener = RedisEventBus(redis_url), RedisEventBus(redis_url)
    await publisher.start()
    await listener.start()
    try:
        heard = Recorder()
        listener.subscribe(thread_topic("bus-1"), heard)
        for index in range(20):
            await publisher.publish(
                thread_topic("bus-1"), StatusChange(thread_id="bus-1", mode="waiting", text=str(index))
            )
        events = await heard.wait_for("status_change", count=20)
        assert [event.text for event in events] == [str(index) for index in range(20)]
    finally:
        await publisher.close()
        await listener.close()


async def test_an_agent_reply_in_one_process_reaches_the_customer_process(tmp_path, postgres_url, redis_url):
    settings = settings_for(tmp_path, DATABASE_URL=postgres_url, REDIS_URL=redis_url)
    customer_side = await ConversationService.open(settings)
    agent_side = await ConversationService.open(settings)
    try:
        customer = Recorder()
        customer_side.bus.subscribe(thread_topic("pg-two"), customer)
        await say(customer_side, "pg-two", "can I speak with a representative")
        ticket = await customer_side.tickets.open_for_thread("pg-two")
        dana = await agent_side.tickets.add_agent("Dana", "pw", ["General"])
        await agent_side.claim(ticket.id, dana)
        await agent_side.reply(ticket.id, dana, "Hello from another process")
        (message,) = await customer.wait_for("agent_message")
        assert message.content == "Hello from another process" and message.agent_name == "Dana"
    finally:
        await customer_side.close()
        await agent_side.close()


async def test_events_published_while_redis_is_down_arrive_once_and_in_order_when_it_is_back(tmp_path):
    need(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis_server = await PrivateRedis(free_port(), tmp_path).start()
    url = redis_server.url
    listener, publisher = RedisEventBus(url), RedisEventBus(url)
    await listener.start()
    await publisher.start()
    heard = Recorder()
    listener.subscribe(thread_topic("outage"), heard)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        await publisher.publish(thread_topic("outage"), StatusChange(thread_id="outage", mode="ai", text="0"))
        await heard.wait_for("status_change", count=1)
        await redis_server.stop()
        ticks_before = ticks
        for index in range(1, 6):  # a publish during the outage returns: the event waits in the process
            await asyncio.wait_for(
                publisher.publish(thread_topic("outage"), StatusChange(thread_id="outage", mode="ai", text=str(index))),
                5,
            )
        await asyncio.sleep(0.3)
        assert ticks > ticks_before, "the event loop stopped running while Redis was down"
        await redis_server.start()
        await publisher.publish(thread_topic("outage"), StatusChange(thread_id="outage", mode="ai", text="6"))
        await heard.wait_for("status_change", count=7)
        assert [event.text for event in heard.events] == [str(index) for index in range(7)]
        assert listener.connected
    finally:
        ticker.cancel()
        await listener.close()
        await publisher.close()
        await redis_server.stop()


async def test_events_held_in_postgres_survive_their_publisher_and_keep_its_order(tmp_path, postgres_url):
    """With Postgres, what a process publishes while Redis is down waits in a table: the process may
    die before Redis is back, and another process sends its events on, in order; a process that lives
    sends its later events after its held ones."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from engine.outbox import DurableOutbox

    need(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis_server = await PrivateRedis(free_port(), tmp_path).start()
    engine = create_async_engine(settings_for(tmp_path, DATABASE_URL=postgres_url).sqlalchemy_url)
    outbox = DurableOutbox(engine)
    await outbox.create_table()
    listener, dying, living = (RedisEventBus(redis_server.url, outbox) for _ in range(3))
    heard = Recorder()

    async def publish(bus: RedisEventBus, text: str) -> None:
        await asyncio.wait_for(
            bus.publish(thread_topic("held"), StatusChange(thread_id="held", mode="ai", text=text)), 5
        )

    try:
        for bus in (listener, dying, living):
            await bus.start()
        listener.subscribe(thread_topic("held"), heard)
        await redis_server.stop()
        for index in range(3):
            await publish(dying, f"dying {index}")
        await dying.close()  # as good as dead: its events are in Postgres, not in its memory
        for index in range(3):
            await publish(living, f"living {index}")
        await redis_server.start()
        await publish(living, "living 3")  # after its held ones, though Redis takes it now
        await heard.wait_for("status_change", count=7, timeout=20)
        texts = [event.text for event in heard.events]
        assert sorted(texts) == sorted([*(f"dying {n}" for n in range(3)), *(f"living {n}" for n in range(4))])
        assert [t for t in texts if t.startswith("dying")] == [f"dying {n}" for n in range(3)]
        assert [t for t in texts if t.startswith("living")] == [f"living {n}" for n in range(4)]
        await asyncio.sleep(0.5)
        assert len(heard.events) == 7  # none twice
    finally:
        await listener.close()
        await living.close()
        await redis_server.stop()
        await engine.dispose()


async def test_nul_bytes_and_lone_surrogates_never_poison_a_conversation(tmp_path, postgres_url):
    service = await ConversationService.open(settings_for(tmp_path, DATABASE_URL=postgres_url))
    try:
        answered = await say(service, "pg-nul", "How do I reset my pass\x00word?\ud800")
        assert "assistant_answer" in [event.type for event in answered]
        await say(service, "pg-nul", "I want to talk to a person")
        ticket = await service.tickets.open_for_thread("pg-nul")
        dana = await service.tickets.add_agent("Dana", "pw", ["Account", "General"])
        (waiting,) = await say(service, "pg-nul", "my order is NW-1\x00 \udfff thanks")
        assert waiting.content == "my order is NW-1 \ufffd thanks"
        await service.claim(ticket.id, dana)
        sent = await service.reply(ticket.id, dana, "Hi\x00, I see NW-1")
        assert sent["content"] == "Hi, I see NW-1"
        await service.add_note(ticket.id, dana, "note\x00")
        await say(service, "pg-nul", "great\x00")
        resolved = await service.resolve(ticket.id, dana)
        assert resolved.status == "resolved"
        contents = [message["content"] for message in await service.history("pg-nul")]
        assert contents[0] == "How do I reset my password?\ufffd" and "great" in contents
        assert not any("\x00" in content for content in contents)
    finally:
        await service.close()


async def test_connections_postgres_ended_are_replaced_before_a_reply_or_a_message_uses_them(
    tmp_path, postgres_url, postgres_admin_url
):
    """A failover or restart ends every backend: the next reply and customer message still go through."""
    service = await ConversationService.open(settings_for(tmp_path, DATABASE_URL=postgres_url))
    try:
        agent = await service.tickets.add_agent("Stale", "pw", ["General"])
        await say(service, "pg-stale", "I want to talk to a person")
        ticket = await service.tickets.open_for_thread("pg-stale")
        assert ticket is not None
        await service.claim(ticket.id, agent)
        await service.reply(ticket.id, agent, "before")  # every pool now holds an open connection
        assert await end_backends(postgres_admin_url, postgres_url.rsplit("/", 1)[1]) > 0
        sent = await service.reply(ticket.id, agent, "after the restart")
        (delivered,) = await say(service, "pg-stale", "still here")
        assert sent["content"] == "after the restart" and delivered.type == "customer_message"
        assert [m["content"] for m in await service.history("pg-stale")][-2:] == ["after the restart", "still here"]
    finally:
        await service.close()


async def test_a_turn_whose_lock_connection_postgres_ends_while_it_answers_still_completes(
    tmp_path, postgres_url, postgres_admin_url
):
    """The thread lock holds a connection for the whole turn; a failover ending it mid-answer loses the
    lock, not the turn: the answer is delivered and stored, and the next message goes through."""
    settings = settings_for(tmp_path, DATABASE_URL=postgres_url, OFFLINE_TOKEN_DELAY_SECONDS=0.01)
    service = await ConversationService.open(settings)
    try:
        turn = asyncio.create_task(say(service, "pg-lock-lost", "How do I reset my password?"))
        await asyncio.sleep(0.4)  # streaming the answer: the lock's is the one connection in use
        assert not turn.done()
        assert await end_backends(postgres_admin_url, postgres_url.rsplit("/", 1)[1]) > 0
        answered = await turn
        assert "assistant_answer" in kinds(answered)
        assert "assistant_answer" in kinds(await say(service, "pg-lock-lost", "How do I track my order?"))
        assert [m["role"] for m in await service.history("pg-lock-lost")] == ["customer", "assistant"] * 2
    finally:
        await service.close()


async def test_a_login_pause_on_one_process_holds_on_the_other(tmp_path, postgres_url, redis_url):
    import uuid

    import httpx

    from tests.clients import RunningApp
    from tests.conftest import app_env

    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url}
    first = await RunningApp(free_port(), app_env(tmp_path / "a", **env)).start()
    second = await RunningApp(free_port(), app_env(tmp_path / "b", **env)).start()
    await first.add_agent("Oda", ["General"])
    address = {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}"}  # Redis keeps counts past one run
    login = "/portal/login"
    try:
        async with httpx.AsyncClient(headers=address) as http:
            guesses = [
                await http.post(first.base_url + login, json={"name": "Oda", "password": f"g{n}"}) for n in range(5)
            ]
            on_the_other = await http.post(second.base_url + login, json={"name": "Oda", "password": "g5"})
            right_there_too = await http.post(second.base_url + login, json={"name": "Oda", "password": "Oda-password"})
        assert [g.status_code for g in guesses] == [401] * 5
        assert on_the_other.status_code == 429 and right_there_too.status_code == 429
    finally:
        await first.stop()
        await second.stop()
