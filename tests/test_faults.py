"""Faults injected into the real thing: two app processes on real Postgres and Redis, real sockets.

Each test breaks something an operator's bad day breaks, then counts, per message: sent, acknowledged
(or refused with a clear error), delivered to the other side and stored. The counts are printed at the
end of the run beside the models' figures.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.clients import ChainlitCustomer, PortalAgent, RunningApp, escalate
from tests.conftest import app_env, free_port, need
from tests.helpers import PrivateRedis, end_backends


@dataclass
class Counts:
    """What happened to the messages sent during one fault, one direction."""

    sent: int = 0
    acknowledged: int = 0  # the sender was told it went through
    refused: int = 0  # the sender was told plainly it did not, with a way to send it again
    delivered: int = 0  # reached the other side (live or after the fault), each once
    stored: int = 0  # in the conversation's transcript, each once

    def line(self, fault: str, direction: str) -> str:
        return (
            f"{fault}, {direction}: sent {self.sent}, acknowledged {self.acknowledged}, refused {self.refused}, "
            f"delivered {self.delivered}, stored {self.stored}"
        )


@dataclass
class TwoProcesses:
    customer_side: RunningApp
    agent_side: RunningApp
    database: str
    redis: PrivateRedis  # the test's own, to stop and start (the shared one serves other tests)


@pytest.fixture
async def two_processes(tmp_path: Path, postgres_url: str, redis_url: str) -> AsyncIterator[TwoProcesses]:
    need(shutil.which("redis-server") is not None, "redis-server is not installed")
    redis = await PrivateRedis(free_port(), tmp_path).start()
    env = {"DATABASE_URL": postgres_url, "REDIS_URL": redis.url}
    customer_side = await RunningApp(free_port(), app_env(tmp_path / "a", **env)).start()
    agent_side = await RunningApp(free_port(), app_env(tmp_path / "b", **env)).start()
    try:
        yield TwoProcesses(customer_side, agent_side, postgres_url.rsplit("/", 1)[1], redis)
    finally:
        await customer_side.stop()
        await agent_side.stop()
        await redis.stop()


async def _refuse_connections(admin_url: str, database: str, refuse: bool) -> None:
    """Postgres out of connections for this database: new ones refused, the pools' open ones ended."""
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {"false" if refuse else "true"}')
    finally:
        await admin.close()
    if refuse:
        await end_backends(admin_url, database)


async def _stored_once(admin_url: str, database: str, thread_id: str, texts: list[str]) -> tuple[int, int]:
    """How many of the texts the conversation's transcript holds exactly once, and Chainlit's chat
    history (what the customer sees after a reload) too."""
    connection = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + f"/{database}")
    try:
        transcript = await connection.fetch("SELECT content FROM ee_messages WHERE thread_id = $1", thread_id)
        history = await connection.fetch('SELECT output FROM steps WHERE "threadId" = $1', thread_id)
    finally:
        await connection.close()
    in_transcript = [row["content"] for row in transcript]
    in_history = [row["output"] for row in history]
    return sum(in_transcript.count(text) == 1 for text in texts), sum(in_history.count(text) == 1 for text in texts)


async def _say_counting(customer: ChainlitCustomer, texts: list[str], counts: Counts) -> None:
    """Says each text, counting it sent, and acknowledged unless a failure notice follows it."""
    for text in texts:
        before = len(customer.log.named("new_message"))
        await customer.say(text)
        counts.sent += 1
        await asyncio.sleep(0.3)  # a failure notice would come now
        notices = [m for m in customer.log.named("new_message")[before:] if "did not reach us" in (m["output"] or "")]
        counts.acknowledged += not notices


