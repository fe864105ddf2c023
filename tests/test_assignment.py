"""Automatic assignment (ASSIGNMENT=auto): a ticket goes at once to an available agent who can take it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.assignment import pick_agent
from engine.events import PORTAL_TOPIC, TicketView
from engine.service import ConversationService
from engine.storage import make_sql_engine
from engine.tickets import AgentProfile, TicketEventRow, TicketStore
from tests.clients import ChainlitCustomer, PortalAgent, RunningApp
from tests.conftest import app_env, free_port, settings_for
from tests.helpers import Recorder, say


def _agent(name: str, skills: list[str], max_chats: int = 3, languages: list[str] | None = None) -> AgentProfile:
    return AgentProfile(
        name=name, skills=skills, is_supervisor=False, max_chats=max_chats, avatar_url="", languages=languages or ["en"]
    )


def _ticket(skills: list[str], language: str = "en") -> TicketView:
    return TicketView(
        id="t",
        thread_id="th",
        status="waiting",
        reason="handoff_request",
        summary="",
        skills=skills,
        priority=0,
        sentiment=0,
        frustration=0,
        customer_facts={},
        language=language,
        waiting_since=datetime.now(UTC),
    )


def test_the_agent_with_the_most_free_capacity_gets_the_ticket_then_the_one_who_waited_longest():
    ana, ben, cy = _agent("Ana", ["Billing"]), _agent("Ben", ["Billing"], max_chats=5), _agent("Cy", ["Billing"])
    now = datetime.now(UTC)
    assert pick_agent(_ticket(["Billing"]), [ana, ben, cy], {"Ana": 1, "Ben": 1}, {}) is ben  # 4 free of 5
    tied = pick_agent(_ticket(["Billing"]), [ana, cy], {}, {"Ana": now, "Cy": now - timedelta(minutes=5)})
    assert tied is cy
    assert pick_agent(_ticket(["Billing"]), [ana, cy], {}, {"Ana": now}) is cy  # never assigned: waited longest


def test_nobody_without_the_skill_or_a_free_slot_is_picked_and_a_speaker_of_the_language_comes_first():
    ana, ben = _agent("Ana", ["Billing"], max_chats=1), _agent("Ben", ["Technical"])
    assert pick_agent(_ticket(["Billing"]), [ana, ben], {"Ana": 1}, {}) is None
    lea = _agent("Lea", ["Billing"], max_chats=2, languages=["en", "de"])
    many = _agent("Max", ["Billing"], max_chats=9)
    assert pick_agent(_ticket(["Billing"], language="de"), [lea, many], {}, {}) is lea
    assert pick_agent(_ticket(["Billing"], language="en"), [lea, many], {}, {}) is many


async def _assigned(heard: Recorder, ticket_id: str) -> TicketView:
    for _ in range(100):
        found = [
            e.ticket for e in heard.of("ticket_updated") if e.ticket.id == ticket_id and e.ticket.status == "assigned"
        ]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"ticket {ticket_id} was not assigned")


async def test_a_new_ticket_goes_to_the_available_agent_with_most_room_and_an_away_agent_gets_none(tmp_path):
    service = await ConversationService.open(settings_for(tmp_path, ASSIGNMENT="auto"))
    heard = Recorder()
    service.bus.subscribe(PORTAL_TOPIC, heard)
    try:
        await service.tickets.add_agent("Busy", "pw", ["General"], max_chats=3)
        await service.tickets.add_agent("Roomy", "pw", ["General"], max_chats=3)
        resting = await service.tickets.add_agent("Resting", "pw", ["General"], max_chats=9)
        await service.set_availability(resting, away=True)
        await service.agents_present("process-1", {"Busy", "Roomy", "Resting"})
        await say(service, "a-first", "I want to talk to a person")
        first = await service.tickets.open_for_thread("a-first")
        assert first is not None
        assert (await _assigned(heard, first.id)).assigned_agent in {"Busy", "Roomy"}
        holder = (await service.tickets.get(first.id)).assigned_agent  # type: ignore[union-attr]
        await say(service, "a-second", "can I speak to a human")
        second = await service.tickets.open_for_thread("a-second")
        assert second is not None
        # The other one now has more room; the away agent, with 9 free slots, gets nothing.
        assert (await _assigned(heard, second.id)).assigned_agent == ({"Busy", "Roomy"} - {holder}).pop()

        await service.agents_present("process-1", set())  # everyone closes the portal
        await say(service, "a-third", "a real person please")
        third = await service.tickets.open_for_thread("a-third")
        assert third is not None and third.status == "waiting"
        await service.agents_present("process-1", {"Resting"})
        await service.set_availability(resting, away=False)  # back: the waiting ticket goes to them
        assert (await _assigned(heard, third.id)).assigned_agent == "Resting"
    finally:
        await service.close()


async def test_fifty_tickets_at_once_across_two_processes_are_each_assigned_once_within_every_limit(
    tmp_path, postgres_url, redis_url
):
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "ASSIGNMENT": "auto"}
    apps = [await RunningApp(free_port(), app_env(tmp_path / name, **env)).start() for name in ("a", "b")]
    names = [f"Auto{index}" for index in range(5)]
    for name in names:
        await apps[0].add_agent(name, ["General", "Billing", "Account", "Technical", "Shipping"], max_chats=10)
    agents = [await PortalAgent(apps[index % 2], name).connect() for index, name in enumerate(names)]
    customers = [await ChainlitCustomer(apps[index % 2]).connect() for index in range(50)]
    engine = make_sql_engine(apps[0].settings)
    try:
        await asyncio.gather(
            *(customer.say(f"I want to talk to a person, case {index}") for index, customer in enumerate(customers))
        )
        await asyncio.gather(*(customer.text_shown("joined the conversation", timeout=90) for customer in customers))
        store = TicketStore(engine)
        tickets = await store.open_tickets()
        assert len(tickets) == 50 and {ticket.status for ticket in tickets} == {"assigned"}
        per_agent = Counter(ticket.assigned_agent for ticket in tickets)
        assert set(per_agent) <= set(names) and max(per_agent.values()) <= 10 and sum(per_agent.values()) == 50
        async with engine.connect() as connection:
            claims = Counter(
                (
                    await connection.execute(select(TicketEventRow.ticket_id).where(TicketEventRow.kind == "claimed"))
                ).scalars()
            )
        assert len(claims) == 50 and set(claims.values()) == {1}, "a ticket was assigned twice"
    finally:
        await engine.dispose()
        for client in [*customers, *agents]:
            await client.close()
        for app in apps:
            await app.stop()
