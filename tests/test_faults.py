"""Faults injected into the real thing: two app processes on real Postgres and Redis, real sockets.

Each test breaks something an operator's bad day breaks, then counts, per message: sent, acknowledged
(or refused with a clear error), delivered to the other side and stored. The counts are printed at the
end of the run beside the models' figures.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.clients import ChainlitCustomer, PortalAgent, RunningApp, escalate
from tests.conftest import app_env, free_port, need
from tests.helpers import PrivateRedis


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
        if refuse:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
    finally:
        await admin.close()


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


async def test_with_postgres_refusing_connections_nothing_is_lost_and_both_sides_are_told_at_once(
    two_processes: TwoProcesses, postgres_admin_url: str, fault_report: list[str]
):
    """Out of connections mid-conversation: every customer message and agent reply is either delivered or
    refused with a clear error; resent after the fault, each arrives once and is stored once."""
    apps = two_processes
    await apps.agent_side.add_agent("Faye Fault", ["General"])
    agent = await PortalAgent(apps.agent_side, "Faye Fault").connect()
    customer = await ChainlitCustomer(apps.customer_side).connect()
    from_customer, from_agent = Counts(), Counts()
    customer_texts = [f"message {n} while the database is out" for n in range(3)]
    agent_texts = [f"reply {n} while the database is out" for n in range(3)]
    try:
        ticket = await escalate(customer, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        await customer.text_shown("Faye Fault joined the conversation")

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
        for text in agent_texts:
            await customer.message_from("Faye Fault", text)
        for text in customer_texts:
            await agent.log.wait_for("customer_message", lambda e, text=text: e["content"] == text)
        await asyncio.sleep(0.5)  # a duplicate would arrive in this time
        heard = [e["content"] for e in agent.log.named("customer_message")]
        shown = [m["output"] for m in customer.log.named("new_message") if m.get("name") == "Faye Fault"]
        from_customer.delivered = sum(heard.count(text) == 1 for text in customer_texts)
        from_agent.delivered = sum(sum(text in output for output in shown) == 1 for text in agent_texts)
        from_customer.stored, in_history = await _stored_once(
            postgres_admin_url, apps.database, customer.thread_id, customer_texts
        )
        assert in_history == 3  # what the chat shows after a reload is what reached the agent
        from_agent.stored, _ = await _stored_once(postgres_admin_url, apps.database, customer.thread_id, agent_texts)
        fault_report.append(from_customer.line("Postgres refusing connections", "customer -> agent"))
        fault_report.append(from_agent.line("Postgres refusing connections", "agent -> customer"))
        assert from_customer == Counts(sent=3, refused=3, delivered=3, stored=3)
        assert from_agent == Counts(sent=3, acknowledged=3, refused=3, delivered=3, stored=3)
        # The conversation is whole: the agent still holds it and it goes on.
        assert (await agent.call("reply", {"ticket_id": ticket["id"], "text": "all good now"}))["ok"]
        await customer.message_from("Faye Fault", "all good now")
    finally:
        await _refuse_connections(postgres_admin_url, apps.database, refuse=False)
        await customer.close()
        await agent.close()


async def test_with_redis_stopped_mid_conversation_what_was_acknowledged_arrives_once_when_it_is_back(
    two_processes: TwoProcesses, postgres_admin_url: str, fault_report: list[str]
):
    """Redis (the bus between the processes, and socket.io's) is stopped while customer and agent keep
    writing: both are acknowledged (the messages are stored), and everything reaches the other side,
    once, when Redis is back; both processes keep answering meanwhile."""
    apps = two_processes
    await apps.agent_side.add_agent("Rhea Redis", ["General"])
    agent = await PortalAgent(apps.agent_side, "Rhea Redis").connect()
    customer = await ChainlitCustomer(apps.customer_side).connect()
    from_customer, from_agent = Counts(), Counts()
    customer_texts = [f"message {n} while redis is out" for n in range(3)]
    agent_texts = [f"reply {n} while redis is out" for n in range(3)]
    try:
        ticket = await escalate(customer, agent)
        assert (await agent.call("claim", {"ticket_id": ticket["id"]}))["ok"]
        await customer.text_shown("Rhea Redis joined the conversation")

        await apps.redis.stop()
        for text in customer_texts:
            before = len(customer.log.named("new_message"))
            await customer.say(text)
            from_customer.sent += 1
            await asyncio.sleep(0.3)  # a failure notice would come now
            notices = [
                m for m in customer.log.named("new_message")[before:] if "did not reach us" in (m["output"] or "")
            ]
            from_customer.acknowledged += not notices
        for text in agent_texts:
            ack = await agent.call("reply", {"ticket_id": ticket["id"], "text": text})
            from_agent.sent += 1
            from_agent.acknowledged += bool(ack["ok"])
        async with httpx.AsyncClient() as http:  # neither process hangs
            for running in (apps.customer_side, apps.agent_side):
                assert (await http.get(f"{running.base_url}/healthz", timeout=5)).status_code == 200
                assert (await http.get(f"{running.base_url}/readyz", timeout=5)).status_code == 503

        await apps.redis.start()
        for text in agent_texts:
            await customer.message_from("Rhea Redis", text, timeout=30)
        for text in customer_texts:
            await agent.log.wait_for("customer_message", lambda e, text=text: e["content"] == text, timeout=30)
        await asyncio.sleep(0.5)  # a duplicate would arrive in this time
        heard = [e["content"] for e in agent.log.named("customer_message")]
        shown = [m["output"] for m in customer.log.named("new_message") if m.get("name") == "Rhea Redis"]
        from_customer.delivered = sum(heard.count(text) == 1 for text in customer_texts)
        from_agent.delivered = sum(sum(text in output for output in shown) == 1 for text in agent_texts)
        from_customer.stored, _ = await _stored_once(
            postgres_admin_url, apps.database, customer.thread_id, customer_texts
        )
        from_agent.stored, _ = await _stored_once(postgres_admin_url, apps.database, customer.thread_id, agent_texts)
        fault_report.append(from_customer.line("Redis stopped and restarted", "customer -> agent"))
        fault_report.append(from_agent.line("Redis stopped and restarted", "agent -> customer"))
        assert from_customer == Counts(sent=3, acknowledged=3, delivered=3, stored=3)
        assert from_agent == Counts(sent=3, acknowledged=3, delivered=3, stored=3)
    finally:
        await customer.close()
        await agent.close()