async def _held_conversation(apps: TwoProcesses, agent_name: str) -> tuple[PortalAgent, ChainlitCustomer, dict]:
    """A customer on one process with an agent of the other who has claimed their ticket."""
    await apps.agent_side.add_agent(agent_name, ["General"])
    agent = await PortalAgent(apps.agent_side, agent_name).connect()
    customer = await ChainlitCustomer(apps.customer_side).connect()
    ticket = await escalate(customer, agent)
    assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
    await customer.text_shown(f"{agent_name} joined the conversation")
    return agent, customer, ticket


async def _count_arrivals(
    admin_url: str,
    apps: TwoProcesses,
    exchange: tuple[PortalAgent, ChainlitCustomer, str],
    customer_texts: list[str],
    agent_texts: list[str],
    tallies: tuple[Counts, Counts],
    fault: tuple[str, list[str]],
) -> None:
    """Waits for every text to reach the other side, counts each delivered once and stored once, and
    adds the counts to the run's report under the fault's name."""
    agent, customer, agent_name = exchange
    from_customer, from_agent = tallies
    for text in agent_texts:
        await customer.message_from(agent_name, text, timeout=30)
    for text in customer_texts:
        await agent.log.wait_for("customer_message", lambda e, text=text: e["content"] == text, timeout=30)
    await asyncio.sleep(0.5)  # a duplicate would arrive in this time
    heard = [e["content"] for e in agent.log.named("customer_message")]
    shown = [m["output"] for m in customer.log.named("new_message") if m.get("name") == agent_name]
    from_customer.delivered = sum(heard.count(text) == 1 for text in customer_texts)
    from_agent.delivered = sum(sum(text in output for output in shown) == 1 for text in agent_texts)
    assert customer.thread_id
    from_customer.stored, in_history = await _stored_once(admin_url, apps.database, customer.thread_id, customer_texts)
    assert in_history == len(customer_texts)  # what the chat shows after a reload is what reached the agent
    from_agent.stored, _ = await _stored_once(admin_url, apps.database, customer.thread_id, agent_texts)
    name, report = fault
    report += [from_customer.line(name, "customer -> agent"), from_agent.line(name, "agent -> customer")]


async def test_with_postgres_refusing_connections_nothing_is_lost_and_both_sides_are_told_at_once(
    two_processes: TwoProcesses, postgres_admin_url: str, fault_report: list[str]
):
    """Out of connections mid-conversation: every customer message and agent reply is either delivered or
    refused with a clear error; resent after the fault, each arrives once and is stored once."""
    apps = two_processes
    agent, customer, ticket = await _held_conversation(apps, "Faye Fault")
    from_customer, from_agent = Counts(), Counts()
    customer_texts = [f"message {n} while the database is out" for n in range(3)]
    agent_texts = [f"reply {n} while the database is out" for n in range(3)]
    try:
        await _refuse_connections(postgres_admin_url, apps.database, refuse=True)
        retries: list[dict] = []
        for text in customer_texts:
            await customer.say(text)
            from_customer.sent += 1
            button = await customer.log.wait_for(
                "action", lambda a: a["name"] == "send_again" and a["id"] not in {b["id"] for b in retries}
            )
            notice = next(m for m in customer.log.named("new_message") if m["id"] == button["forId"])
            assert "did not reach us" in notice["output"], notice
            from_customer.refused += 1
            retries.append(button)
        for text in agent_texts:
            ack = await agent.call("reply", {"ticket_id": ticket["id"], "text": text})
            from_agent.sent += 1
            assert not ack["ok"] and ack["error"], ack  # a plain error, at once: the agent can send it again
            from_agent.refused += 1

        await _refuse_connections(postgres_admin_url, apps.database, refuse=False)
        for button in retries:
            await customer.click(button)
        for text in agent_texts:
            assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": text}))["ok"]
            from_agent.acknowledged += 1
        await _count_arrivals(
            postgres_admin_url,
            apps,
            (agent, customer, "Faye Fault"),
            customer_texts,
            agent_texts,
            (from_customer, from_agent),
            ("Postgres refusing connections", fault_report),
        )
        assert from_customer == Counts(sent=3, refused=3, delivered=3, stored=3)
        assert from_agent == Counts(sent=3, acknowledged=3, refused=3, delivered=3, stored=3)
        # The conversation is whole: the agent still holds it and it goes on.
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "all good now"}))["ok"]
        await customer.message_from("Faye Fault", "all good now")
    finally:
        await _refuse_connections(postgres_admin_url, apps.database, refuse=False)
        await customer.close()
        await agent.close()


@pytest.mark.xfail(
    reason="known fault, issue 8: after every backend is ended, a customer message can be shown as delivered "
    "and not reach the agent within 30 s, and a refused reply can be refused again (not waiting for an agent); "
    "fails in about half of the runs",
    strict=False,
)
async def test_with_postgres_backends_ended_mid_burst_every_message_is_acknowledged_or_refused_and_none_is_lost(
    two_processes: TwoProcesses, postgres_admin_url: str, fault_report: list[str]
):
    """Both sides send a burst, and halfway every backend of the database is ended (a failover): each
    message is acknowledged, or refused plainly and sent again; each arrives once and is stored once."""
    apps = two_processes
    agent, customer, ticket = await _held_conversation(apps, "Tess Terminate")
    from_customer, from_agent = Counts(), Counts()
    customer_texts = [f"message {n} across the failover" for n in range(6)]
    agent_texts = [f"reply {n} across the failover" for n in range(6)]
    try:
        for number, (said, replied) in enumerate(zip(customer_texts, agent_texts, strict=True)):
            if number == 3:
                assert await end_backends(postgres_admin_url, apps.database) > 0
            await customer.say(said)
            from_customer.sent += 1
            ack = await agent.call("reply", {"ticket_id": ticket["id"], "text": replied})
            from_agent.sent += 1
            if not ack["ok"]:
                assert ack["error"], ack
                from_agent.refused += 1
                ack = await agent.call("reply", {"ticket_id": ticket["id"], "text": replied})
            assert ack["ok"], ack
            from_agent.acknowledged += 1
        await asyncio.sleep(1)  # a customer message that failed shows its button by now
        for button in [a for a in customer.log.named("action") if a["name"] == "send_again"]:
            from_customer.refused += 1
            await customer.click(button)
        from_customer.acknowledged = from_customer.sent - from_customer.refused
        await _count_arrivals(
            postgres_admin_url,
            apps,
            (agent, customer, "Tess Terminate"),
            customer_texts,
            agent_texts,
            (from_customer, from_agent),
            ("Postgres backends ended mid-burst", fault_report),
        )
        assert from_customer.delivered == from_customer.stored == len(customer_texts)
        assert from_agent.delivered == from_agent.stored == from_agent.acknowledged == len(agent_texts)
    finally:
        await customer.close()
        await agent.close()


async def test_with_redis_stopped_mid_conversation_what_was_acknowledged_arrives_once_when_it_is_back(
    two_processes: TwoProcesses, postgres_admin_url: str, fault_report: list[str]
):
    """Redis (the bus between the processes, and socket.io's) is stopped while customer and agent keep
    writing: both are acknowledged (the messages are stored), and everything reaches the other side,
    once, when Redis is back; both processes keep answering meanwhile."""
    apps = two_processes
    agent, customer, ticket = await _held_conversation(apps, "Rhea Redis")
    from_customer, from_agent = Counts(), Counts()
    customer_texts = [f"message {n} while redis is out" for n in range(3)]
    agent_texts = [f"reply {n} while redis is out" for n in range(3)]
    try:
        await apps.redis.stop()
        await _say_counting(customer, customer_texts, from_customer)
        for text in agent_texts:
            ack = await agent.call("reply", {"ticket_id": ticket["id"], "text": text})
            from_agent.sent += 1
            from_agent.acknowledged += bool(ack["ok"])
        async with httpx.AsyncClient() as http:  # neither process hangs
            for running in (apps.customer_side, apps.agent_side):
                assert (await http.get(f"{running.base_url}/healthz", timeout=5)).status_code == 200
                assert (await http.get(f"{running.base_url}/readyz", timeout=5)).status_code == 503

        await apps.redis.start()
        await _count_arrivals(
            postgres_admin_url,
            apps,
            (agent, customer, "Rhea Redis"),
            customer_texts,
            agent_texts,
            (from_customer, from_agent),
            ("Redis stopped and restarted", fault_report),
        )
        assert from_customer == Counts(sent=3, acknowledged=3, delivered=3, stored=3)
        assert from_agent == Counts(sent=3, acknowledged=3, delivered=3, stored=3)
    finally:
        await customer.close()
        await agent.close()


async def test_what_a_process_held_during_a_redis_outage_arrives_after_that_process_dies(
    two_processes: TwoProcesses, postgres_admin_url: str, fault_report: list[str]
):
    """The customer writes while Redis is down, and their process is killed before Redis is back: the
    events it held for the agent (in Postgres) are sent on by the other process, and the agent sees
    each message once, live."""
    apps = two_processes
    agent, customer, _ticket = await _held_conversation(apps, "Otto Outbox")
    from_customer = Counts()
    texts = [f"message {n} before my process dies" for n in range(3)]
    try:
        await apps.redis.stop()
        await _say_counting(customer, texts, from_customer)
        assert customer.thread_id
        await asyncio.sleep(0.5)  # the last turn holds its event
        await apps.customer_side.kill()
        await apps.redis.start()
        for text in texts:
            await agent.log.wait_for("customer_message", lambda e, text=text: e["content"] == text, timeout=30)
        await asyncio.sleep(0.5)  # a duplicate would arrive in this time
        heard = [e["content"] for e in agent.log.named("customer_message")]
        from_customer.delivered = sum(heard.count(text) == 1 for text in texts)
        from_customer.stored, _ = await _stored_once(postgres_admin_url, apps.database, customer.thread_id, texts)
        fault_report.append(
            from_customer.line(
                "Redis stopped, then the customer's process killed before it was back", "customer -> agent"
            )
        )
        assert from_customer == Counts(sent=3, acknowledged=3, delivered=3, stored=3)
    finally:
        await agent.close()


NAMES = ("Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea")


async def test_with_every_pooled_connection_taken_each_question_is_answered_or_refused_and_resent(
    tmp_path: Path, postgres_url: str, postgres_admin_url: str, fake_llm, fault_report: list[str]
):
    """Twelve customers ask at once of a process with the smallest connection budget (four runs at a
    time) and a slow model: each question waits for a connection or is refused plainly at once; sent
    again after the burst, every question is answered once and stored once."""
    fake_llm.reset(reply=" ".join(f"word{n}" for n in range(30)), token_delay=0.05)
    env = app_env(
        tmp_path,
        DATABASE_URL=postgres_url,
        POSTGRES_CONNECTIONS="10",
        DATABASE_WAIT_SECONDS="1",
        LLM_TIMEOUT_SECONDS="2",
        OPENAI_BASE_URL=fake_llm.url,
        OPENAI_API_KEY="test",
    )
    running = await RunningApp(free_port(), env).start()
    customers = [await ChainlitCustomer(running).connect() for _ in NAMES]
    counts = Counts()
    try:
        questions = [f"Hi, I'm {name}. How do I reset my password?" for name in NAMES]
        await asyncio.gather(*(customer.say(text) for customer, text in zip(customers, questions, strict=True)))
        counts.sent = len(questions)

        async def answered_or_refused(customer: ChainlitCustomer) -> dict | None:
            """The Send again button if the question was refused, None once it is answered."""
            answer = asyncio.create_task(customer.answer("word29", timeout=60))
            refusal = asyncio.create_task(customer.log.wait_for("action", lambda a: a["name"] == "send_again", 60))
            done, pending = await asyncio.wait({answer, refusal}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            return refusal.result() if refusal in done else None

        outcomes = await asyncio.gather(*(answered_or_refused(customer) for customer in customers))
        counts.refused = sum(button is not None for button in outcomes)
        counts.acknowledged = counts.sent - counts.refused
        for customer, button in zip(customers, outcomes, strict=True):
            if button is not None:
                await customer.click(button)
                await customer.answer("word29", timeout=60)
        await asyncio.sleep(0.5)  # a second answer would arrive in this time
        database = postgres_url.rsplit("/", 1)[1]
        for customer, text in zip(customers, questions, strict=True):
            answers = [m for m in customer.log.named("new_message") if "word29" in (m.get("output") or "")]
            counts.delivered += len(answers) == 1
            assert customer.thread_id
            stored, in_history = await _stored_once(postgres_admin_url, database, customer.thread_id, [text])
            counts.stored += stored == in_history == 1
        fault_report.append(
            counts.line(
                "every pooled connection taken (12 questions at once, 4 runs at a time)", "customer -> assistant"
            )
        )
        assert counts.delivered == counts.stored == counts.sent
    finally:
        for customer in customers:
            await customer.close()
        await running.stop()


async def _open_tickets(admin_url: str, database: str, thread_id: str) -> list[str]:
    connection = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + f"/{database}")
    try:
        rows = await connection.fetch(
            "SELECT id FROM ee_tickets WHERE thread_id = $1 AND status IN ('waiting', 'assigned')", thread_id
        )
    finally:
        await connection.close()
    return [row["id"] for row in rows]


def _shown(customer: ChainlitCustomer, text: str) -> bool:
    return any(text in (m.get("output") or "") for name, m in customer.log.events if name.endswith("_message"))


async def test_the_customer_process_killed_at_any_moment_of_a_handoff_leaves_no_ticket_unusable(
    two_processes: TwoProcesses, postgres_admin_url: str, fault_report: list[str]
):
    """SIGKILL of the customer's process at moments from "just sent" to "long done": afterwards each
    conversation has one open ticket at most; if the customer was told they are being connected, the
    ticket is there; every ticket is claimable and the agent's reply reaches the customer."""
    apps = two_processes
    await apps.agent_side.add_agent("Kit Kill", ["General"], max_chats=20)
    agent = await PortalAgent(apps.agent_side, "Kit Kill").connect()
    outcomes: Counter[str] = Counter()
    try:
        for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 1.0):
            customer = await ChainlitCustomer(apps.customer_side).connect()
            await customer.say("hello")
            await customer.answer()
            thread_id, cookies = customer.thread_id, customer.cookies
            assert thread_id
            await customer.say("I want to talk to a person")
            await asyncio.sleep(delay)
            told = _shown(customer, "Connecting you to an agent")
            await apps.customer_side.kill()
            await customer.sio.eio.disconnect(abort=True)
            await apps.customer_side.start()
            back = await ChainlitCustomer(apps.customer_side, cookies).connect(thread_id)
            try:
                tickets = await _open_tickets(postgres_admin_url, apps.database, thread_id)
                if not tickets:
                    assert not told, f"told they were being connected, yet no ticket (killed after {delay}s)"
                    await back.say("I want to talk to a person")  # what a customer does when nothing happened
                    await back.text_shown("Connecting you to an agent")
                    tickets = await _open_tickets(postgres_admin_url, apps.database, thread_id)
                    outcomes["no ticket yet, the customer asked again"] += 1
                else:
                    outcomes["ticket written before the kill"] += 1
                assert len(tickets) == 1, tickets
                claimed = await agent.call("claim", {"ticket_id": tickets[0]})
                assert claimed["ok"], (delay, claimed)
                await back.text_shown("Kit Kill joined the conversation")
                assert (await agent.call("reply", {"ticket_id": tickets[0], "text": f"here after {delay}"}))["ok"]
                await back.message_from("Kit Kill", f"here after {delay}")
                assert (await agent.call("resolve", {"ticket_id": tickets[0]}))["ok"]
                outcomes["claimed, replied, resolved"] += 1
            finally:
                await back.close()
        fault_report.append(
            "customer's process killed (SIGKILL) 0-1 s after asking for a person, 7 times: "
            + ", ".join(f"{what} {count}" for what, count in outcomes.items())
        )
        assert outcomes["claimed, replied, resolved"] == 7
    finally:
        await agent.close()


async def test_a_process_killed_mid_reply_burst_loses_no_acknowledged_reply(
    two_processes: TwoProcesses, postgres_admin_url: str, fault_report: list[str]
):
    """The agent sends a burst of replies. Killing the customer's process halfway: every reply is
    acknowledged and the customer, back on the restarted process, has each once. Killing the agent's
    process halfway: every reply that was acknowledged reaches the customer once."""
    apps = two_processes
    agent, customer, ticket = await _held_conversation(apps, "Bea Burst")
    to_gone_customer, from_dying_agent = Counts(), Counts()
    try:
        thread_id, cookies = customer.thread_id, customer.cookies
        assert thread_id

        first_burst = [f"first burst {n}" for n in range(10)]
        for number, text in enumerate(first_burst):
            if number == 5:
                await apps.customer_side.kill()
                await customer.sio.eio.disconnect(abort=True)
            to_gone_customer.sent += 1
            to_gone_customer.acknowledged += bool(
                (await agent.call("reply", {"ticket_id": ticket["id"], "text": text}))["ok"]
            )
        await apps.customer_side.start()
        back = await ChainlitCustomer(apps.customer_side, cookies).connect(thread_id)
        steps = (await back.log.wait_for("resume_thread"))["steps"]
        outputs = [step.get("output") or "" for step in steps]
        to_gone_customer.delivered = sum(sum(text in output for output in outputs) == 1 for text in first_burst)
        to_gone_customer.stored, _ = await _stored_once(postgres_admin_url, apps.database, thread_id, first_burst)
        fault_report.append(to_gone_customer.line("customer's process killed mid reply burst", "agent -> customer"))
        assert to_gone_customer == Counts(sent=10, acknowledged=10, delivered=10, stored=10)

        second_burst = [f"second burst {n}" for n in range(10)]
        calls = [
            asyncio.create_task(agent.call("reply", {"ticket_id": ticket["id"], "text": text})) for text in second_burst
        ]
        while sum(call.done() for call in calls) < 3:  # killed with some acknowledged, the rest in flight
            await asyncio.sleep(0.002)
        await apps.agent_side.kill()
        acks = await asyncio.gather(*calls, return_exceptions=True)
        acknowledged = [
            text for text, ack in zip(second_burst, acks, strict=True) if isinstance(ack, dict) and ack.get("ok")
        ]
        from_dying_agent.sent, from_dying_agent.acknowledged = len(second_burst), len(acknowledged)
        for text in acknowledged:
            await back.message_from("Bea Burst", text)
        await asyncio.sleep(0.5)  # a duplicate would arrive in this time
        shown = [m["output"] for m in back.log.named("new_message") if m.get("name") == "Bea Burst"]
        from_dying_agent.delivered = sum(sum(text in output for output in shown) == 1 for text in acknowledged)
        from_dying_agent.stored, _ = await _stored_once(postgres_admin_url, apps.database, thread_id, acknowledged)
        fault_report.append(from_dying_agent.line("agent's process killed mid reply burst", "agent -> customer"))
        assert from_dying_agent.acknowledged >= 3
        assert from_dying_agent.delivered == from_dying_agent.acknowledged == from_dying_agent.stored
        assert not [text for text in second_burst if sum(text in output for output in shown) > 1]  # none twice
        await back.close()
    finally:
        await customer.close()
        await agent.close()
